"""py4godot adapter: what only that runtime needs.

Scripts loaded under py4godot's module names, containers read with ``get``, a UDP peer
that arrives without a reference kept alive by the adapter, byte arrays built without the
leaking ``from_memory_view``, script objects reused instead of leaked, and the version
check. The stand-in models py4godot's source (d8e17428, 4.7-alpha21); the shared contract
is in ``test_adapters.py``.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Iterator

import pytest

from godot_dtls import Status
from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    OK,
    PY4GODOT_PEER_SCRIPT,
    PY4GODOT_SERVER_SCRIPT,
    ROOT,
    SIZES,
    AdapterEchoServer,
    Runtime,
    client_options,
    connect_udp,
    echo_round_trip,
    isolated_import,
    pump,
    py4godot_runtime,
    server_options,
    to_python,
)

SCRIPTS = (PY4GODOT_PEER_SCRIPT, PY4GODOT_SERVER_SCRIPT)


@pytest.fixture
def p4g() -> Iterator[Runtime]:
    yield from py4godot_runtime()


def test_scripts_load_under_py4godot_module_names(p4g: Runtime) -> None:
    """``res://addons/godot_dtls/python/py4godot/X.py`` runs as module
    ``addons.godot_dtlsthon4godot.X``: only absolute imports can work there."""
    py4godot = p4g.root
    for script, cls in zip(SCRIPTS, (p4g.peer_cls, p4g.server_cls)):
        name = py4godot.script_module_name(script)
        assert name.startswith("addons.godot_dtlsthon4godot.")
        assert cls.__module__ == name and cls.__name__ == name.rsplit(".", 1)[1]
        assert "addons.godot_dtlsthon4godot" not in sys.modules  # no such package
        assert cls._py4godot_properties == []  # internal state stays _underscored
    ((name, arguments),) = p4g.peer_cls._py4godot_signals
    assert (name, [(a.name, a.type) for a in arguments]) == ("status_changed", [("status", int)])
    assert p4g.server_cls._py4godot_signals == []
    assert p4g.escaped() == [] and p4g.errors() == []


def test_state_is_plain_python_until_the_engine_object_is_attached(p4g: Runtime) -> None:
    peer = p4g.new(p4g.peer_cls)  # __init__ ran with object creation switched off
    assert peer._dtls_core is None
    assert p4g.call(peer, "get_status") == Status.DISCONNECTED
    assert peer._dtls_core is not None


def test_string_names_and_packed_string_arrays_are_read(
    p4g: Runtime, pki: Any, echo: EchoServer
) -> None:
    """A StringName arrives as ``core.StringName``, a PackedStringArray item read with
    ``[i]`` as ``core.String``; an Array item read with ``[i]`` is None."""
    core = sys.modules["py4godot.classes.core"]
    udp = connect_udp(p4g, echo.port)
    peer = p4g.new(p4g.peer_cls)
    options = {
        **client_options(pki),
        "alpn": p4g.make_string_array(["game/1"]),
        "common_name_override": core.StringName("localhost"),
    }
    assert p4g.call(peer, "connect_to_peer", udp, core.StringName("game.example"), options) == OK
    assert pump(p4g, [peer], lambda: p4g.status(peer) != Status.HANDSHAKING, echo)
    assert p4g.status(peer) == Status.CONNECTED, p4g.call(peer, "get_last_error_message")


def test_no_buffer_leaks_per_datagram(p4g: Runtime, pki: Any, echo: EchoServer) -> None:
    """``PackedByteArray.from_memory_view`` never releases the buffer it reads."""
    core = sys.modules["py4godot.classes.core"]
    udp = connect_udp(p4g, echo.port)
    peer = p4g.new(p4g.peer_cls)
    assert p4g.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(p4g, [peer], lambda: p4g.status(peer) != Status.HANDSHAKING, echo)
    for size in SIZES:
        echo_round_trip(p4g, peer, echo, size)
    assert core.leaked_buffers == []


def test_a_udp_peer_the_script_drops_stays_alive_while_used(
    p4g: Runtime, pki: Any, echo: EchoServer
) -> None:
    """An object argument holds no reference: the adapter keeps one while the connection
    uses the peer, and gives it back when the connection ends."""
    udp = connect_udp(p4g, echo.port)
    peer = p4g.new(p4g.peer_cls)
    assert p4g.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    engine_udp = udp._live()
    p4g.drop(udp)  # the script's variable goes out of scope
    assert not engine_udp.freed and engine_udp.refcount == 1  # the adapter's reference
    assert pump(p4g, [peer], lambda: p4g.status(peer) != Status.HANDSHAKING, echo)
    assert p4g.status(peer) == Status.CONNECTED
    echo_round_trip(p4g, peer, echo, 1200)
    assert p4g.call(peer, "disconnect_from_peer") == OK
    gc.collect()
    assert engine_udp.freed  # given back: Godot freed it, nothing leaks
    assert p4g.root.use_after_free == []


def test_a_refused_udp_peer_is_not_kept(p4g: Runtime, pki: Any) -> None:
    udp = p4g.make_udp()  # never connected: refused before any use
    peer = p4g.new(p4g.peer_cls)
    assert p4g.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) != OK
    gc.collect()
    assert udp.get_reference_count() == 1  # only the script's own


def test_peer_objects_are_recycled_not_leaked(p4g: Runtime, pki: Any) -> None:
    """py4godot never frees a script object: a pool with ``recycle()`` makes a cookie
    exchange cost no new object, and a server at most one per live connection."""
    instances = p4g.root.instantiated_classes
    serving = AdapterEchoServer(p4g, server_options(pki))
    try:
        before = len(instances)
        for _ in range(4):
            client = serving.connect(pki.client_options())
            assert client.get_status() == Status.CONNECTED
            client.disconnect_from_peer()
            assert pump(p4g, [], lambda: p4g.status(serving.peers[-1]) != Status.CONNECTED, serving)
            finished = serving.peers.pop()
            serving._release(finished)
        assert serving.takes == [Status.ERROR, Status.HANDSHAKING] * 4
        assert len(instances) - before == 1  # one peer object served all eight takes
    finally:
        serving.stop()


def test_recycle_forgets_the_last_connection(p4g: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(p4g, echo.port)
    peer = p4g.new(p4g.peer_cls)
    assert p4g.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(p4g, [peer], lambda: p4g.status(peer) != Status.HANDSHAKING, echo)
    echo_round_trip(p4g, peer, echo, 64)
    assert p4g.call(peer, "recycle") == OK
    assert pump(p4g, [], lambda: not echo.peers, echo)  # close_notify reached the server
    assert p4g.status(peer) == Status.DISCONNECTED
    assert to_python(p4g.call(peer, "get_stats")) == {}
    assert str(p4g.call(peer, "get_last_error_message")) == ""
    udp = connect_udp(p4g, echo.port)  # the same object connects again
    assert p4g.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(p4g, [peer], lambda: p4g.status(peer) != Status.HANDSHAKING, echo)
    assert p4g.status(peer) == Status.CONNECTED


def test_a_recycled_server_gets_a_new_id(p4g: Runtime, pki: Any) -> None:
    server = p4g.new(p4g.server_cls)
    assert p4g.call(server, "setup", server_options(pki)) == OK
    old_id = p4g.call(server, "get_server_id")
    assert p4g.call(server, "recycle") == OK
    assert p4g.call(server, "get_server_id") != old_id
    peer = p4g.new(p4g.peer_cls)
    udp = p4g.make_udp()
    assert p4g.call(peer, "accept_connection", old_id, udp) != OK
    assert "no PyDTLSServer with id" in str(p4g.call(peer, "get_last_error_message"))


@pytest.mark.parametrize("version", [(4, 2, 2), (4, 3, 0), (4, 7, 0)])
def test_the_engine_version_is_checked_when_the_scripts_load(
    version: tuple[int, int, int],
) -> None:
    names = ("py4godot", "py4godot.functions", "py4godot.classes.Engine")
    with isolated_import("py4godot", names) as (py4godot, functions, engine_module):
        engine_module.ENGINE_VERSION = version
        loaded = [py4godot.load_script(script, ROOT) for script in SCRIPTS]
        errors = [text for kind, text in functions.messages if kind == "push_error"]
        if version < (4, 3, 0):
            assert loaded == [None, None]  # the facade then falls back and says why
            assert len(errors) == 2
            assert all("needs Godot 4.3 or newer, this is Godot 4.2.2" in e for e in errors)
        else:
            assert None not in loaded and errors == []


def test_a_release_without_get_memory_view_is_refused() -> None:
    """py4godot before 4.5-alpha8 has no ``PackedByteArray.get_memory_view``."""
    names = ("py4godot", "py4godot.functions", "py4godot.classes.core")
    with isolated_import("py4godot", names) as (py4godot, functions, core):
        del core.PackedByteArray.get_memory_view
        assert py4godot.load_script(PY4GODOT_PEER_SCRIPT, ROOT) is None
        errors = [text for kind, text in functions.messages if kind == "push_error"]
        assert any("needs py4godot 4.5-alpha8 or newer" in error for error in errors)
