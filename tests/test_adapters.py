"""Engine adapters (addons/godot_dtls/python/) called the way each Python runtime calls them.

The runtimes cannot run here, so each adapter module is imported against a stand-in of its
runtime (tests/standins/, written from shared/spec/python-runtimes.md), loaded in
isolation: the stand-ins check the runtime contract (declaration rules, boundary types,
what happens to exceptions and return values). Everything under the adapters is real:
DTLS with godot_dtls over real UDP sockets on 127.0.0.1, against an EchoServer or a
godot_dtls client. Every wait is a deadline-bounded poll loop.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Sequence

import pytest

import godot_dtls.udp  # noqa: F401 - imported before the stand-ins, which build on it
from godot_dtls import Error, PacketPeerDTLS, PacketPeerUDP, Status
from godot_dtls.echo import EchoServer

ROOT = Path(__file__).resolve().parents[1]
STANDINS = Path(__file__).resolve().parent / "standins"
ADDON = ROOT / "addons" / "godot_dtls" / "python"
PACKAGE = "addons.godot_dtls.python"
V4 = "127.0.0.1"
DEADLINE = 10.0
OK = int(Error.OK)
INVALID = int(Error.ERR_INVALID_PARAMETER)
SIZES = (64, 1200, 16384)
_ISOLATED = ("godot", "py4godot", "addons", "dtls_bridge", "godot_dtls_gd4")


def _is_isolated(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in _ISOLATED)


@contextlib.contextmanager
def isolated_import(
    standin: str, modules: Sequence[str], extra_path: Sequence[Path] = ()
) -> Iterator[List[ModuleType]]:
    """Import ``modules`` with one stand-in first on sys.path; restore everything after.

    The three stand-ins all define top-level ``godot`` / ``py4godot`` packages and the
    adapters keep module state (server registry, log handler), so each test gets fresh
    copies and leaves no trace for the next one.
    """
    saved_path = list(sys.path)
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
        library_logger = logging.getLogger("godot_dtls")
        for handler in list(library_logger.handlers):
            if type(handler).__name__ == "_ForwardToEngine":
                library_logger.removeHandler(handler)
        gc.collect()


# ------------------------------------------------------------------- runtime descriptions


@dataclass
class Runtime:
    """One runtime's stand-in plus the adapter classes imported against it."""

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
    watch_status: Callable[[Any], List[int]]
    errors: Callable[[], List[str]]
    escaped: Callable[[], List[str]] = field(default=lambda: [])
    exposed_methods: Callable[[type], List[str]] = field(default=lambda cls: [])

    def call(self, obj: Any, name: str, *args: Any) -> Any:
        """A call from GDScript that must not end in a call error or an escaped exception."""
        escaped_before = len(self.escaped())
        result = self.gd_call(obj, name, *args)
        assert int(result.error) == 0, f"{name}{args!r} ended in call error {result.error!r}"
        assert len(self.escaped()) == escaped_before, self.escaped()[escaped_before:]
        return result.value

    def status(self, peer: Any) -> int:
        return self.call(peer, "get_status")


def _godot_python(capsys: pytest.CaptureFixture[str]) -> Iterator[Runtime]:
    names = ("godot", f"{PACKAGE}.gp_adapter", f"{PACKAGE}.gp_dtls_server")
    with isolated_import("godot_python", names) as (godot, peer_module, server_module):
        stderr: List[str] = []

        def errors() -> List[str]:
            stderr.append(capsys.readouterr().err)
            return "".join(stderr).splitlines()

        class Recorder(godot.Reference):
            def __init__(self) -> None:
                super().__init__()
                self.seen: List[int] = []

            def on_status(self, status: int) -> None:
                self.seen.append(status)

        recorders: List[Any] = []

        def watch_status(peer: Any) -> List[int]:
            recorder = Recorder()
            recorders.append(recorder)
            assert peer.connect("status_changed", recorder, "on_status") == godot.OK
            return recorder.seen

        def make_udp_server() -> Any:
            server = godot.UDPServer()
            assert server.listen(0, V4) == godot.OK
            return server

        yield Runtime(
            name="godot_python",
            backend="python:godot-python",
            root=godot,
            peer_module=peer_module,
            server_module=server_module,
            peer_cls=peer_module.PyPacketPeerDTLS,
            server_cls=server_module.PyDTLSServer,
            new=godot._gd_new,
            gd_call=godot._gd_call,
            make_udp=godot.PacketPeerUDP,
            make_udp_server=make_udp_server,
            udp_server_port=lambda server: server._local_port(),
            make_bytes=godot.PoolByteArray,
            read_bytes=bytes,
            byte_array_type=godot.PoolByteArray,
            watch_status=watch_status,
            errors=errors,
            exposed_methods=lambda cls: list(cls._gd_methods),
        )
        assert godot.conversion_warnings == []


def _maiself() -> Iterator[Runtime]:
    names = ("godot", f"{PACKAGE}.godot_dtls_gd4")
    with isolated_import("maiself", names) as (godot, module):

        def watch_status(peer: Any) -> List[int]:
            seen: List[int] = []
            peer.status_changed.connect(seen.append)
            return seen

        def make_udp_server() -> Any:
            server = godot.UDPServer()
            assert server.listen(0, V4) == godot.OK
            return server

        yield Runtime(
            name="maiself",
            backend="python:godot-python-extension",
            root=godot,
            peer_module=module,
            server_module=module,
            peer_cls=module.PyPacketPeerDTLS,
            server_cls=module.PyDTLSServer,
            new=godot._gd_new,
            gd_call=godot._gd_call,
            make_udp=godot.PacketPeerUDP,
            make_udp_server=make_udp_server,
            udp_server_port=lambda server: server.get_local_port(),
            make_bytes=godot.PackedByteArray,
            read_bytes=lambda array: bytes(memoryview(array)),
            byte_array_type=godot.PackedByteArray,
            watch_status=watch_status,
            errors=godot.errors,
            exposed_methods=lambda cls: list(cls._gd_methods),
        )


def _py4godot() -> Iterator[Runtime]:
    names = (
        "py4godot",
        "py4godot.functions",
        "py4godot.classes.core",
        "py4godot.classes.PacketPeerUDP",
        "py4godot.classes.UDPServer",
        f"{PACKAGE}.PyPacketPeerDTLS",
        f"{PACKAGE}.PyDTLSServer",
    )
    with isolated_import("py4godot", names) as modules:
        py4godot, functions, core, udp_module, server_udp_module, peer_module, server_module = (
            modules
        )

        def watch_status(peer: Any) -> List[int]:
            seen: List[int] = []
            peer.status_changed.connect(seen.append)
            return seen

        def make_udp_server() -> Any:
            server = server_udp_module.UDPServer.new()
            assert server.listen(0, V4) == OK
            return server

        def messages(kind: str) -> List[str]:
            return [text for what, text in functions.messages if what == kind]

        yield Runtime(
            name="py4godot",
            backend="python:py4godot",
            root=py4godot,
            peer_module=peer_module,
            server_module=server_module,
            peer_cls=peer_module.PyPacketPeerDTLS,
            server_cls=server_module.PyDTLSServer,
            new=py4godot._gd_new,
            gd_call=py4godot._gd_call,
            make_udp=udp_module.PacketPeerUDP.new,
            make_udp_server=make_udp_server,
            udp_server_port=lambda server: server.get_local_port(),
            make_bytes=lambda data: core.PackedByteArray.from_list(list(data)),
            read_bytes=lambda array: bytes(array.get_memory_view()),
            byte_array_type=core.PackedByteArray,
            watch_status=watch_status,
            errors=lambda: messages("push_error"),
            escaped=lambda: messages("print_error"),
            exposed_methods=lambda cls: list(cls._py4godot_methods),
        )


@pytest.fixture(params=["godot_python", "maiself", "py4godot"])
def rt(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    if request.param == "godot_python":
        yield from _godot_python(request.getfixturevalue("capsys"))
    elif request.param == "maiself":
        yield from _maiself()
    else:
        yield from _py4godot()


@pytest.fixture
def gp(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    yield from _godot_python(request.getfixturevalue("capsys"))


@pytest.fixture
def echo(pki: Any) -> Iterator[EchoServer]:
    server = EchoServer(pki.server_options(), 0, V4)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------- helpers


def client_options(pki: Any, **extra: str) -> Dict[str, str]:
    """The facade's options Dictionary, holding the test CA."""
    options = {"mode": "client", "trusted_chain_pem": pki.ca.cert_pem.bytes().decode("ascii")}
    options.update(extra)
    return options


def server_options(pki: Any) -> Dict[str, str]:
    chain = b"".join(blob.bytes() for blob in pki.server_cert.cert_chain_pems)
    return {
        "key_pem": pki.server_cert.private_key_pem.bytes().decode("ascii"),
        "certificate_pem": chain.decode("ascii"),
    }


def pump(rt: Runtime, peers: Sequence[Any], until: Callable[[], bool], *others: Any) -> bool:
    """Poll the adapter peers and the godot_dtls parties until ``until()`` or the deadline."""
    deadline = time.monotonic() + DEADLINE
    while not until():
        if time.monotonic() >= deadline:
            return False
        for other in others:
            other.poll()
        for peer in peers:
            rt.call(peer, "poll")
        time.sleep(0.001)
    return True


def connect_udp(rt: Runtime, port: int) -> Any:
    udp = rt.make_udp()
    assert int(udp.connect_to_host(V4, port)) == OK
    return udp


def echo_round_trip(rt: Runtime, peer: Any, echo: EchoServer, size: int) -> None:
    payload = os.urandom(size)
    assert rt.call(peer, "put_packet", rt.make_bytes(payload)) == OK
    assert pump(rt, [peer], lambda: rt.call(peer, "get_available_packet_count") > 0, echo)
    packet = rt.call(peer, "get_packet")
    assert isinstance(packet, rt.byte_array_type)
    assert rt.read_bytes(packet) == payload
    assert rt.call(peer, "get_packet_error") == OK


def connected_peer(rt: Runtime, echo: EchoServer, *connect_args: Any) -> Any:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "connect_to_peer", udp, *connect_args) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.CONNECTED, str(rt.call(peer, "get_last_error_message"))
    return peer


# ---------------------------------------------------------------------------- behaviour


def test_handshake_echo_and_disconnect(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    statuses = rt.watch_status(peer)
    assert rt.call(peer, "get_status") == Status.DISCONNECTED
    assert rt.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.CONNECTED
    for size in SIZES:
        echo_round_trip(rt, peer, echo, size)
    assert rt.call(peer, "disconnect_from_peer") == OK
    assert rt.status(peer) == Status.DISCONNECTED
    assert statuses == [Status.HANDSHAKING, Status.CONNECTED, Status.DISCONNECTED]
    assert str(rt.call(peer, "get_backend")) == rt.backend
    assert str(rt.call(peer, "get_last_error_message")) == ""
    assert pump(rt, [], lambda: not echo.peers, echo)  # the close_notify reached the server


def test_wrong_hostname_ends_in_status_4(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "connect_to_peer", udp, "wrong.example", client_options(pki)) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.ERROR_HOSTNAME_MISMATCH
    assert str(rt.call(peer, "get_last_error_message"))
    assert any("godot_dtls:" in line for line in rt.errors())  # the library's log, forwarded


def test_common_name_override_and_unsafe_mode(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    by_override = connected_peer(
        rt, echo, "game.example", client_options(pki, common_name_override="localhost")
    )
    echo_round_trip(rt, by_override, echo, 64)
    unsafe = connected_peer(rt, echo, "anything", {"mode": "client_unsafe"})
    echo_round_trip(rt, unsafe, echo, 64)


def test_bad_arguments_return_error_codes(rt: Runtime, pki: Any) -> None:
    udp = connect_udp(rt, 9)  # never sent to: every call below fails before that
    peer = rt.new(rt.peer_cls)
    server = rt.new(rt.server_cls)
    cases = [
        (peer, "connect_to_peer", (42, "localhost", client_options(pki)), "udp must be"),
        (peer, "connect_to_peer", (None, "localhost", None), "udp must be"),
        (peer, "connect_to_peer", (udp, "localhost", "not a dictionary"), "Dictionary"),
        (peer, "connect_to_peer", (udp, "localhost", [1, 2]), "Dictionary"),
        (peer, "connect_to_peer", (udp, "localhost", {"trusted_chain_pem": "junk"}), "PEM"),
        (peer, "connect_to_peer", (udp, "localhost", {"mode": "server"}), "mode"),
        (peer, "connect_to_peer", (udp, "localhost", {"trusted_chain_pem": 7}), "String"),
        (peer, "put_packet", ("text",), "byte array"),
        (peer, "put_packet", (None,), "byte array"),
        (peer, "accept_connection", ("1", udp), "server_id"),
        (peer, "accept_connection", (10**9, udp), "no PyDTLSServer"),
        (server, "setup", (7,), "Dictionary"),
        (server, "setup", ({"key_pem": "junk"},), "certificate_pem"),
        (server, "setup", ({**server_options(pki), "key_pem": "junk"},), "key_pem"),
    ]
    if rt.name != "godot_python":  # there, a non-String second argument means Godot 3's form
        cases.append((peer, "connect_to_peer", (udp, 42, None), "hostname must be a String"))
    for obj, name, args, expected in cases:
        assert rt.call(obj, name, *args) == INVALID, (name, args)
        message = str(rt.call(obj, "get_last_error_message"))
        assert expected in message, (name, args, message)
        assert any(expected in line for line in rt.errors()), (name, args)
    assert rt.status(peer) == Status.DISCONNECTED


def test_library_errors_reach_the_runtime_log(rt: Runtime) -> None:
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "put_packet", rt.make_bytes(b"early")) == int(Error.ERR_UNCONFIGURED)
    assert any("not connected" in line for line in rt.errors())


def test_unexpected_exceptions_give_failed_with_a_traceback(rt: Runtime) -> None:
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "get_status") == Status.DISCONNECTED  # the core exists now

    def broken(*args: Any) -> Any:
        raise RuntimeError("broken inside")

    library_peer = peer._dtls_core._peer
    library_peer.poll = library_peer.get_status = library_peer.get_packet = broken
    assert rt.call(peer, "poll") == int(Error.FAILED)
    assert "RuntimeError: broken inside" in str(rt.call(peer, "get_last_error_message"))
    assert any("Traceback" in line for line in rt.errors())
    assert rt.call(peer, "get_status") == Status.ERROR
    packet = rt.call(peer, "get_packet")
    assert isinstance(packet, rt.byte_array_type) and rt.read_bytes(packet) == b""


ENGINE_OBJECT = object()


@pytest.mark.parametrize("junk", [42, "junk", None, 1.5, True, [1, 2], {"a": 1}, ENGINE_OBJECT])
def test_every_exposed_method_survives_junk(rt: Runtime, junk: Any) -> None:
    """No argument value a script can pass makes an exception escape or a bad return."""
    engine_object = junk is ENGINE_OBJECT
    if engine_object:
        junk = rt.make_udp()  # an engine Reference that is not connected
    for cls in (rt.peer_cls, rt.server_cls):
        names = [name for name in rt.exposed_methods(cls) if not name.startswith("__")]
        assert {"get_backend", "get_last_error_message"} <= set(names)
        for name in names:
            obj = rt.new(cls)
            parameters = list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
            rt.call(obj, name, *[junk] * len(parameters))
    if engine_object and rt.name == "godot_python":  # each wrapper of it retained once
        gc.collect()
        assert junk.get_reference_count() == 1


def test_server_adapter_accepts_a_godot_dtls_client(rt: Runtime, pki: Any) -> None:
    server = rt.new(rt.server_cls)
    assert rt.call(server, "setup", server_options(pki)) == OK
    server_id = rt.call(server, "get_server_id")
    udp_server = rt.make_udp_server()
    client_udp = PacketPeerUDP()
    assert client_udp.connect_to_host(V4, rt.udp_server_port(udp_server)) == Error.OK
    client = PacketPeerDTLS()
    assert client.connect_to_peer(client_udp, "localhost", pki.client_options()) == Error.OK
    peers: List[Any] = []
    takes: List[int] = []

    def serve() -> None:
        udp_server.poll()
        while udp_server.is_connection_available():
            udp = udp_server.take_connection()
            if rt.name == "maiself":  # a real class: Godot 4's take_connection shape
                peer = rt.call(server, "take_connection", udp)
                assert isinstance(peer, rt.peer_cls)
            else:
                peer = rt.new(rt.peer_cls)
                assert rt.call(peer, "accept_connection", server_id, udp) == OK
            takes.append(rt.status(peer))
            if rt.status(peer) == Status.HANDSHAKING:
                peers.append(peer)
        for peer in peers:
            rt.call(peer, "poll")
            while rt.status(peer) == Status.CONNECTED and (
                rt.call(peer, "get_available_packet_count") > 0
            ):
                packet = rt.call(peer, "get_packet")
                assert rt.call(peer, "put_packet", packet) == OK

    serving = SimpleNamespace(poll=serve)  # a party for pump(), like the client
    assert pump(rt, [], lambda: client.get_status() != Status.HANDSHAKING, client, serving)
    assert client.get_status() == Status.CONNECTED
    assert takes == [Status.ERROR, Status.HANDSHAKING]  # cookie exchange, then the retry
    for size in SIZES:
        payload = os.urandom(size)
        assert client.put_packet(payload) == Error.OK
        assert pump(rt, [], lambda: client.get_available_packet_count() > 0, client, serving)
        assert client.get_packet() == payload
    client.disconnect_from_peer()
    assert pump(rt, [], lambda: rt.status(peers[0]) == Status.DISCONNECTED, serving)
    udp_server.stop()


# ----------------------------------------------------------------- godot-python (Godot 3)


def test_godot3_connect_forms(gp: Runtime, pki: Any, echo: EchoServer, tmp_path: Path) -> None:
    godot = gp.root
    cert = godot.X509Certificate()
    assert cert.load(str(pki.ca_path)) == godot.OK
    udp = connect_udp(gp, echo.port)
    peer = gp.new(gp.peer_cls)
    assert gp.call(peer, "connect_to_peer", udp, True, "localhost", cert) == OK
    assert pump(gp, [peer], lambda: gp.status(peer) != Status.HANDSHAKING, echo)
    assert gp.status(peer) == Status.CONNECTED
    echo_round_trip(gp, peer, echo, 1200)
    gc.collect()
    assert cert.get_reference_count() == 1  # retained once, released by its wrapper
    assert cert.save(str(tmp_path / "still-alive.crt")) == godot.OK
    assert udp.get_reference_count() == 2  # ours and the adapter's retained wrapper
    assert gp.call(peer, "disconnect_from_peer") == OK
    gc.collect()
    assert udp.get_reference_count() == 1

    unsafe = connected_peer(gp, echo, False)  # validate_certs=false: no verification
    echo_round_trip(gp, unsafe, echo, 64)

    default_bundle = gp.new(gp.peer_cls)
    udp = connect_udp(gp, echo.port)
    assert gp.call(default_bundle, "connect_to_peer", udp, True, "localhost") == OK
    assert pump(gp, [default_bundle], lambda: gp.status(default_bundle) > 1, echo)
    assert gp.status(default_bundle) == Status.ERROR  # the test CA is not in the bundle


def test_godot_python_takes_one_reference_per_udp_argument(gp: Runtime, pki: Any) -> None:
    """Each call's wrapper of the UDP peer is retained once, on every path (else the
    wrapper's release would free the caller's object)."""
    udp = connect_udp(gp, 9)
    peer = gp.new(gp.peer_cls)
    calls = [
        ("connect_to_peer", (udp, "localhost", "not a dictionary")),
        ("connect_to_peer", (udp, True, 42)),
        ("connect_to_peer", (udp, "localhost", {}, "fourth")),
        ("accept_connection", ("1", udp)),
        ("accept_connection", (10**9, udp)),
    ]
    for name, args in calls:
        assert gp.call(peer, name, *args) == INVALID
        gc.collect()
        assert udp.get_reference_count() == 1, name
    unconnected = gp.root.PacketPeerUDP()
    options = client_options(pki)
    assert gp.call(peer, "connect_to_peer", unconnected, "localhost", options) == INVALID
    gc.collect()
    assert unconnected.get_reference_count() == 1


def test_godot_python_declaration_rules(gp: Runtime) -> None:
    godot = gp.root
    for module, cls in ((gp.peer_module, gp.peer_cls), (gp.server_module, gp.server_cls)):
        assert godot.exposed_classes[module.__name__] is cls
        exposed = [v for v in vars(module).values() if getattr(v, "_gd_exposed", False)]
        assert exposed == [cls]
        assert cls.__init__.__name__ == "<lambda>"  # replaced by @exposed
        with pytest.raises(ValueError, match="single class"):
            godot.exposed(type("Second", (godot.Reference,), {"__module__": module.__name__}))
    assert "status_changed" in gp.peer_cls._gd_signals
    peer = gp.new(gp.peer_cls)
    assert "_dtls_core" not in vars(peer)  # state is made on first use
    assert gp.call(peer, "get_status") == Status.DISCONNECTED
    assert "_dtls_core" in vars(peer)
    assert not hasattr(peer, "emit_signal")  # only call("emit_signal", ...) exists
    assert peer.STATUS_CONNECTED == 2


# --------------------------------------------------------------- godot-python-extension


def test_maiself_declaration_rules() -> None:
    with isolated_import("maiself", ("godot", f"{PACKAGE}.godot_dtls_gd4")) as (godot, module):
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


def test_maiself_package_also_imports_from_its_own_folder() -> None:
    """The alternative set-up: res://addons/godot_dtls/python on module_search_path."""
    with isolated_import("maiself", ("godot", "godot_dtls_gd4"), extra_path=[ADDON]) as (
        godot,
        module,
    ):
        assert module.bridge.__name__ == "dtls_bridge"
        peer = godot._gd_new(module.PyPacketPeerDTLS)
        assert godot._gd_call(peer, "get_status").value == Status.DISCONNECTED


# ---------------------------------------------------------------------------- py4godot


def test_py4godot_declaration_rules() -> None:
    names = ("py4godot.classes", f"{PACKAGE}.PyPacketPeerDTLS", f"{PACKAGE}.PyDTLSServer")
    with isolated_import("py4godot", names) as (classes, peer_module, server_module):
        for module, cls in (
            (peer_module, peer_module.PyPacketPeerDTLS),
            (server_module, server_module.PyDTLSServer),
        ):
            assert Path(module.__file__).stem == cls.__name__
            assert classes.registered_class(module.__name__) is cls
            assert cls._py4godot_properties == []  # internal state stays _underscored
        ((name, arguments),) = peer_module.PyPacketPeerDTLS._py4godot_signals
        assert (name, [(a.name, a.type) for a in arguments]) == (
            "status_changed",
            [("status", int)],
        )
        assert server_module.PyDTLSServer._py4godot_signals == []
        with pytest.raises(ValueError, match="file stem"):
            classes.gdclass(type("Renamed", (), {"__module__": peer_module.__name__}))
