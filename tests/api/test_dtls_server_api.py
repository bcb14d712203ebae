"""DTLSServer (spec 2.3, 3.2 server rows, 5.3, 5.4) over real loopback UDP.

A "manual" server is the loop a Godot script writes: UDPServer.poll(), take_connection()
from it, DTLSServer.take_connection() on the UDP peer, poll the DTLS peers. It lets the
tests look at every peer take_connection() returns, the cookie exchange included.
Every wait is a bounded poll loop (1 ms per iteration), never a fixed sleep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from godot_dtls import (
    CryptoKey,
    DTLSServer,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    UDPServer,
    X509Certificate,
)
from godot_dtls.tools.serve import EchoServer
from support.polling import poll_until

V4 = "127.0.0.1"
DEADLINE = 5.0
OK = Error.OK


# ------------------------------------------------------------------------------- helpers


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("godot_dtls") and record.levelno >= logging.ERROR
    ]


def udp_to(port: int) -> PacketPeerUDP:
    udp = PacketPeerUDP()
    assert udp.connect_to_host(V4, port) == OK
    return udp


def new_client(port: int, options: TLSOptions, hostname: str = "localhost") -> PacketPeerDTLS:
    client = PacketPeerDTLS()
    client.udp = udp_to(port)  # keep the UDP peer alive with the client
    assert client.connect_to_peer(client.udp, hostname, options) == OK
    return client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ManualServer:
    """UDPServer + DTLSServer, driven step by step by the test."""

    udp_server: UDPServer
    dtls_server: DTLSServer
    peers: list[PacketPeerDTLS] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.udp_server.get_local_port()

    def poll(self) -> None:
        self.udp_server.poll()
        for peer in self.peers:
            peer.poll()

    def next_udp_peer(self, *clients: PacketPeerDTLS) -> PacketPeerUDP | None:
        """Poll (server and clients) until a UDP peer is pending, then take it."""
        poll_until(self.udp_server, *clients, until=self.udp_server.is_connection_available)
        return self.udp_server.take_connection()

    def accept(self, *clients: PacketPeerDTLS) -> PacketPeerDTLS | None:
        udp_peer = self.next_udp_peer(*clients)
        assert udp_peer is not None
        peer = self.dtls_server.take_connection(udp_peer)
        if peer is not None and peer.get_status() is Status.HANDSHAKING:
            self.peers.append(peer)
        return peer


@pytest.fixture
def udp_server() -> Iterator[UDPServer]:
    server = UDPServer()
    assert server.listen(0, V4) == OK
    yield server
    server.stop()


@pytest.fixture
def manual(pki, udp_server) -> ManualServer:
    dtls_server = DTLSServer()
    assert dtls_server.setup(pki.server_options()) == OK
    return ManualServer(udp_server, dtls_server)


def connect_through(manual: ManualServer, client: PacketPeerDTLS) -> PacketPeerDTLS:
    """Cookie exchange and handshake; the server-side peer, CONNECTED."""
    first = manual.accept(client)
    assert first is not None and first.get_status() is Status.ERROR
    second = manual.accept(client)
    assert second is not None and second.get_status() is Status.HANDSHAKING
    assert poll_until(
        manual,
        client,
        until=lambda: (
            client.get_status() is Status.CONNECTED and second.get_status() is Status.CONNECTED
        ),
    )
    return second


# ------------------------------------------------------------------------------- setup


def test_setup_none_is_invalid_parameter(dtls_log):
    server = DTLSServer()
    assert server.setup(None) == Error.ERR_INVALID_PARAMETER
    assert error_lines(dtls_log)


@pytest.mark.parametrize("kind", ["client", "client_chain", "client_unsafe", "not_options"])
def test_setup_with_non_server_options_is_invalid_parameter(pki, kind, dtls_log):
    options = {
        "client": lambda: TLSOptions.client(),
        "client_chain": lambda: pki.client_options(),
        "client_unsafe": lambda: TLSOptions.client_unsafe(),
        "not_options": lambda: "server options",
    }[kind]()
    server = DTLSServer()
    assert server.setup(options) == Error.ERR_INVALID_PARAMETER
    assert error_lines(dtls_log)


def test_setup_ok_then_second_setup_is_already_in_use(pki, other_pki, dtls_log):
    server = DTLSServer()
    assert server.setup(pki.server_options()) == OK
    dtls_log.clear()
    assert server.setup(pki.server_options()) == Error.ERR_ALREADY_IN_USE
    assert server.setup(other_pki.server_options()) == Error.ERR_ALREADY_IN_USE
    assert error_lines(dtls_log)


def test_second_setup_keeps_the_first_configuration(pki, other_pki, udp_server):
    dtls_server = DTLSServer()
    assert dtls_server.setup(pki.server_options()) == OK
    assert dtls_server.setup(other_pki.server_options()) == Error.ERR_ALREADY_IN_USE
    manual = ManualServer(udp_server, dtls_server)
    client = new_client(manual.port, pki.client_options())
    connect_through(manual, client)  # pki's certificate is still the one presented


def test_setup_after_a_rejected_setup_succeeds(pki):
    server = DTLSServer()
    assert server.setup(TLSOptions.client()) == Error.ERR_INVALID_PARAMETER
    assert server.setup(pki.server_options()) == OK


def test_setup_with_key_not_matching_certificate_is_invalid_parameter(pki, other_pki, dtls_log):
    # Refused in setup(); the engine accepts it and fails each take_connection instead.
    server = DTLSServer()
    options = TLSOptions.server(other_pki.server_key(), pki.server_chain())
    assert server.setup(options) == Error.ERR_INVALID_PARAMETER
    assert error_lines(dtls_log)
    assert server.take_connection(udp_to(9)) is None  # still not set up
    assert server.setup(pki.server_options()) == OK


@pytest.mark.parametrize(
    "missing", ["key", "certificate", "empty_key", "empty_certificate", "public_key_only"]
)
def test_server_options_without_a_usable_key_or_certificate_are_refused_at_once(pki, missing):
    """TLSOptions.server() refuses them at the call (the engine accepts them and fails
    every take_connection)."""
    key, chain = pki.server_key(), pki.server_chain()
    if missing == "key":
        key = None
    elif missing == "certificate":
        chain = None
    elif missing == "empty_key":
        key = CryptoKey()
    elif missing == "empty_certificate":
        chain = X509Certificate()
    else:
        key = CryptoKey.from_pem(key.save_to_string(public_only=True), public_only=True)
    name = "certificate" if "certificate" in missing else "key"
    with pytest.raises((TypeError, ValueError), match=name):
        TLSOptions.server(key, chain)


# --------------------------------------------------------------------- take_connection


def test_take_connection_before_setup_returns_none(pki, udp_server, dtls_log):
    client = new_client(udp_server.get_local_port(), pki.client_options())
    poll_until(udp_server, client, until=udp_server.is_connection_available)
    udp_peer = udp_server.take_connection()
    assert udp_peer is not None and udp_peer.is_socket_connected()
    dtls_log.clear()
    assert DTLSServer().take_connection(udp_peer) is None
    assert error_lines(dtls_log)


def test_take_connection_none_returns_none(manual, dtls_log):
    dtls_log.clear()
    assert manual.dtls_server.take_connection(None) is None
    assert error_lines(dtls_log)


@pytest.mark.parametrize("udp_peer", ["udp", 5, object()])
def test_take_connection_non_udp_object_returns_none(manual, udp_peer):
    assert manual.dtls_server.take_connection(udp_peer) is None


def test_take_connection_unconnected_udp_gives_disconnected_peer(manual, dtls_log):
    bound = PacketPeerUDP()
    assert bound.bind(0, V4) == OK
    try:
        for udp_peer in (PacketPeerUDP(), bound):
            dtls_log.clear()
            peer = manual.dtls_server.take_connection(udp_peer)
            assert isinstance(peer, PacketPeerDTLS)
            assert peer.get_status() is Status.DISCONNECTED
            assert error_lines(dtls_log)
    finally:
        bound.close()


def test_take_connection_closed_server_udp_peer_gives_disconnected_peer(manual, pki):
    client = new_client(manual.port, pki.client_options())
    udp_peer = manual.next_udp_peer(client)
    assert udp_peer is not None
    udp_peer.close()
    peer = manual.dtls_server.take_connection(udp_peer)
    assert peer is not None and peer.get_status() is Status.DISCONNECTED


def test_first_client_hello_gives_error_peer_and_the_retry_a_handshaking_peer(
    manual, pki, dtls_log
):
    client = new_client(manual.port, pki.client_options())
    first_udp = manual.next_udp_peer(client)
    assert first_udp is not None
    dtls_log.clear()
    first = manual.dtls_server.take_connection(first_udp)
    assert isinstance(first, PacketPeerDTLS)
    assert first.get_status() is Status.ERROR  # HelloVerifyRequest sent
    assert error_lines(dtls_log) == []  # silent, as in the engine
    first.poll()
    assert first.get_status() is Status.ERROR
    # The script still holds first_udp: the retry must become a new connection anyway
    # (deliberate difference: the engine needs the script to drop first_udp).
    second_udp = manual.next_udp_peer(client)
    assert second_udp is not None and second_udp is not first_udp
    second = manual.dtls_server.take_connection(second_udp)
    assert second is not None and second.get_status() is Status.HANDSHAKING
    manual.peers.append(second)
    assert poll_until(
        manual,
        client,
        until=lambda: (
            client.get_status() is Status.CONNECTED and second.get_status() is Status.CONNECTED
        ),
    )
    assert client.get_status() is Status.CONNECTED
    assert first.get_status() is Status.ERROR
    assert not manual.udp_server.is_connection_available()


def expired_cookie_setup(pki, udp_server) -> tuple[ManualServer, PacketPeerDTLS]:
    """A server with a fake clock and a client whose first ClientHello got a cookie; the
    server's clock then jumps 61 s, so the cookie the client sends next has expired."""
    clock = FakeClock()
    dtls_server = DTLSServer(clock=clock)
    assert dtls_server.setup(pki.server_options()) == OK
    manual = ManualServer(udp_server, dtls_server)
    client = new_client(manual.port, pki.client_options())
    first = manual.accept(client)
    assert first is not None and first.get_status() is Status.ERROR
    clock.now += 61.0  # the cookie the client now sends is older than 60 s
    return manual, client


def test_expired_cookie_gets_a_fresh_hello_verify_request(pki, udp_server):
    manual, client = expired_cookie_setup(pki, udp_server)
    stale = manual.accept(client)
    assert stale is not None and stale.get_status() is Status.ERROR
    assert manual.peers == []


def test_client_recovers_from_an_expired_cookie_without_waiting(pki, udp_server):
    # The server answers the stale cookie with a new HelloVerifyRequest; OpenSSL's client
    # would ignore it and a DTLSv1_listen server could not continue its message_seq 2
    # ClientHello anyway, so the client starts a new handshake at once.
    manual, client = expired_cookie_setup(pki, udp_server)
    stale = manual.accept(client)
    assert stale is not None and stale.get_status() is Status.ERROR

    def accept_all() -> bool:
        while manual.udp_server.is_connection_available():
            peer = manual.dtls_server.take_connection(manual.udp_server.take_connection())
            if peer is not None and peer.get_status() is Status.HANDSHAKING:
                manual.peers.append(peer)
        return client.get_status() is Status.CONNECTED

    # Well before the client's 1 s retransmission timer (which resends the stale cookie).
    assert poll_until(manual, client, until=accept_all, timeout=0.8)
    assert client.get_stats()["handshake_restarts"] == 1


@pytest.mark.parametrize(
    ("failure", "client_status"),
    [("untrusted", Status.ERROR), ("name_mismatch", Status.ERROR_HOSTNAME_MISMATCH)],
)
def test_client_rejecting_the_certificate_ends_the_server_peer_in_error(
    manual, pki, other_pki, failure, client_status
):
    # Spec 3.2: a verification failure sends an alert; a handshaking peer receiving a
    # fatal alert ends in ERROR.
    if failure == "untrusted":
        client = new_client(manual.port, other_pki.client_options())
    else:
        client = new_client(manual.port, pki.client_options(), "wrong.example")
    first = manual.accept(client)
    assert first is not None and first.get_status() is Status.ERROR
    server_peer = manual.accept(client)
    assert server_peer is not None and server_peer.get_status() is Status.HANDSHAKING
    assert poll_until(
        manual,
        client,
        until=lambda: (
            client.get_status() is not Status.HANDSHAKING
            and server_peer.get_status() is not Status.HANDSHAKING
        ),
    )
    assert client.get_status() is client_status
    assert server_peer.get_status() is Status.ERROR


def test_server_peer_api_in_connected_state(manual, pki):
    client = new_client(manual.port, pki.client_options())
    server_peer = connect_through(manual, client)
    assert server_peer.get_available_packet_count() == 0
    assert server_peer.get_packet() == b""
    assert server_peer.get_packet_error() == OK
    # server -> client
    assert server_peer.put_packet(b"from server") == OK
    assert server_peer.put_var({"n": 1}) == OK
    assert poll_until(manual, client, until=lambda: client.get_available_packet_count() == 2)
    assert client.get_packet() == b"from server"
    assert client.get_var() == {"n": 1}
    # client -> server
    for i in range(3):
        assert client.put_packet(b"c%d" % i) == OK
    assert poll_until(manual, until=lambda: server_peer.get_available_packet_count() == 3)
    assert [server_peer.get_packet() for _ in range(3)] == [b"c0", b"c1", b"c2"]
    assert server_peer.put_packet(b"z" * 16385) == Error.ERR_INVALID_PARAMETER
    assert server_peer.get_status() is Status.CONNECTED
    assert server_peer.connect_to_peer(udp_to(manual.port), "localhost") == (
        Error.ERR_ALREADY_IN_USE
    )


def test_server_disconnect_from_peer_reaches_the_client(manual, pki):
    client = new_client(manual.port, pki.client_options())
    server_peer = connect_through(manual, client)
    server_peer.disconnect_from_peer()
    assert server_peer.get_status() is Status.DISCONNECTED
    assert server_peer.put_packet(b"late") == Error.ERR_UNCONFIGURED
    assert poll_until(client, until=lambda: client.get_status() is not Status.CONNECTED)
    assert client.get_status() is Status.DISCONNECTED


def test_client_disconnect_reaches_the_server_peer(manual, pki):
    client = new_client(manual.port, pki.client_options())
    server_peer = connect_through(manual, client)
    client.disconnect_from_peer()
    assert poll_until(manual, until=lambda: server_peer.get_status() is not Status.CONNECTED)
    assert server_peer.get_status() is Status.DISCONNECTED
    assert server_peer.get_packet() == b""
    assert server_peer.get_packet_error() == Error.ERR_UNCONFIGURED


def test_client_restarting_from_the_same_port_replaces_the_connection(pki):
    # Spec 3.2, server side: a ClientHello without cookie leaves the old connection up
    # (HelloVerifyRequest sent); with a valid cookie the old connection ends in ERROR and
    # the client's retransmitted ClientHello becomes a new connection.
    echo = EchoServer(pki.server_options())
    try:
        old_client = new_client(echo.port, pki.client_options())
        assert poll_until(
            echo, old_client, until=lambda: old_client.get_status() is Status.CONNECTED
        )
        old_server_peer = echo.peers[0]
        assert poll_until(echo, until=lambda: old_server_peer.get_status() is Status.CONNECTED)
        # A restarted client on the same UDP port (the old object is simply never polled).
        new = PacketPeerDTLS()
        assert new.connect_to_peer(old_client.udp, "localhost", pki.client_options()) == OK
        echo.poll()  # ClientHello without cookie: HelloVerifyRequest, connection unchanged
        assert old_server_peer.get_status() is Status.CONNECTED
        assert poll_until(echo, new, until=lambda: new.get_status() is Status.CONNECTED)
        assert old_server_peer.get_status() is Status.ERROR
        assert echo.connections == 2
        assert new.put_packet(b"fresh") == OK
        assert poll_until(echo, new, until=lambda: new.get_available_packet_count() > 0)
        assert new.get_packet() == b"fresh"
        old_client.status_changed = None
    finally:
        echo.stop()


def test_many_clients_connect_at_once(pki):
    echo = EchoServer(pki.server_options(), max_pending_connections=64)
    try:
        clients = [new_client(echo.port, pki.client_options()) for _ in range(20)]
        assert poll_until(
            echo,
            *clients,
            until=lambda: all(c.get_status() is Status.CONNECTED for c in clients),
        )
        for index, client in enumerate(clients):
            assert client.put_packet(b"client-%d" % index) == OK
        assert poll_until(
            echo,
            *clients,
            until=lambda: all(c.get_available_packet_count() == 1 for c in clients),
        )
        assert [c.get_packet() for c in clients] == [b"client-%d" % i for i in range(20)]
        assert echo.connections == 20
        assert len(echo.peers) == 20
    finally:
        echo.stop()


def test_many_clients_beyond_max_pending_still_connect_by_retransmission(pki):
    # 20 simultaneous ClientHellos, 16 pending slots: the dropped ones retry after 1 s.
    echo = EchoServer(pki.server_options())
    assert echo.udp_server.max_pending_connections == 16
    try:
        clients = [new_client(echo.port, pki.client_options()) for _ in range(20)]
        assert poll_until(
            echo,
            *clients,
            until=lambda: all(c.get_status() is Status.CONNECTED for c in clients),
        )
    finally:
        echo.stop()
