"""godot-python-extension (maiself) adapter: what only that runtime needs.

Registration through the project's ``godot_dtls.pyextension`` and the working directory,
an import that cannot abort Godot, the engine version check, Strings arriving as
``godot.String``, and byte arrays in each build of the runtime (its buffer protocol
changed twice). The stand-in models maiself's source (d01a302 and earlier builds); the
shared contract is in ``test_adapters.py``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from godot_dtls import Error, Status
from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    MAISELF_PACKAGE,
    OK,
    ROOT,
    SIZES,
    AdapterEchoServer,
    Runtime,
    client_options,
    connect_udp,
    echo_round_trip,
    isolated_import,
    maiself_runtime,
    pump,
    server_options,
    to_python,
)

BUILDS = ("alpha-2023-11", "0e6be29..83661eb", "d01a302")


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def mai(build: str) -> Iterator[Runtime]:
    yield from maiself_runtime(build)


def test_declaration_rules() -> None:
    with isolated_import("maiself", ("godot",)) as (godot,):
        godot.load_pyextensions(ROOT)
        module = sys.modules[f"{MAISELF_PACKAGE}.extension_classes"]
        assert godot.class_db["PyPacketPeerDTLS"] is module.PyPacketPeerDTLS
        assert godot.class_db["PyDTLSServer"] is module.PyDTLSServer
        assert module.PyPacketPeerDTLS._gd_constants == {
            "STATUS_DISCONNECTED": 0,
            "STATUS_HANDSHAKING": 1,
            "STATUS_CONNECTED": 2,
            "STATUS_ERROR": 3,
            "STATUS_ERROR_HOSTNAME_MISMATCH": 4,
        }
        assert module.PyPacketPeerDTLS._gd_signals == ["status_changed"]
        assert "take_connection" in module.PyDTLSServer._gd_methods
        peer = godot._gd_new(module.PyPacketPeerDTLS)  # __init__ runs (the base one)
        assert "_dtls_core" not in vars(peer)  # state is made on first use
        assert godot._gd_call(peer, "get_status").value == Status.DISCONNECTED
        assert "_dtls_core" in vars(peer)


def test_classes_register_only_from_a_pyextension_in_the_working_directory(
    tmp_path: Path,
) -> None:
    """The runtime globs ``*.pyextension`` in the process's working directory: the
    project folder in the editor, wherever an exported game was started from."""
    exported = tmp_path / "export"
    exported.mkdir()
    with isolated_import("maiself", ("godot",)) as (godot,):
        godot.load_pyextensions(exported)  # a game started from a folder without the file
        assert godot.class_db == {}
    with isolated_import("maiself", ("godot",)) as (godot,):
        shutil.copy(ROOT / "godot_dtls.pyextension", exported)  # the documented export step
        godot.load_pyextensions(exported)
        assert set(godot.class_db) == {"PyPacketPeerDTLS", "PyDTLSServer"}
        assert godot.errors() == []


@pytest.mark.parametrize("missing", ["godot_dtls", "OpenSSL"])
def test_a_missing_dependency_does_not_abort_godot(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while the runtime imports the package aborts the engine; the package
    must instead register nothing and say what is missing."""
    with isolated_import("maiself", ("godot",)) as (godot,):
        if missing != "godot_dtls":  # godot_dtls is imported again, and needs it
            for name in [name for name in sys.modules if name.startswith("godot_dtls")]:
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, missing, None)  # "import halted": not installed
        godot.load_pyextensions(ROOT)  # StandinAbort would escape here
        assert godot.class_db == {}
        (message,) = godot.errors()
        assert "the Python backend is off" in message and "site-packages" in message
        assert missing in message


def test_an_engine_older_than_4_3_registers_nothing_and_says_why() -> None:
    with isolated_import("maiself", ("godot",)) as (godot,):
        godot._configure("d01a302", (4, 2, 2))
        godot.load_pyextensions(ROOT)
        assert godot.class_db == {}
        (message,) = godot.errors()
        assert "needs Godot 4.3 or newer, this is Godot 4.2.2" in message
        assert "Traceback" not in message


def test_strings_and_string_names_are_accepted_everywhere(
    mai: Runtime, pki: Any, echo: EchoServer
) -> None:
    """A String argument, Dictionary key or value and Array item arrives as
    ``godot.String`` (a StringName as ``godot.StringName``), never as ``str``."""
    godot = mai.root
    udp = connect_udp(mai, echo.port)
    peer = mai.new(mai.peer_cls)
    options = {
        "mode": godot.StringName("client"),
        "trusted_chain_pem": client_options(pki)["trusted_chain_pem"],
        "alpn": [godot.StringName("game/1"), "game/2"],
    }
    hostname = godot.StringName("localhost")
    assert mai.call(peer, "connect_to_peer", udp, hostname, options) == OK
    assert pump(mai, [peer], lambda: mai.status(peer) != Status.HANDSHAKING, echo)
    assert mai.status(peer) == Status.CONNECTED, mai.call(peer, "get_last_error_message")


def test_byte_arrays_cross_in_every_build(mai: Runtime, pki: Any, echo: EchoServer) -> None:
    """Builds from 0e6be29 to 83661eb answer ``bytes()`` / ``memoryview()`` of a
    PackedByteArray with RecursionError, the 2023 alpha has no buffer protocol."""
    udp = connect_udp(mai, echo.port)
    peer = mai.new(mai.peer_cls)
    assert mai.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(mai, [peer], lambda: mai.status(peer) != Status.HANDSHAKING, echo)
    assert mai.status(peer) == Status.CONNECTED, mai.call(peer, "get_last_error_message")
    for size in SIZES:
        echo_round_trip(mai, peer, echo, size)
    empty = mai.call(peer, "get_packet")  # nothing queued: an empty array back
    assert isinstance(empty, mai.byte_array_type) and mai.read_bytes(empty) == b""
    assert mai.call(peer, "put_packet", mai.make_bytes(b"")) == OK
    assert mai.errors() == []


def test_the_server_side_in_every_build(mai: Runtime, pki: Any) -> None:
    serving = AdapterEchoServer(mai, server_options(pki))
    try:
        client = serving.connect(pki.client_options())
        assert client.get_status() == Status.CONNECTED
        assert serving.takes == [Status.ERROR, Status.HANDSHAKING]
        assert client.put_packet(b"hello") == OK
        assert pump(mai, [], lambda: client.get_available_packet_count() > 0, client, serving)
        assert client.get_packet() == b"hello"
    finally:
        serving.stop()


def test_empty_strings_count_as_unset_in_every_build(mai: Runtime, echo: EchoServer) -> None:
    """What the facade sends for ``TLSOptions.client_unsafe()``: an empty
    ``common_name_override``, which mode client_unsafe refuses when it is set. Before
    d01a302 ``len(godot.String(""))`` raises TypeError and an empty String is truthy."""
    udp = connect_udp(mai, echo.port)
    peer = mai.new(mai.peer_cls)
    options = {"mode": "client_unsafe", "trusted_chain_pem": "", "common_name_override": ""}
    assert mai.call(peer, "connect_to_peer", udp, "anything", options) == OK
    assert pump(mai, [peer], lambda: mai.status(peer) != Status.HANDSHAKING, echo)
    assert mai.status(peer) == Status.CONNECTED


def test_stats_come_back_as_a_godot_dictionary(mai: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(mai, echo.port)
    peer = mai.new(mai.peer_cls)
    options = client_options(pki, alpn=["game/1"])
    assert mai.call(peer, "connect_to_peer", udp, "localhost", options) == OK
    assert pump(mai, [peer], lambda: mai.status(peer) != Status.HANDSHAKING, echo)
    stats = mai.call(peer, "get_stats")
    assert isinstance(stats, mai.dictionary_type)
    assert to_python(stats)["version"] == "DTLSv1.2"


def test_put_packet_reads_the_bytes_in_every_build(mai: Runtime) -> None:
    """The byte conversion alone, before any String is involved: an unconnected peer
    refuses the packet for being unconnected, not for a failed conversion."""
    peer = mai.new(mai.peer_cls)
    assert mai.call(peer, "put_packet", mai.make_bytes(b"early")) == int(Error.ERR_UNCONFIGURED)
    assert not any("RecursionError" in message for message in mai.errors())
