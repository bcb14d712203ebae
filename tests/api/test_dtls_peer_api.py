"""PacketPeerDTLS, method by method and state by state, over real loopback UDP.

Each test checks one row of spec/godot-dtls-behaviour.md (sections 1, 2.1, 2.2, 3 and 4),
or the row of design.md's "deliberately differs" table that replaces it; the test name
says which. The server side is the package's EchoServer (UDPServer + DTLSServer), polled
from the test loop; "silent" servers are plain sockets that never answer. Every wait is
a bounded poll loop (1 ms per iteration), never a fixed sleep.
"""

from __future__ import annotations

import gc
import logging
import select
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest

from godot_dtls import (
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
)
from godot_dtls.api.variant import (
    Color,
    EncodedObjectAsID,
    GodotObject,
    NodePath,
    PackedInt32Array,
    StringName,
    Vector2,
    Vector3,
)
from godot_dtls.core.records import is_client_hello
from godot_dtls.tools.serve import EchoServer
from support.polling import poll_for, poll_until

V4 = "127.0.0.1"
V6 = "::1"
DEADLINE = 5.0

OK = Error.OK


# ------------------------------------------------------------------------------- helpers


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("godot_dtls") and record.levelno >= logging.ERROR
    ]


def udp_to(port: int, host: str = V4) -> PacketPeerUDP:
    udp = PacketPeerUDP()
    assert udp.connect_to_host(host, port) == OK
    return udp


def closed_port() -> int:
    """A loopback port nobody listens on (sending there yields ICMP port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((V4, 0))
        return sock.getsockname()[1]


def drain(sock: socket.socket, wait: float = 0.0) -> list[bytes]:
    """Every datagram waiting on ``sock`` (waiting up to ``wait`` s for the first one)."""
    received = []
    if wait > 0:
        select.select([sock], [], [], wait)
    while True:
        try:
            received.append(sock.recv(65536))
        except BlockingIOError:
            return received


def roundtrip(echo: EchoServer, client: PacketPeerDTLS, payload: bytes) -> bytes:
    """Send ``payload`` through the echo server and return what came back."""
    assert client.put_packet(payload) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    return client.get_packet()


@dataclass
class Session:
    client: PacketPeerDTLS
    udp: PacketPeerUDP
    statuses: list[Status] = field(default_factory=list)


def start(
    port: int,
    options: TLSOptions | None,
    hostname: str = "localhost",
    *,
    host: str = V4,
    client: PacketPeerDTLS | None = None,
    udp: PacketPeerUDP | None = None,
) -> Session:
    """connect_to_peer (must return OK) towards ``host``:``port``."""
    client = client or PacketPeerDTLS()
    session = Session(client, udp or udp_to(port, host))
    client.status_changed = session.statuses.append
    assert client.connect_to_peer(session.udp, hostname, options) == OK
    return session


def handshake(echo: EchoServer, session: Session) -> Status:
    """Poll client and server until the handshake ends; the client's final status."""
    client = session.client
    poll_until(echo, client, until=lambda: client.get_status() is not Status.HANDSHAKING)
    return client.get_status()


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def echo(pki) -> Iterator[EchoServer]:
    server = EchoServer(pki.server_options())
    yield server
    server.stop()


@pytest.fixture
def other_echo(other_pki) -> Iterator[EchoServer]:
    """A server whose certificate chains to a CA that ``pki`` clients do not trust."""
    server = EchoServer(other_pki.server_options())
    yield server
    server.stop()


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A bound UDP socket that never answers (datagrams can be read with drain())."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((V4, 0))
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def connected(echo, pki) -> Session:
    session = start(echo.port, pki.client_options())
    assert handshake(echo, session) is Status.CONNECTED
    return session


@pytest.fixture
def make_peer(pki, echo, silent) -> Callable[[str], PacketPeerDTLS]:
    """A client in a named state: disconnected, handshaking, error, hostname_mismatch,
    closed (connected, then disconnect_from_peer)."""
    keep: list[Session] = []

    def make(state: str) -> PacketPeerDTLS:
        if state == "disconnected":
            return PacketPeerDTLS()
        if state == "handshaking":
            session = start(silent.getsockname()[1], pki.client_options())
        elif state == "error":
            session = start(closed_port(), pki.client_options())
            poll_until(session.client, until=lambda: session.client.get_status() is Status.ERROR)
        elif state == "hostname_mismatch":
            session = start(echo.port, pki.client_options(), "wrong.example")
            handshake(echo, session)
        elif state == "closed":
            session = start(echo.port, pki.client_options())
            assert handshake(echo, session) is Status.CONNECTED
            session.client.disconnect_from_peer()
        else:  # pragma: no cover
            raise ValueError(state)
        keep.append(session)
        expected = {
            "handshaking": Status.HANDSHAKING,
            "error": Status.ERROR,
            "hostname_mismatch": Status.ERROR_HOSTNAME_MISMATCH,
            "closed": Status.DISCONNECTED,
        }[state]
        assert session.client.get_status() is expected
        return session.client

    return make


NOT_CONNECTED = ["disconnected", "handshaking", "error", "hostname_mismatch", "closed"]


# ----------------------------------------------------------------------- 1. constants


def test_initial_status_is_disconnected():
    peer = PacketPeerDTLS()
    assert peer.get_status() is Status.DISCONNECTED
    assert peer.get_packet_error() == OK


def test_status_constants_and_enum_values_match_engine():
    assert PacketPeerDTLS.Status is Status
    expected = {
        "DISCONNECTED": 0,
        "HANDSHAKING": 1,
        "CONNECTED": 2,
        "ERROR": 3,
        "ERROR_HOSTNAME_MISMATCH": 4,
    }
    assert {member.name: member.value for member in Status} == expected
    for name, value in expected.items():
        assert getattr(PacketPeerDTLS, "STATUS_" + name) == value
        assert getattr(PacketPeerDTLS, "STATUS_" + name) is Status[name]
        assert isinstance(Status[name], int)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OK", 0),
        ("FAILED", 1),
        ("ERR_UNAVAILABLE", 2),
        ("ERR_UNCONFIGURED", 3),
        ("ERR_UNAUTHORIZED", 4),
        ("ERR_PARAMETER_RANGE_ERROR", 5),
        ("ERR_OUT_OF_MEMORY", 6),
        ("ERR_FILE_EOF", 18),
        ("ERR_CANT_OPEN", 19),
        ("ERR_CANT_CREATE", 20),
        ("ERR_ALREADY_IN_USE", 22),
        ("ERR_LOCKED", 23),
        ("ERR_TIMEOUT", 24),
        ("ERR_CANT_CONNECT", 25),
        ("ERR_CANT_RESOLVE", 26),
        ("ERR_CONNECTION_ERROR", 27),
        ("ERR_INVALID_DATA", 30),
        ("ERR_INVALID_PARAMETER", 31),
        ("ERR_BUSY", 44),
        ("ERR_BUG", 47),
        ("ERR_PRINTER_ON_FIRE", 48),
    ],
)
def test_error_values_match_engine(name, value):
    assert Error[name] == value
    assert isinstance(Error[name], int)


# ---------------------------------------------------------------- 2.2 connect_to_peer


def test_connect_to_peer_none_peer_is_invalid_parameter_and_logged(pki, dtls_log):
    peer = PacketPeerDTLS()
    assert peer.connect_to_peer(None, "localhost", pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert peer.get_status() is Status.DISCONNECTED
    assert error_lines(dtls_log)


def test_connect_to_peer_unconnected_udp_is_invalid_parameter_and_logged(pki, dtls_log):
    fresh = PacketPeerUDP()
    bound = PacketPeerUDP()
    assert bound.bind(0, V4) == OK
    targeted = PacketPeerUDP()  # a destination, but not connect_to_host()
    assert targeted.set_dest_address(V4, 9) == OK
    try:
        for udp in (fresh, bound, targeted):
            dtls_log.clear()
            peer = PacketPeerDTLS()
            assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == (
                Error.ERR_INVALID_PARAMETER
            )
            assert peer.get_status() is Status.DISCONNECTED
            assert error_lines(dtls_log)
    finally:
        bound.close()
        targeted.close()


def test_connect_to_peer_closed_udp_is_invalid_parameter(pki, silent):
    udp = udp_to(silent.getsockname()[1])
    udp.close()
    peer = PacketPeerDTLS()
    assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert peer.get_status() is Status.DISCONNECTED
    assert drain(silent) == []


def test_connect_to_peer_server_options_is_invalid_parameter(pki, silent, dtls_log):
    udp = udp_to(silent.getsockname()[1])
    peer = PacketPeerDTLS()
    assert peer.connect_to_peer(udp, "localhost", pki.server_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert peer.get_status() is Status.DISCONNECTED
    assert error_lines(dtls_log)
    assert drain(silent, wait=0.02) == []  # nothing was sent


@pytest.mark.parametrize("hostname", [None, 5, b"localhost", ["localhost"]])
def test_connect_to_peer_non_string_hostname_is_invalid_parameter(pki, silent, hostname):
    udp = udp_to(silent.getsockname()[1])
    peer = PacketPeerDTLS()
    assert peer.connect_to_peer(udp, hostname, pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert peer.get_status() is Status.DISCONNECTED


def test_connect_to_peer_ok_sends_one_client_hello_and_leaves_handshaking(pki, silent):
    session = start(silent.getsockname()[1], pki.client_options())
    assert session.client.get_status() is Status.HANDSHAKING
    datagrams = drain(silent, wait=0.5)
    assert len(datagrams) == 1 and is_client_hello(datagrams[0])


def test_connect_to_peer_ok_is_handshaking_even_with_a_live_server(echo, pki):
    # CONNECTED needs a round trip, so connect_to_peer can never return it directly.
    session = start(echo.port, pki.client_options())
    assert session.client.get_status() is Status.HANDSHAKING
    assert session.statuses == [Status.HANDSHAKING]
    assert handshake(echo, session) is Status.CONNECTED


def test_connect_to_peer_without_options_uses_default_ca_bundle(echo):
    # TLSOptions.client() is used: the default bundle does not hold the test CA.
    session = start(echo.port, None)
    assert handshake(echo, session) is Status.ERROR


def test_connect_to_peer_while_handshaking_is_already_in_use(echo, pki, dtls_log):
    session = start(echo.port, pki.client_options())
    other_udp = udp_to(echo.port)
    dtls_log.clear()
    assert session.client.connect_to_peer(other_udp, "localhost", pki.client_options()) == (
        Error.ERR_ALREADY_IN_USE
    )
    assert session.client.get_status() is Status.HANDSHAKING
    assert error_lines(dtls_log)
    # The running handshake was not disturbed.
    assert handshake(echo, session) is Status.CONNECTED
    assert session.statuses == [Status.HANDSHAKING, Status.CONNECTED]


def test_connect_to_peer_while_connected_is_already_in_use(echo, connected, pki):
    client = connected.client
    assert client.connect_to_peer(connected.udp, "localhost", pki.client_options()) == (
        Error.ERR_ALREADY_IN_USE
    )
    assert client.connect_to_peer(udp_to(echo.port), "localhost") == Error.ERR_ALREADY_IN_USE
    assert client.get_status() is Status.CONNECTED
    assert roundtrip(echo, client, b"still up") == b"still up"


def test_connect_to_peer_argument_checks_come_before_already_in_use(echo, connected, pki):
    # Spec order: (1) packet_peer, (2) options, (3) already active.
    client = connected.client
    assert client.connect_to_peer(None, "localhost", pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert client.connect_to_peer(PacketPeerUDP(), "localhost", pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert client.connect_to_peer(connected.udp, "localhost", pki.server_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert client.get_status() is Status.CONNECTED


def test_connect_to_peer_first_step_failure_returns_failed_with_status_error(pki, dtls_log):
    # Deliberate difference: the engine reports ERROR_HOSTNAME_MISMATCH here; godot-dtls
    # returns FAILED with STATUS_ERROR. A connected UDP socket holding a pending ICMP
    # "port unreachable" makes the very first send (the ClientHello) fail.
    udp = udp_to(closed_port())
    assert udp.put_packet(b"probe") == OK
    deadline = time.monotonic() + 1.0
    while udp.wait(0.01) != Error.FAILED and time.monotonic() < deadline:
        pass  # wait until the ICMP error is pending on the socket
    peer = PacketPeerDTLS()
    statuses: list[Status] = []
    peer.status_changed = statuses.append
    dtls_log.clear()
    assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == Error.FAILED
    assert peer.get_status() is Status.ERROR
    assert statuses[-1] is Status.ERROR
    assert error_lines(dtls_log)


# ---------------------------------------------------------------------- 3.3 poll


def test_poll_disconnected_is_a_silent_noop(dtls_log):
    peer = PacketPeerDTLS()
    dtls_log.clear()
    for _ in range(3):
        peer.poll()
    assert peer.get_status() is Status.DISCONNECTED
    assert error_lines(dtls_log) == []


@pytest.mark.parametrize("state", ["error", "hostname_mismatch", "closed"])
def test_poll_in_ended_states_is_a_silent_noop(make_peer, state, dtls_log):
    peer = make_peer(state)
    before = peer.get_status()
    sent = peer.get_stats().get("datagrams_sent")
    dtls_log.clear()
    for _ in range(3):
        peer.poll()
    assert peer.get_status() is before
    assert peer.get_stats().get("datagrams_sent") == sent
    assert error_lines(dtls_log) == []


def test_poll_handshaking_runs_the_handshake_to_connected(echo, pki):
    session = start(echo.port, pki.client_options())
    client = session.client
    polls = 0

    def done() -> bool:
        nonlocal polls
        polls += 1
        return client.get_status() is not Status.HANDSHAKING

    assert poll_until(echo, client, until=done)
    assert client.get_status() is Status.CONNECTED
    assert polls > 1  # needed several polls: nothing happens without poll()


def test_poll_connected_without_traffic_stays_connected(echo, connected, dtls_log):
    dtls_log.clear()
    poll_for(echo, connected.client, seconds=0.05)
    assert connected.client.get_status() is Status.CONNECTED
    assert connected.client.get_available_packet_count() == 0
    assert error_lines(dtls_log) == []


# ---------------------------------------------------------- 2.2 disconnect_from_peer


def test_disconnect_connected_sends_close_notify_and_server_peer_disconnects(echo, connected):
    server_peer = echo.peers[0]
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.CONNECTED)
    sent = connected.client.get_stats()["datagrams_sent"]
    connected.client.disconnect_from_peer()
    assert connected.client.get_status() is Status.DISCONNECTED
    stats = connected.client.get_stats()
    assert stats["datagrams_sent"] == sent + 1  # one close_notify record, one datagram
    assert stats["alerts_sent"] == ["close_notify"]
    assert connected.statuses[-1] is Status.DISCONNECTED
    assert poll_until(echo, until=lambda: server_peer.get_status() is not Status.CONNECTED)
    assert server_peer.get_status() is Status.DISCONNECTED
    assert echo.peers == []


def test_disconnect_keeps_the_udp_peer_open(echo, connected):
    connected.client.disconnect_from_peer()
    assert connected.udp.is_bound()
    assert connected.udp.is_socket_connected()


def test_disconnect_handshaking_sends_nothing_and_disconnects(pki, silent):
    session = start(silent.getsockname()[1], pki.client_options())
    assert len(drain(silent, wait=0.5)) == 1  # the ClientHello
    sent = session.client.get_stats()["datagrams_sent"]
    session.client.disconnect_from_peer()
    assert session.client.get_status() is Status.DISCONNECTED
    assert session.client.get_stats()["datagrams_sent"] == sent
    assert drain(silent, wait=0.05) == []
    session.client.poll()
    assert drain(silent, wait=0.02) == []


@pytest.mark.parametrize("state", ["error", "hostname_mismatch"])
def test_disconnect_in_error_states_keeps_the_error_status(make_peer, state):
    peer = make_peer(state)
    before = peer.get_status()
    peer.disconnect_from_peer()
    assert peer.get_status() is before


def test_disconnect_disconnected_is_a_noop():
    peer = PacketPeerDTLS()
    statuses: list[Status] = []
    peer.status_changed = statuses.append
    peer.disconnect_from_peer()
    assert peer.get_status() is Status.DISCONNECTED
    assert statuses == []


def test_releasing_a_connected_peer_sends_close_notify(echo, pki):
    session = start(echo.port, pki.client_options())
    assert handshake(echo, session) is Status.CONNECTED
    server_peer = echo.peers[0]
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.CONNECTED)
    client = session.client
    client.status_changed = None
    session.client = None  # type: ignore[assignment]
    del client
    gc.collect()
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.DISCONNECTED)


def _connected_peer_in_a_cycle(echo: EchoServer, pki) -> tuple[PacketPeerDTLS, Any]:
    """A CONNECTED client that refers to itself, and the server-side peer."""
    session = start(echo.port, pki.client_options())
    assert handshake(echo, session) is Status.CONNECTED
    server_peer = echo.peers[0]
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.CONNECTED)
    client = session.client
    client.status_changed = lambda status: client.get_status()  # a reference cycle
    return client, server_peer


def test_garbage_collecting_a_connected_peer_sends_close_notify(echo, pki, monkeypatch):
    client, server_peer = _connected_peer_in_a_cycle(echo, pki)
    # The stray unraisable report is the next (xfail) test's business, not this one's.
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    del client
    gc.collect()
    monkeypatch.undo()
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.DISCONNECTED)


def test_garbage_collecting_a_connected_peer_reports_no_unraisable_exception(
    echo, pki, monkeypatch
):
    client, server_peer = _connected_peer_in_a_cycle(echo, pki)
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    del client
    gc.collect()
    monkeypatch.undo()
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.DISCONNECTED)
    assert [u.exc_type for u in unraisable] == []


# -------------------------------------------------------------------- put_packet


@pytest.mark.parametrize("state", NOT_CONNECTED)
def test_put_packet_not_connected_is_unconfigured(make_peer, state, dtls_log):
    peer = make_peer(state)
    before = peer.get_status()
    dtls_log.clear()
    assert peer.put_packet(b"data") == Error.ERR_UNCONFIGURED
    assert peer.get_status() is before
    assert error_lines(dtls_log)


@pytest.mark.parametrize("state", NOT_CONNECTED)
@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b"")])
def test_put_packet_empty_is_ok_in_every_state(make_peer, state, empty):
    peer = make_peer(state)
    assert peer.put_packet(empty) == OK


def test_put_packet_empty_while_connected_is_ok_and_sends_nothing(echo, connected):
    sent = connected.client.get_stats()["datagrams_sent"]
    assert connected.client.put_packet(b"") == OK
    assert connected.client.get_stats()["datagrams_sent"] == sent
    poll_for(echo, connected.client, seconds=0.05)
    assert connected.client.get_available_packet_count() == 0


def test_put_packet_16384_bytes_is_ok_and_echoed_whole(echo, connected):
    payload = bytes(range(256)) * 64
    assert len(payload) == 16384
    assert roundtrip(echo, connected.client, payload) == payload


@pytest.mark.parametrize("size", [1, 1000, 1400, 5000, 16384])
def test_one_put_packet_is_one_record_in_one_datagram(echo, connected, size):
    # Spec 4: even above the 1400-byte MTU a packet is never split across datagrams.
    client = connected.client
    sent = client.get_stats()["datagrams_sent"]
    assert client.put_packet(b"s" * size) == OK
    assert client.get_stats()["datagrams_sent"] == sent + 1
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() == 1)
    assert client.get_packet() == b"s" * size


def test_put_packet_over_16384_is_invalid_parameter_and_connection_stays(echo, connected, dtls_log):
    # Deliberate difference: the engine tears the connection down (DISCONNECTED, 27).
    client = connected.client
    sent = client.get_stats()["datagrams_sent"]
    dtls_log.clear()
    assert client.put_packet(b"x" * 16385) == Error.ERR_INVALID_PARAMETER
    assert client.get_status() is Status.CONNECTED
    assert client.get_stats()["datagrams_sent"] == sent
    assert error_lines(dtls_log)
    assert roundtrip(echo, client, b"after") == b"after"


@pytest.mark.parametrize("buffer", ["text", 5, None, [1, 2, 3], 1.5])
def test_put_packet_non_bytes_is_invalid_parameter_without_exception(connected, buffer):
    assert connected.client.put_packet(buffer) == Error.ERR_INVALID_PARAMETER
    assert connected.client.get_status() is Status.CONNECTED


def test_put_packet_accepts_bytes_like_buffers(echo, connected):
    assert roundtrip(echo, connected.client, bytearray(b"ba")) == b"ba"
    assert roundtrip(echo, connected.client, memoryview(b"mv")) == b"mv"


# -------------------------------------------------------------------- get_packet


@pytest.mark.parametrize("state", NOT_CONNECTED)
def test_get_packet_not_connected_is_empty_and_unconfigured(make_peer, state, dtls_log):
    peer = make_peer(state)
    before = peer.get_status()
    dtls_log.clear()
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.ERR_UNCONFIGURED
    assert peer.get_status() is before
    assert error_lines(dtls_log)


def test_get_packet_with_nothing_available_is_empty_and_ok(connected):
    assert connected.client.get_packet() == b""
    assert connected.client.get_packet_error() == OK
    assert connected.client.get_status() is Status.CONNECTED


def test_get_packet_returns_packets_in_order(echo, connected):
    client = connected.client
    payloads = [b"packet-%02d" % i + b"." * i for i in range(12)]
    for payload in payloads:
        assert client.put_packet(payload) == OK
    assert poll_until(echo, until=lambda: echo.packets_echoed == len(payloads))
    received: list[bytes] = []

    def all_received() -> bool:
        while True:
            packet = client.get_packet()
            if not packet:
                return len(received) == len(payloads)
            received.append(packet)

    assert poll_until(client, until=all_received)
    assert received == payloads
    assert client.get_packet_error() == OK


def test_get_packet_error_tracks_only_the_last_call(echo, connected):
    client = connected.client
    assert roundtrip(echo, client, b"one") == b"one"
    assert client.get_packet_error() == OK
    client.disconnect_from_peer()
    assert client.get_packet() == b""
    assert client.get_packet_error() == Error.ERR_UNCONFIGURED


def test_get_packet_after_peer_close_returns_queued_packets_then_connection_error(echo, connected):
    client = connected.client
    payloads = [b"before-close-%d" % i for i in range(5)]
    for payload in payloads:
        assert client.put_packet(payload) == OK
    assert poll_until(echo, until=lambda: echo.packets_echoed == len(payloads))
    server_peer = echo.peers[0]
    server_peer.disconnect_from_peer()  # close_notify queued behind the echoed packets
    client.poll()
    # Nothing the server sent before its close_notify is lost.
    assert client.get_status() is Status.CONNECTED
    assert client.get_available_packet_count() == len(payloads)
    assert [client.get_packet() for _ in payloads] == payloads
    assert client.get_packet() == b""
    assert client.get_packet_error() == Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.DISCONNECTED
    assert connected.statuses[-1] is Status.DISCONNECTED
    # Once DISCONNECTED the peer is simply "not connected".
    assert client.get_packet() == b""
    assert client.get_packet_error() == Error.ERR_UNCONFIGURED


def test_get_packet_reads_peer_close_directly_and_reports_connection_error(echo, connected):
    # No poll(): get_packet itself reads the close_notify from the UDP queue.
    client = connected.client
    server_peer = echo.peers[0]
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.CONNECTED)
    server_peer.disconnect_from_peer()
    deadline = time.monotonic() + DEADLINE
    packet = client.get_packet()
    while client.get_packet_error() == OK and time.monotonic() < deadline:
        assert packet == b""
        time.sleep(0.001)
        packet = client.get_packet()
    assert packet == b""
    assert client.get_packet_error() == Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.DISCONNECTED


def test_poll_after_peer_close_with_nothing_queued_disconnects(echo, connected):
    client = connected.client
    server_peer = echo.peers[0]
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.CONNECTED)
    server_peer.disconnect_from_peer()
    assert poll_until(client, until=lambda: client.get_status() is not Status.CONNECTED)
    assert client.get_status() is Status.DISCONNECTED
    assert client.get_packet() == b""
    assert client.get_packet_error() == Error.ERR_UNCONFIGURED


# ------------------------------------------------------ get_available_packet_count


@pytest.mark.parametrize("state", NOT_CONNECTED)
def test_available_packet_count_is_zero_when_not_connected(make_peer, state, dtls_log):
    peer = make_peer(state)
    dtls_log.clear()
    assert peer.get_available_packet_count() == 0
    assert error_lines(dtls_log)


def test_available_packet_count_counts_every_packet_queued_by_one_poll(echo, connected):
    # Deliberate difference: the engine buffers at most one packet per poll().
    client = connected.client
    for i in range(6):
        assert client.put_packet(b"n%d" % i) == OK
    assert poll_until(echo, until=lambda: echo.packets_echoed == 6)
    assert client.get_available_packet_count() == 0  # not polled yet
    client.poll()
    assert client.get_available_packet_count() == 6
    for remaining in range(5, -1, -1):
        assert client.get_packet()
        assert client.get_available_packet_count() == remaining


def test_engine_style_read_loop_gets_everything(echo, connected):
    # poll(); while get_available_packet_count() > 0: get_packet()  -- still works.
    client = connected.client
    for i in range(4):
        assert client.put_packet(b"e%d" % i) == OK
    received: list[bytes] = []

    def frame() -> bool:
        echo.poll()
        client.poll()
        while client.get_available_packet_count() > 0:
            received.append(client.get_packet())
        return len(received) == 4

    assert poll_until(until=frame)
    assert received == [b"e0", b"e1", b"e2", b"e3"]


# ---------------------------------------------------------------- put_var / get_var


VAR_VALUES = [
    None,
    True,
    False,
    0,
    -7,
    2**31 - 1,
    -(2**31),
    2**40,
    -(2**63),
    0.5,
    0.1,
    -1e300,
    "",
    "ab",
    "ünïcødé ✓",
    StringName("name"),
    NodePath.from_string("a/b:c"),
    Vector2(1.5, -2.25),
    Vector3(1.0, 2.0, 3.0),
    Color(0.5, 0.25, 1.0, 1.0),
    b"",
    b"\x00\x01\xff",
    [],
    [1, "a", None, [2.5, [b"x"]]],
    {},
    {"k": 1, 2: [3], "nested": {"v": Vector2(0.0, 1.0)}},
    PackedInt32Array([1, -2, 3]),
]


@pytest.mark.parametrize("value", VAR_VALUES, ids=[repr(v)[:40] for v in VAR_VALUES])
def test_put_var_get_var_round_trip(echo, connected, value):
    client = connected.client
    assert client.put_var(value) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    received = client.get_var()
    assert client.get_packet_error() == OK
    if isinstance(value, (bytes, bytearray)):
        assert received == bytes(value)
    else:
        assert received == value
        assert type(received) is type(value)


def test_put_var_tuple_arrives_as_array(echo, connected):
    client = connected.client
    assert client.put_var((1, "two")) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_var() == [1, "two"]


def test_put_var_uses_godot_wire_format(echo, connected):
    client = connected.client
    assert client.put_var(5) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_packet() == bytes.fromhex("0200000005000000")
    assert client.put_var("ab") == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_packet() == bytes.fromhex("040000000200000061620000")


def test_get_var_full_object_needs_allow_objects(echo, connected):
    client = connected.client
    node = GodotObject("Node", {"name": "n"})
    for _ in range(2):
        assert client.put_var(node, full_objects=True) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() == 2)
    assert client.get_var() is None
    assert client.get_packet_error() == Error.ERR_UNAUTHORIZED
    assert client.get_var(allow_objects=True) == node
    assert client.get_packet_error() == OK


def test_get_var_object_as_id_needs_no_allow_objects(echo, connected):
    client = connected.client
    assert client.put_var(EncodedObjectAsID(1234)) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    received = client.get_var()
    assert received == 1234 and isinstance(received, EncodedObjectAsID)


def test_get_var_ignores_trailing_bytes(echo, connected):
    client = connected.client
    assert client.put_packet(bytes.fromhex("0200000005000000") + b"junk") == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_var() == 5
    assert client.get_packet_error() == OK


def test_get_var_with_nothing_available_is_none_and_invalid_data(connected, dtls_log):
    # Deliberate difference: get_var updates get_packet_error(), as the docs say.
    client = connected.client
    dtls_log.clear()
    assert client.get_var() is None
    assert client.get_packet_error() == Error.ERR_INVALID_DATA
    assert client.get_status() is Status.CONNECTED
    assert error_lines(dtls_log)


def test_get_var_malformed_packet_is_none_and_invalid_data(echo, connected):
    client = connected.client
    assert client.put_packet(b"\x02\x00\x00") == OK  # 3 bytes: a truncated header
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_var() is None
    assert client.get_packet_error() == Error.ERR_INVALID_DATA
    assert client.get_status() is Status.CONNECTED
    assert roundtrip(echo, client, b"fine") == b"fine"
    assert client.get_packet_error() == OK


def test_get_var_unknown_type_id_is_invalid_data(echo, connected):
    client = connected.client
    assert client.put_packet(bytes([39, 0, 0, 0])) == OK  # type id VARIANT_MAX
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_var() is None
    assert client.get_packet_error() == Error.ERR_INVALID_DATA


@pytest.mark.parametrize("state", NOT_CONNECTED)
def test_var_methods_when_not_connected(make_peer, state):
    peer = make_peer(state)
    assert peer.put_var(5) == Error.ERR_UNCONFIGURED
    assert peer.get_var() is None
    assert peer.get_packet_error() == Error.ERR_UNCONFIGURED


def test_put_var_unencodable_value_returns_an_error_without_exception(connected):
    assert connected.client.put_var(object()) == Error.ERR_INVALID_PARAMETER
    assert connected.client.get_status() is Status.CONNECTED


def test_encode_buffer_max_size_default_is_8_mib():
    peer = PacketPeerDTLS()
    assert peer.encode_buffer_max_size == 8388608
    assert peer.get_encode_buffer_max_size() == 8388608


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1024, 1024),
        (1025, 2048),
        (3000, 4096),
        (65536, 65536),
        (65537, 131072),
        (256 * 1024 * 1024, 256 * 1024 * 1024),
        (256 * 1024 * 1024 - 1, 256 * 1024 * 1024),
    ],
)
def test_encode_buffer_max_size_setter_rounds_up_to_power_of_two(value, stored):
    peer = PacketPeerDTLS()
    peer.encode_buffer_max_size = value
    assert peer.encode_buffer_max_size == stored
    other = PacketPeerDTLS()
    other.set_encode_buffer_max_size(value)
    assert other.get_encode_buffer_max_size() == stored


@pytest.mark.parametrize("value", [1023, 0, -1, 256 * 1024 * 1024 + 1, 2**40])
def test_encode_buffer_max_size_out_of_range_is_ignored_and_logged(value, dtls_log):
    peer = PacketPeerDTLS()
    peer.encode_buffer_max_size = 4096
    dtls_log.clear()
    peer.encode_buffer_max_size = value
    assert peer.encode_buffer_max_size == 4096
    assert error_lines(dtls_log)


def test_put_var_larger_than_encode_buffer_max_size_is_out_of_memory(echo, connected, dtls_log):
    client = connected.client
    client.encode_buffer_max_size = 1024
    sent = client.get_stats()["datagrams_sent"]
    dtls_log.clear()
    assert client.put_var(b"x" * 1100) == Error.ERR_OUT_OF_MEMORY
    assert error_lines(dtls_log)
    assert client.get_stats()["datagrams_sent"] == sent
    assert client.get_status() is Status.CONNECTED
    # Exactly at the limit is still fine: 4-byte header + 4-byte length + 1016 bytes.
    assert client.put_var(b"y" * 1016) == OK
    assert poll_until(echo, client, until=lambda: client.get_available_packet_count() > 0)
    assert client.get_var() == b"y" * 1016


# ---------------------------------------------------------------- status_changed


def test_status_changed_order_handshaking_connected_disconnected(echo, pki):
    session = start(echo.port, pki.client_options())
    assert handshake(echo, session) is Status.CONNECTED
    session.client.disconnect_from_peer()
    assert session.statuses == [Status.HANDSHAKING, Status.CONNECTED, Status.DISCONNECTED]


def test_status_changed_reports_a_failed_handshake(other_echo, pki):
    session = start(other_echo.port, pki.client_options())
    assert handshake(other_echo, session) is Status.ERROR
    assert session.statuses == [Status.HANDSHAKING, Status.ERROR]


# ------------------------------------------------------- handshake failures, timing


def test_handshake_against_silent_port_times_out_into_error(pki, silent, dtls_log):
    client = PacketPeerDTLS(handshake_timeout=1.5)
    session = start(silent.getsockname()[1], pki.client_options(), client=client)
    began = time.monotonic()
    assert poll_until(client, until=lambda: client.get_status() is not Status.HANDSHAKING)
    elapsed = time.monotonic() - began
    assert client.get_status() is Status.ERROR
    assert 1.4 <= elapsed < 3.0
    assert session.statuses == [Status.HANDSHAKING, Status.ERROR]
    assert any("timed out" in line or "timeout" in line for line in error_lines(dtls_log))
    # The ClientHello was retransmitted (1 s initial timer) before giving up.
    hellos = drain(silent)
    assert len(hellos) >= 2 and all(is_client_hello(d) for d in hellos)


def test_handshake_against_closed_port_ends_in_error_quickly(pki, dtls_log):
    session = start(closed_port(), pki.client_options())
    client = session.client
    began = time.monotonic()
    assert poll_until(client, until=lambda: client.get_status() is not Status.HANDSHAKING)
    assert client.get_status() is Status.ERROR
    assert time.monotonic() - began < 0.9  # before the first retransmission
    assert error_lines(dtls_log)


def test_hostname_mismatch_is_status_error_hostname_mismatch(echo, pki, dtls_log):
    # Deliberate difference: the engine reports 3 here; godot-dtls reports 4.
    session = start(echo.port, pki.client_options(), "wrong.example")
    assert handshake(echo, session) is Status.ERROR_HOSTNAME_MISMATCH
    assert session.client.get_status() == 4
    assert error_lines(dtls_log)


def test_empty_hostname_is_refused_by_connect_to_peer(echo, pki, dtls_log):
    # Deliberate difference: the engine sends the empty name and fails the handshake;
    # a name no certificate can match is refused at the call (test_hostname_check.py).
    client = PacketPeerDTLS()
    assert client.connect_to_peer(udp_to(echo.port), "", pki.client_options()) == (
        Error.ERR_INVALID_PARAMETER
    )
    assert client.get_status() is Status.DISCONNECTED
    assert "empty name" in client.get_last_error_message()
    assert error_lines(dtls_log)


def test_untrusted_ca_is_status_error(other_echo, pki):
    session = start(other_echo.port, pki.client_options())
    assert handshake(other_echo, session) is Status.ERROR


def test_untrusted_ca_with_wrong_name_is_status_error_not_mismatch(other_echo, pki):
    # Status 4 only when the chain is trusted.
    session = start(other_echo.port, pki.client_options(), "wrong.example")
    assert handshake(other_echo, session) is Status.ERROR


def test_client_unsafe_accepts_any_certificate(other_echo):
    session = start(other_echo.port, TLSOptions.client_unsafe(), "any.name")
    assert handshake(other_echo, session) is Status.CONNECTED
    assert roundtrip(other_echo, session.client, b"unsafe") == b"unsafe"


def test_client_unsafe_with_chain_checks_the_chain_but_not_the_name(echo, other_echo, pki):
    options = TLSOptions.client_unsafe(pki.ca_certificate())
    good = start(echo.port, options, "not.the.name")
    assert handshake(echo, good) is Status.CONNECTED
    bad = start(other_echo.port, options, "localhost")
    assert handshake(other_echo, bad) is Status.ERROR


def test_common_name_override_replaces_the_hostname(echo, pki):
    session = start(echo.port, pki.client_options(common_name_override="localhost"), "other")
    assert handshake(echo, session) is Status.CONNECTED
    wrong = start(echo.port, pki.client_options(common_name_override="other"), "localhost")
    assert handshake(echo, wrong) is Status.ERROR_HOSTNAME_MISMATCH


def test_ip_hostname_matches_ip_subject_alt_name(echo, pki):
    session = start(echo.port, pki.client_options(), "127.0.0.1")
    assert handshake(echo, session) is Status.CONNECTED
    assert roundtrip(echo, session.client, b"by ip") == b"by ip"


def test_other_ip_hostname_is_hostname_mismatch(echo, pki):
    session = start(echo.port, pki.client_options(), "127.0.0.2")
    assert handshake(echo, session) is Status.ERROR_HOSTNAME_MISMATCH


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind((V6, 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_hostname_over_ipv6_udp(pki):
    server = EchoServer(pki.server_options(), bind_address=V6)
    try:
        session = start(server.port, pki.client_options(), V6, host=V6)
        assert handshake(server, session) is Status.CONNECTED
        assert roundtrip(server, session.client, b"v6") == b"v6"
        mismatch = start(server.port, pki.client_options(), "::2", host=V6)
        assert handshake(server, mismatch) is Status.ERROR_HOSTNAME_MISMATCH
    finally:
        server.stop()


def test_rsa_certificates_connect(rsa_pki):
    server = EchoServer(rsa_pki.server_options())
    try:
        session = start(server.port, rsa_pki.client_options())
        assert handshake(server, session) is Status.CONNECTED
        assert roundtrip(server, session.client, b"rsa") == b"rsa"
    finally:
        server.stop()


# ----------------------------------------------- 3.2 / 4: stray and malformed input


def inject(echo: EchoServer, session: Session, datagram: bytes) -> None:
    """Send ``datagram`` to the client from the server's own address and port (through a
    duplicate of the UDPServer socket, so the client's connected socket accepts it)."""
    with socket.fromfd(echo.udp_server.fileno(), socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(datagram, (V4, session.udp.get_local_port()))


def fake_record(content_type: int, epoch: int, body: bytes) -> bytes:
    header = bytes([content_type, 0xFE, 0xFD]) + epoch.to_bytes(2, "big")
    return header + (1000).to_bytes(6, "big") + len(body).to_bytes(2, "big") + body


@pytest.mark.parametrize(
    "datagram",
    [
        bytes(range(40)),
        fake_record(23, 1, bytes(48)),  # application data failing its MAC
        fake_record(21, 1, bytes(26)),  # an "alert" that does not decrypt
        fake_record(22, 0, b"\x01" + bytes(20)),  # a broken epoch-0 handshake record
    ],
    ids=["garbage", "bad-mac-appdata", "bad-mac-alert", "broken-handshake"],
)
def test_stray_records_are_discarded_silently(echo, connected, datagram):
    inject(echo, connected, datagram)
    poll_for(echo, connected.client, seconds=0.02)
    assert connected.client.get_status() is Status.CONNECTED
    assert connected.client.get_packet() == b""
    assert connected.client.get_packet_error() == OK
    assert roundtrip(echo, connected.client, b"unharmed") == b"unharmed"


def test_oversize_inbound_datagram_is_dropped_and_counted(echo, connected):
    # Deliberate difference: the engine copies it unchecked; godot-dtls drops it.
    inject(echo, connected, fake_record(23, 1, bytes(20000)))
    assert poll_until(
        echo,
        connected.client,
        until=lambda: connected.client.get_stats()["datagrams_dropped_oversize"] == 1,
    )
    assert connected.client.get_status() is Status.CONNECTED
    assert roundtrip(echo, connected.client, b"unharmed") == b"unharmed"


def wait_for_icmp(udp: PacketPeerUDP) -> None:
    """Wait (bounded) until the connected socket holds a pending ICMP error."""
    deadline = time.monotonic() + 1.0
    while udp.wait(0.01) != Error.FAILED and time.monotonic() < deadline:
        pass


def test_server_gone_poll_ends_connected_peer_in_error(echo, connected, dtls_log):
    client = connected.client
    echo.stop()  # the port is closed now: the next datagram draws ICMP unreachable
    assert client.put_packet(b"anyone?") == OK
    wait_for_icmp(connected.udp)
    dtls_log.clear()
    client.poll()
    assert client.get_status() is Status.ERROR
    assert error_lines(dtls_log)


def test_server_gone_get_packet_reports_connection_error(echo, connected):
    client = connected.client
    echo.stop()
    assert client.put_packet(b"anyone?") == OK
    wait_for_icmp(connected.udp)
    assert client.get_packet() == b""
    assert client.get_packet_error() == Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.ERROR


def test_put_packet_transport_failure_disconnects_with_connection_error(echo, connected):
    client = connected.client
    echo.stop()
    assert client.put_packet(b"first") == OK
    wait_for_icmp(connected.udp)  # the next send fails with "connection refused"
    assert client.put_packet(b"second") == Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.DISCONNECTED


def test_connected_peer_has_no_idle_timeout(echo, pki):
    # The handshake limit must not apply once connected (no keep-alive, no idle timer).
    client = PacketPeerDTLS(handshake_timeout=0.3)
    session = start(echo.port, pki.client_options(), client=client)
    assert handshake(echo, session) is Status.CONNECTED
    poll_for(echo, client, seconds=0.5)
    assert client.get_status() is Status.CONNECTED
    assert roundtrip(echo, client, b"still here") == b"still here"


class DuplicatingRelay:
    """A UDP relay between one client and a server that sends every datagram twice."""

    def __init__(self, server_port: int) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((V4, 0))
        self.front.setblocking(False)
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect((V4, server_port))
        self.back.setblocking(False)
        self.client_address: Any = None
        self.forwarded = 0

    @property
    def port(self) -> int:
        return self.front.getsockname()[1]

    def poll(self) -> None:
        while True:
            try:
                data, self.client_address = self.front.recvfrom(65536)
            except BlockingIOError:
                break
            for _ in range(2):
                self.back.send(data)
        for data in drain(self.back):
            for _ in range(2):
                self.front.sendto(data, self.client_address)
            self.forwarded += 1

    def close(self) -> None:
        self.front.close()
        self.back.close()


def test_duplicated_datagrams_are_discarded_by_anti_replay(echo, pki):
    relay = DuplicatingRelay(echo.port)
    try:
        session = start(relay.port, pki.client_options())
        client = session.client
        assert poll_until(
            echo, relay, client, until=lambda: client.get_status() is Status.CONNECTED
        )
        payloads = [b"once-%d" % i for i in range(5)]
        for payload in payloads:
            assert client.put_packet(payload) == OK
        assert poll_until(
            echo, relay, client, until=lambda: client.get_available_packet_count() >= 5
        )
        poll_for(echo, relay, client, seconds=0.05)
        assert echo.packets_echoed == len(payloads)  # the server saw each packet once
        assert client.get_available_packet_count() == len(payloads)
        assert [client.get_packet() for _ in payloads] == payloads
        assert client.get_status() is Status.CONNECTED
    finally:
        relay.close()


def test_empty_inbound_datagram_is_ignored_and_counted(echo, connected):
    """Deliberate difference (README): the engine reads an empty datagram as end-of-stream
    and fails the connection; godot-dtls ignores it, so one spoofed datagram cannot end a
    session, and counts it."""
    client = connected.client
    try:
        inject(echo, connected, b"")
        deadline = time.monotonic() + 0.5
        stats = client.get_stats()
        while stats["datagrams_dropped_empty"] == 0 and time.monotonic() < deadline:
            client.poll()
            stats = client.get_stats()
            time.sleep(0.001)
        assert stats["datagrams_dropped_empty"] == 1
        assert client.get_packet() == b""
        assert client.get_packet_error() == OK
        assert client.get_status() is Status.CONNECTED
        assert roundtrip(echo, client, b"still alive") == b"still alive"
    finally:
        client.disconnect_from_peer()


# ------------------------------------------------------------------- reconnecting


def test_reconnect_same_object_after_disconnected_with_new_udp(echo, connected, pki):
    client = connected.client
    client.disconnect_from_peer()
    again = start(echo.port, pki.client_options(), client=client)
    assert handshake(echo, again) is Status.CONNECTED
    assert roundtrip(echo, client, b"second life") == b"second life"


def test_reconnect_same_object_and_same_udp_after_disconnected(echo, connected, pki):
    client = connected.client
    server_peer = echo.peers[0]
    client.disconnect_from_peer()
    assert poll_until(echo, until=lambda: server_peer.get_status() is Status.DISCONNECTED)
    again = start(echo.port, pki.client_options(), client=client, udp=connected.udp)
    assert handshake(echo, again) is Status.CONNECTED
    assert roundtrip(echo, client, b"same port") == b"same port"


def test_reconnect_same_object_after_error(echo, other_echo, pki):
    client = PacketPeerDTLS()
    failed = start(other_echo.port, pki.client_options(), client=client)
    assert handshake(other_echo, failed) is Status.ERROR
    again = start(echo.port, pki.client_options(), client=client)
    assert again.client.get_status() is Status.HANDSHAKING
    assert handshake(echo, again) is Status.CONNECTED
    assert roundtrip(echo, client, b"recovered") == b"recovered"


def test_reconnect_same_object_after_hostname_mismatch(echo, pki):
    client = PacketPeerDTLS()
    failed = start(echo.port, pki.client_options(), "wrong.example", client=client)
    assert handshake(echo, failed) is Status.ERROR_HOSTNAME_MISMATCH
    again = start(echo.port, pki.client_options(), client=client)
    assert handshake(echo, again) is Status.CONNECTED


def test_reconnect_same_object_after_closed_port_error(echo, pki):
    client = PacketPeerDTLS()
    failed = start(closed_port(), pki.client_options(), client=client)
    assert poll_until(client, until=lambda: client.get_status() is Status.ERROR)
    assert failed.statuses == [Status.HANDSHAKING, Status.ERROR]
    again = start(echo.port, pki.client_options(), client=client)
    assert handshake(echo, again) is Status.CONNECTED
