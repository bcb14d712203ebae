"""The Godot 4 stand-ins behave as the runtimes' sources say: never kinder.

Each test pins one behaviour the stand-in models from the upstream code (maiself
godot-python-extension d01a302 and earlier builds; py4godot d8e17428), so a stand-in made
kinder than the runtime fails here before it can hide an adapter bug. The upstream file
of each behaviour is named in the stand-in's own comments.
"""

from __future__ import annotations

import collections.abc
from typing import Any, Iterator

import pytest

from support.adapter_runtimes import ROOT, isolated_import

MAISELF_BUILDS = ("alpha-2023-11", "0e6be29..83661eb", "d01a302")


@pytest.fixture
def godot() -> Iterator[Any]:
    with isolated_import("maiself", ("godot",)) as (module,):
        yield module


@pytest.fixture
def py4godot() -> Iterator[Any]:
    names = ("py4godot", "py4godot.classes.core", "py4godot.classes.PacketPeerUDP")
    with isolated_import("py4godot", names) as modules:
        yield modules


# ------------------------------------------------------------------------------ maiself


def test_maiself_strings_are_not_str_and_hash_by_identity(godot: Any) -> None:
    text = godot.String("mode")
    assert not isinstance(text, str) and str(text) == "mode"
    assert text == "mode" and text == "mode" and text == godot.String("mode")
    assert text in ("mode", "other")  # tuple membership compares with ==
    assert text not in {"mode"} and {"mode": 1}.get(text) is None  # identity hash
    assert not isinstance(godot.StringName("x"), str)


@pytest.mark.parametrize("build", MAISELF_BUILDS)
def test_maiself_string_length_depends_on_the_build(godot: Any, build: str) -> None:
    godot._configure(build)
    empty = godot.String("")
    if build == "d01a302":
        assert len(empty) == 0 and not empty
    else:
        with pytest.raises(TypeError):
            len(empty)
        assert bool(empty)  # an empty String is truthy before d01a302


def test_maiself_a_call_delivers_strings_as_godot_strings(godot: Any) -> None:
    received: list[Any] = []

    @godot.register_extension_class
    class Probe(godot.RefCounted, expose_all_methods=True):
        def take(self, *values: Any) -> int:
            received.extend(values)
            return 0

    probe = godot._gd_new(Probe)
    assert godot._gd_call(probe, "take", "a", {"k": "v"}, ["i"]).value == 0
    text, dictionary, array = received
    assert type(text) is godot.String
    (key,) = [dictionary.keys()[index] for index in range(len(dictionary))]
    assert type(key) is godot.String and type(dictionary.get("k")) is godot.String
    assert type(array[0]) is godot.String
    assert type(godot.PackedStringArray(["p"])[0]) is str  # the one place items are str


def test_maiself_dictionary_membership_iteration_and_missing_keys(godot: Any) -> None:
    dictionary = godot.Dictionary({"mode": "client"})
    assert ("mode" in dictionary) is False  # __contains__ returns nothing
    assert dictionary.has("mode") and dictionary.get("absent", None) is None
    with pytest.raises(godot.StandinCrash):
        dictionary["absent"]  # a null dereference on release templates
    with pytest.raises(godot.StandinCrash):
        list(dictionary)  # no __iter__: iteration asks for dictionary[0]


@pytest.mark.parametrize("build", MAISELF_BUILDS)
def test_maiself_dictionary_is_a_mapping_from_0e6be29(godot: Any, build: str) -> None:
    godot._configure(build)
    is_mapping = isinstance(godot.Dictionary(), collections.abc.Mapping)
    assert is_mapping is (build != "alpha-2023-11")


def test_maiself_array_index_bounds(godot: Any) -> None:
    array = godot.Array(["a", "b"])
    assert str(array[1]) == "b" and len(array) == array.size() == 2
    with pytest.raises(IndexError):
        array[-1]  # ``len - index``: the runtime's bounds check is wrong for negatives
    assert [str(item) for item in array] == ["a", "b"]  # iteration ends at IndexError


@pytest.mark.parametrize("build", MAISELF_BUILDS)
def test_maiself_byte_arrays_in_each_build(godot: Any, build: str) -> None:
    godot._configure(build)
    array = godot.PackedByteArray(b"\x01\x02")
    assert not isinstance(array, (bytes, bytearray))
    assert array.hex_encode() == "0102" and array.size() == 2
    if build == "alpha-2023-11":
        with pytest.raises(TypeError):
            memoryview(array)
        assert bytes(array) == b"\x01\x02"  # by iteration
        assert not hasattr(godot, "writable_memoryview")
    elif build == "0e6be29..83661eb":
        with pytest.raises(RecursionError):
            memoryview(array)
        with pytest.raises(RecursionError):
            bytes(array)
        assert not hasattr(godot, "writable_memoryview")
    else:
        view = memoryview(array)
        assert bytes(view) == b"\x01\x02" and view.readonly
        godot.writable_memoryview(array)[0] = 9
        assert godot._standin_bytes(array) == b"\x09\x02"


def test_maiself_registration_needs_the_pyextension_in_the_working_directory(
    godot: Any, tmp_path: Any
) -> None:
    godot.load_pyextensions(tmp_path)
    assert godot.class_db == {}
    (tmp_path / "broken.pyextension").write_text(
        '[configuration]\n\npython_package = "no_such_package_here"\n'
    )
    with pytest.raises(godot.StandinAbort):
        godot.load_pyextensions(tmp_path)


def test_maiself_engine_version(godot: Any) -> None:
    godot._configure("d01a302", (4, 5, 1))
    info = godot.Engine.get_version_info()
    assert (info.get("major"), info.get("minor"), info.get("patch")) == (4, 5, 1)
    assert type(info.keys()[0]) is godot.String


# ----------------------------------------------------------------------------- py4godot


def test_py4godot_array_items_are_none_except_through_get(py4godot: Any) -> None:
    _, core, _ = py4godot
    array = core.Array._from_gdscript(["a", "b"])
    assert array[0] is None and array[-1] is None  # generate_array_get_item returns early
    assert list(array) == [None, None]
    assert array.get(1) == "b" and type(array.get(1)) is str
    with pytest.raises(IndexError):
        array[2]


def test_py4godot_packed_string_array_items(py4godot: Any) -> None:
    _, core, _ = py4godot
    array = core.PackedStringArray._from_gdscript(["pin"])
    item = array[0]
    assert type(item) is core.String and str(item) == "pin"
    assert [type(value) for value in array] == [core.String]
    assert type(array.get(0)) is str


def test_py4godot_dictionary_membership_and_missing_keys(py4godot: Any) -> None:
    _, core, _ = py4godot
    dictionary = core.Dictionary._from_gdscript({"mode": "client"})
    with pytest.raises(KeyError):
        "mode" in dictionary  # noqa: B015 - no __contains__: dictionary[0] is asked
    with pytest.raises(KeyError):
        dictionary["absent"]
    assert dictionary.get("mode") == "client" and dictionary.get("absent") is None
    assert list(dictionary.keys()) == [None]  # keys() is an Array
    assert dictionary.keys().get(0) == "mode"


def test_py4godot_from_memory_view_leaks_its_buffer(py4godot: Any) -> None:
    _, core, _ = py4godot
    data = bytearray(b"datagram")
    array = core.PackedByteArray.from_memory_view(memoryview(data))
    assert bytes(array.get_memory_view()) == b"datagram"
    assert len(core.leaked_buffers) == 1
    with pytest.raises(BufferError):
        data.extend(b"!")  # the export is still held
    with pytest.raises(TypeError):
        memoryview(array)  # no buffer protocol of its own


def test_py4godot_object_arguments_hold_no_reference(py4godot: Any) -> None:
    root, core, udp_module = py4godot
    udp = udp_module.PacketPeerUDP.new()
    argument = root._argument(udp)  # as a script method receives it
    assert argument is not udp and argument.casted_from == 1
    assert udp.get_reference_count() == 1  # only the script's
    holder = core.Array.new0()
    holder.append(argument)  # a Variant holds a real reference
    assert udp.get_reference_count() == 2
    root._gd_drop(udp)
    assert argument.get_reference_count() == 1
    holder.clear()  # the last reference: Godot frees the object
    with pytest.raises(root.StandinUseAfterFree):
        argument.is_socket_connected()
    assert root.use_after_free == ["PacketPeerUDP #1"] or len(root.use_after_free) == 1


def test_py4godot_scripts_are_never_freed_and_failed_ones_are_plain_objects(
    py4godot: Any, tmp_path: Any
) -> None:
    root, _, _ = py4godot
    (tmp_path / "Broken.py").write_text("from . import sibling\n")
    assert root.load_script("res://Broken.py", tmp_path) is None  # a relative import fails
    plain = root._gd_new(None)
    assert type(plain).__name__ == "Object" and not hasattr(plain, "get_backend")
    assert root.instantiated_classes == [plain]
    assert root.script_module_name("res://addons/godot_dtls/python/X.py") == (
        "addons.godot_dtlsthon.X"
    )
    assert ROOT.is_dir()
