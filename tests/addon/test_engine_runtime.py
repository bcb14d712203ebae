"""``godot_dtls.engine.Runtime``: the one door every engine value comes through.

Checked with the Godot 4 stand-ins' own types (a maiself ``godot.String``, py4godot's
Array whose ``[]`` gives None), so each rule is tested against a value that breaks it.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from godot_dtls import engine
from support.adapter_runtimes import isolated_import


@pytest.fixture
def maiself() -> Iterator[Any]:
    with isolated_import("maiself", ("godot",)) as (godot,):
        yield godot


@pytest.fixture
def core() -> Iterator[Any]:
    with isolated_import("py4godot", ("py4godot", "py4godot.classes.core")) as (_, module):
        yield module


def test_runtime_strings_become_str_and_other_values_are_retained(maiself: Any) -> None:
    retained: list[Any] = []
    runtime = engine.Runtime(
        "test",
        log_error=lambda message: None,
        string_types=(str, maiself.String, maiself.StringName),
        retain=retained.append,
    )
    for value in (maiself.String("a"), maiself.StringName("a"), "a"):
        received = runtime.receive(value)
        assert type(received) is str and received == "a"
    udp = maiself.PacketPeerUDP()
    assert runtime.receive(udp) is udp and runtime.receive(None) is None
    assert runtime.receive(7) == 7 and runtime.receive([1]) == [1]
    assert retained == [udp]  # plain values and strings are never handed to retain


def test_containers_are_read_with_the_runtimes_operations(maiself: Any, core: Any) -> None:
    by_index = engine.Runtime(
        "maiself",
        log_error=lambda message: None,
        string_types=(str, maiself.String),
        containers=engine.READ_BY_INDEX,
    )
    dictionary = maiself.Dictionary({"alpn": ["game/1"], "mode": "client"})
    assert by_index.keys(dictionary) == ["alpn", "mode"]  # never `in` or iteration
    assert by_index.items(by_index.value(dictionary, "alpn")) == ["game/1"]
    assert by_index.value(dictionary, "absent") is None  # never dictionary[missing]

    by_getters = engine.Runtime(
        "py4godot",
        log_error=lambda message: None,
        string_types=(str, core.String, core.StringName),
        containers=engine.READ_BY_GETTERS,
    )
    array = core.Array._from_gdscript(["game/1", "game/2"])
    assert array[0] is None  # what [] would give
    assert by_getters.items(array) == ["game/1", "game/2"]
    py4_dictionary = core.Dictionary._from_gdscript({"mode": "client"})
    assert by_getters.keys(py4_dictionary) == ["mode"]
    assert by_getters.value(py4_dictionary, "absent") is None  # never a KeyError
    assert by_getters.items(core.PackedStringArray._from_gdscript(["p"])) == ["p"]


def test_a_hold_is_released_once_and_never_raises() -> None:
    released: list[str] = []
    reported: list[str] = []

    def keep_alive(obj: Any) -> Any:
        def release() -> None:
            released.append(obj)
            raise RuntimeError("engine gone")

        return release

    runtime = engine.Runtime("test", log_error=reported.append, keep_alive=keep_alive)
    let_go = runtime.hold("udp")
    assert released == []
    let_go()  # from a finaliser: must not raise
    assert released == ["udp"] and "engine gone" in reported[0]
    assert engine.Runtime("plain", log_error=print).hold("udp")() is None


def test_the_godot_version_check(core: Any) -> None:
    runtime = engine.Runtime("python:test", log_error=lambda message: None)
    engine.check_godot({"major": 4, "minor": 3, "patch": 0}, runtime)
    with pytest.raises(engine.UnsupportedRuntime, match=r"needs Godot 4\.3 or newer.*4\.2\.9"):
        engine.check_godot({"major": 4, "minor": 2, "patch": 9}, runtime)
    with pytest.raises(engine.UnsupportedRuntime, match=r"this is Godot 0\.0\.0"):
        engine.check_godot({"major": "4"}, runtime)  # unreadable: refused, not guessed
    by_getters = engine.Runtime(
        "python:py4godot", log_error=lambda message: None, containers=engine.READ_BY_GETTERS
    )
    info = core.Dictionary._from_gdscript({"major": 4, "minor": 7, "patch": 1})
    assert engine.godot_version(info, by_getters) == (4, 7, 1)
