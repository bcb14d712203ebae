"""The three Python runtimes as the adapter tests see them: stand-in plus adapter classes.

The runtimes cannot run here, so each adapter is loaded against a stand-in of its runtime
(``tests/addon/standins/``): godot-python 0.50 from its documented contract, and
godot-python-extension (maiself) and py4godot modelled on their source code, each
behaviour citing the upstream file and commit. Every load is isolated: the stand-ins all
define top-level ``godot`` / ``py4godot`` packages and the adapters keep module state
(server registry, log handler), so each test gets fresh copies and leaves no trace.
Everything under the adapters is real: DTLS with godot_dtls over real UDP sockets.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import gc
import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

import godot_dtls.net  # noqa: F401 - imported before the stand-ins, which build on it
from godot_dtls import Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.tools.serve import EchoServer
from support.polling import poll_until

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests" / "addon" / "standins"
PACKAGE = "addons.godot_dtls.python"
MAISELF_PACKAGE = f"{PACKAGE}.godot_python_extension"
PY4GODOT_PEER_SCRIPT = "res://addons/godot_dtls/python/py4godot/PyPacketPeerDTLS.py"
PY4GODOT_SERVER_SCRIPT = "res://addons/godot_dtls/python/py4godot/PyDTLSServer.py"
V4 = "127.0.0.1"
DEADLINE = 10.0
OK = int(Error.OK)
INVALID = int(Error.ERR_INVALID_PARAMETER)
SIZES = (64, 1200, 16384)
_ISOLATED = ("godot", "py4godot", "addons")


def _is_isolated(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _ISOLATED)


@contextlib.contextmanager
def isolated_import(
    standin: str, modules: Sequence[str] = (), extra_path: Sequence[Path] = ()
) -> Iterator[list[ModuleType]]:
    """Import ``modules`` with one stand-in first on sys.path; restore everything after
    (modules, sys.path, the working directory, ``builtins.memoryview``, log handlers)."""
    saved_path = list(sys.path)
    saved_cwd = os.getcwd()
    saved_memoryview = builtins.memoryview
    saved = {name: module for name, module in sys.modules.items() if _is_isolated(name)}
    for name in saved:
        del sys.modules[name]
    sys.path[:0] = [str(STANDINS / standin), str(ROOT), *map(str, extra_path)]
    try:
        yield [importlib.import_module(name) for name in modules]
    finally:
        for name in [name for name in sys.modules if _is_isolated(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        builtins.memoryview = saved_memoryview  # type: ignore[misc]
        library_logger = logging.getLogger("godot_dtls")
        for handler in list(library_logger.handlers):
            if type(handler).__name__ == "_ForwardToEngine":
                library_logger.removeHandler(handler)
        gc.collect()


# ------------------------------------------------------------------- runtime descriptions


@dataclass
class Runtime:
    """One runtime's stand-in plus the adapter classes loaded against it."""

    name: str
    backend: str
    root: ModuleType
    peer_module: ModuleType
    server_module: ModuleType
    peer_cls: type
    server_cls: type
    new: Callable[[type], Any]
    gd_call: Callable[..., Any]
    make_udp: Callable[[], Any]
    make_udp_server: Callable[[], Any]
    udp_server_port: Callable[[Any], int]
    make_bytes: Callable[[bytes], Any]
    read_bytes: Callable[[Any], bytes]
    byte_array_type: type
    dictionary_type: type
    make_string_array: Callable[[list[str]], Any]
    watch_status: Callable[[Any], list[int]]
    errors: Callable[[], list[str]]
    escaped: Callable[[], list[str]] = field(default=lambda: [])
    engine_errors: Callable[[], list[str]] = field(default=lambda: [])
    exposed_methods: Callable[[type], list[str]] = field(default=lambda cls: [])
    #: GDScript lets go of its reference to an engine object (None: not modelled).
    drop: Callable[[Any], None] | None = None
    #: Script objects the facade keeps for reuse (runtimes that never free them).
    pooled: bool = False

    def call(self, obj: Any, name: str, *args: Any) -> Any:
        """A call from GDScript that must not end in a call error or an escaped exception."""
        escaped_before = len(self.escaped())
        result = self.gd_call(obj, name, *args)
        assert int(result.error) == 0, f"{name}{args!r} ended in call error {result.error!r}"
        assert len(self.escaped()) == escaped_before, self.escaped()[escaped_before:]
        return result.value

    def status(self, peer: Any) -> int:
        return self.call(peer, "get_status")


def maiself_runtime(
    build: str = "d01a302", engine_version: tuple[int, int, int] = (4, 3, 0)
) -> Iterator[Runtime]:
    """godot-python-extension at ``build``, with the classes registered the way the runtime
    does it: by importing the package the project's ``godot_dtls.pyextension`` names."""
    with isolated_import("maiself", ("godot",)) as (godot,):
        godot._configure(build, engine_version)
        godot.load_pyextensions(ROOT)
        module = sys.modules.get(f"{MAISELF_PACKAGE}.extension_classes") or sys.modules.get(
            MAISELF_PACKAGE
        )

        def watch_status(peer: Any) -> list[int]:
            seen: list[int] = []
            peer.status_changed.connect(seen.append)
            return seen

        def make_udp_server() -> Any:
            server = godot.UDPServer()
            assert server.listen(0, V4) == godot.OK
            return server

        def engine_errors() -> list[str]:
            return [text for kind, text in godot.messages if kind == "engine_error"]

        yield Runtime(
            name="maiself",
            backend="python:godot-python-extension",
            root=godot,
            peer_module=module,
            server_module=module,
            peer_cls=godot.class_db["PyPacketPeerDTLS"],
            server_cls=godot.class_db["PyDTLSServer"],
            new=godot._gd_new,
            gd_call=godot._gd_call,
            make_udp=godot.PacketPeerUDP,
            make_udp_server=make_udp_server,
            udp_server_port=lambda server: server.get_local_port(),
            make_bytes=godot.PackedByteArray,
            read_bytes=godot._standin_bytes,
            byte_array_type=godot.PackedByteArray,
            dictionary_type=godot.Dictionary,
            make_string_array=godot.PackedStringArray,
            watch_status=watch_status,
            errors=godot.errors,
            engine_errors=engine_errors,
            exposed_methods=lambda cls: list(cls._gd_methods),
        )
        assert engine_errors() == []


def py4godot_runtime(engine_version: tuple[int, int, int] = (4, 7, 0)) -> Iterator[Runtime]:
    """py4godot with both adapter scripts loaded the way the runtime loads a script."""
    names = (
        "py4godot",
        "py4godot.functions",
        "py4godot.classes.core",
        "py4godot.classes.PacketPeerUDP",
        "py4godot.classes.UDPServer",
        "py4godot.classes.Engine",
    )
    with isolated_import("py4godot", names) as modules:
        py4godot, functions, core, udp_module, server_udp_module, engine_module = modules
        engine_module.ENGINE_VERSION = engine_version
        peer_cls = py4godot.load_script(PY4GODOT_PEER_SCRIPT, ROOT)
        server_cls = py4godot.load_script(PY4GODOT_SERVER_SCRIPT, ROOT)
        assert peer_cls is not None and server_cls is not None, functions.messages

        def watch_status(peer: Any) -> list[int]:
            seen: list[int] = []
            peer.status_changed.connect(seen.append)
            return seen

        def make_udp_server() -> Any:
            server = server_udp_module.UDPServer.new()
            assert server.listen(0, V4) == OK
            return server

        def messages(kind: str) -> list[str]:
            return [text for what, text in functions.messages if what == kind]

        yield Runtime(
            name="py4godot",
            backend="python:py4godot",
            root=py4godot,
            peer_module=sys.modules[py4godot.script_module_name(PY4GODOT_PEER_SCRIPT)],
            server_module=sys.modules[py4godot.script_module_name(PY4GODOT_SERVER_SCRIPT)],
            peer_cls=peer_cls,
            server_cls=server_cls,
            new=py4godot._gd_new,
            gd_call=py4godot._gd_call,
            make_udp=udp_module.PacketPeerUDP.new,
            make_udp_server=make_udp_server,
            udp_server_port=lambda server: server.get_local_port(),
            make_bytes=lambda data: core.PackedByteArray.from_list(list(data)),
            read_bytes=lambda array: bytes(array._data),
            byte_array_type=core.PackedByteArray,
            dictionary_type=core.Dictionary,
            make_string_array=core.PackedStringArray._from_gdscript,
            watch_status=watch_status,
            errors=lambda: messages("push_error"),
            escaped=lambda: messages("print_error"),
            engine_errors=lambda: messages("engine_error"),
            exposed_methods=lambda cls: list(cls._py4godot_methods),
            drop=py4godot._gd_drop,
            pooled=True,
        )
        assert messages("engine_error") == []
        assert py4godot.use_after_free == []


# --------------------------------------------------------------------------------- helpers


def client_options(pki: Any, **extra: Any) -> dict[str, Any]:
    """The facade's options Dictionary, holding the test CA (plus ``extra`` keys)."""
    options: dict[str, Any] = {
        "mode": "client",
        "trusted_chain_pem": pki.ca.cert_pem.bytes().decode("ascii"),
    }
    options.update(extra)
    return options


def server_options(pki: Any) -> dict[str, str]:
    chain = b"".join(blob.bytes() for blob in pki.server_cert.cert_chain_pems)
    return {
        "key_pem": pki.server_cert.private_key_pem.bytes().decode("ascii"),
        "certificate_pem": chain.decode("ascii"),
    }


def pump(rt: Runtime, peers: Sequence[Any], until: Callable[[], bool], *others: Any) -> bool:
    """Poll the adapter peers (as GDScript calls them) and the godot_dtls parties until
    ``until()`` or the deadline."""
    polls = [functools.partial(rt.call, peer, "poll") for peer in peers]
    return until() or poll_until(*others, *polls, until=until, timeout=DEADLINE)


def connect_udp(rt: Runtime, port: int) -> Any:
    udp = rt.make_udp()
    assert int(udp.connect_to_host(V4, port)) == OK
    return udp


def echo_round_trip(rt: Runtime, peer: Any, echo: Any, size: int) -> None:
    payload = os.urandom(size)
    assert rt.call(peer, "put_packet", rt.make_bytes(payload)) == OK
    assert pump(rt, [peer], lambda: rt.call(peer, "get_available_packet_count") > 0, echo)
    packet = rt.call(peer, "get_packet")
    assert isinstance(packet, rt.byte_array_type)
    assert rt.read_bytes(packet) == payload
    assert rt.call(peer, "get_packet_error") == OK


def connected_peer(rt: Runtime, echo: Any, *connect_args: Any) -> Any:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "connect_to_peer", udp, *connect_args) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.CONNECTED, str(rt.call(peer, "get_last_error_message"))
    return peer


def handshake(rt: Runtime, port: int, hostname: str, options: Any, *others: Any) -> Any:
    """A new adapter peer whose handshake with ``port`` has ended (either way)."""
    udp = connect_udp(rt, port)
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "connect_to_peer", udp, hostname, options) == OK, str(
        rt.call(peer, "get_last_error_message")
    )
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, *others)
    return peer


@contextlib.contextmanager
def echo_server(options: TLSOptions) -> Iterator[EchoServer]:
    server = EchoServer(options, 0, V4)
    try:
        yield server
    finally:
        server.stop()


VALUE_TYPES = (type(None), bool, int, float, str)


def to_python(value: Any) -> Any:
    """A value returned to GDScript, as plain Python, read on the engine side (each
    stand-in keeps a container's contents in ``_items``); fails on anything that is not a
    Variant of the runtime (a Dictionary, an Array, a String or a scalar)."""
    name = type(value).__name__
    if name in ("GDString", "String", "StringName"):
        return str(value)
    if name == "Dictionary":
        return {to_python(key): to_python(item) for key, item in value._items.items()}
    if name in ("Array", "PoolStringArray", "PackedStringArray"):
        return [to_python(item) for item in value._items]
    assert type(value) in VALUE_TYPES, f"{value!r} is not a Variant value"
    return value


class AdapterEchoServer:
    """An echo server run through the server and peer adapters the way the facades drive
    them: a party for pump().

    Each UDP peer goes through ``take_connection`` (maiself's real class) or through a
    peer object's ``accept_connection`` with the server id (the other runtimes). Where the
    runtime never frees script objects (py4godot) the peer objects come from a pool,
    ``recycle()``d when their connection ends, and the UDP peer is dropped right after the
    call, as ``server.take_connection(udp_server.take_connection())`` does in GDScript.
    ``takes`` records the status each new peer had, ``peers`` keeps the live ones.
    """

    def __init__(self, rt: Runtime, options: Any) -> None:
        self.rt = rt
        self.server = rt.new(rt.server_cls)
        assert rt.call(self.server, "setup", options) == OK, rt.call(
            self.server, "get_last_error_message"
        )
        self.server_id = rt.call(self.server, "get_server_id")
        self.udp_server = rt.make_udp_server()
        self.port = rt.udp_server_port(self.udp_server)
        self.peers: list[Any] = []
        self.takes: list[int] = []
        self.pool: list[Any] = []

    def _peer_object(self) -> Any:
        return self.pool.pop() if self.pool else self.rt.new(self.rt.peer_cls)

    def _release(self, peer: Any) -> None:
        if self.rt.pooled:
            assert self.rt.call(peer, "recycle") == OK
            self.pool.append(peer)

    def poll(self) -> None:
        rt = self.rt
        self.udp_server.poll()
        while self.udp_server.is_connection_available():
            udp = self.udp_server.take_connection()
            if rt.name == "maiself":
                peer = rt.call(self.server, "take_connection", udp)
                assert isinstance(peer, rt.peer_cls)
            else:
                peer = self._peer_object()
                assert rt.call(peer, "accept_connection", self.server_id, udp) == OK
            if rt.drop is not None:
                rt.drop(udp)
            self.takes.append(rt.status(peer))
            if rt.status(peer) == Status.HANDSHAKING:
                self.peers.append(peer)
            else:
                self._release(peer)
        for peer in list(self.peers):
            rt.call(peer, "poll")
            while rt.status(peer) == Status.CONNECTED and (
                rt.call(peer, "get_available_packet_count") > 0
            ):
                packet = rt.call(peer, "get_packet")
                assert rt.call(peer, "put_packet", packet) == OK

    def connect(self, tls: TLSOptions, hostname: str = "localhost") -> PacketPeerDTLS:
        """A godot_dtls client connected to this server (the handshake is over)."""
        udp = PacketPeerUDP()
        assert udp.connect_to_host(V4, self.port) == Error.OK
        client = PacketPeerDTLS()
        assert client.connect_to_peer(udp, hostname, tls) == Error.OK
        assert pump(self.rt, [], lambda: client.get_status() != Status.HANDSHAKING, client, self)
        return client

    def stop(self) -> None:
        self.udp_server.stop()
