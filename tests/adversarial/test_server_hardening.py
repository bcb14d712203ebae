"""Server hardening over real loopback UDP: floods, amplification, caps, half-open expiry."""

from __future__ import annotations

import socket
import time

import pytest

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.api.context import client_context
from godot_dtls.core.connection import DTLSConnection
from godot_dtls.core.records import (
    HANDSHAKE_HELLO_VERIFY_REQUEST,
    RECORD_HEADER_SIZE,
    handshake_type,
)
from godot_dtls.tools.serve import EchoServer, wait_readable
from support.loopback import connect


def first_client_hello(options: TLSOptions) -> bytes:
    client = DTLSConnection(client_context(options), is_client=True, server_name="localhost")
    client.start(0.0)
    (hello,) = client.datagrams_to_send()
    return hello


def test_cookie_flood_keeps_no_state_and_never_amplifies(pki):
    server = EchoServer(pki.server_options(), max_pending_connections=16)
    hello = first_client_hello(pki.client_options())
    sockets: list[socket.socket] = []
    try:
        for _ in range(200):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            sockets.append(sock)
        sent = 0
        for round_number in range(5):
            for sock in sockets:
                sock.sendto(hello, ("127.0.0.1", server.port))
                sent += 1
            # Let the server work through the burst, as a game frame loop would.
            for _ in range(50):
                server.poll()
                assert len(server.udp_server._pending) <= 16
            if round_number == 2:
                # A real client still gets served in the middle of the flood.
                genuine = connect(server, pki.client_options())
                assert genuine.get_status() is Status.CONNECTED
        replies = []
        for sock in sockets:
            while True:
                try:
                    replies.append(sock.recv(2048))
                except BlockingIOError:
                    break
        assert replies, "the server answered nobody"
        for reply in replies:
            assert handshake_type(reply) == HANDSHAKE_HELLO_VERIFY_REQUEST
            assert len(reply) <= len(hello), "HelloVerifyRequest larger than the ClientHello"
        # Only the genuine client holds state on the DTLS side.
        assert server.connections == 1
        assert len(server.peers) == 1
        print(
            f"\nflood: {sent} spoofed ClientHellos, {len(replies)} HelloVerifyRequests "
            f"of {len(replies[0])} B for {len(hello)} B, DTLS peers kept: {len(server.peers)}"
        )
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_handshakes_beyond_the_cap_are_refused_then_served_on_retry(pki):
    dtls_server = DTLSServer(max_handshakes=1)
    server = EchoServer(pki.server_options(), dtls_server=dtls_server)
    udps = []
    clients = []
    try:
        for _ in range(3):
            udp = PacketPeerUDP()
            assert udp.connect_to_host("127.0.0.1", server.port) == Error.OK
            peer = PacketPeerDTLS()
            assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == Error.OK
            udps.append(udp)
            clients.append(peer)
        deadline = time.monotonic() + 15.0
        most_at_once = 0
        while time.monotonic() < deadline:
            server.poll()
            for peer in clients:
                peer.poll()
            handshaking = sum(1 for p in server.peers if p.get_status() is Status.HANDSHAKING)
            most_at_once = max(most_at_once, handshaking)
            if all(p.get_status() is Status.CONNECTED for p in clients):
                break
            wait_readable([server.fileno(), *(u.fileno() for u in udps)], 0.005)
        assert [p.get_status() for p in clients] == [Status.CONNECTED] * 3
        assert most_at_once <= 1
    finally:
        server.stop()


def test_unread_packets_are_capped_and_the_excess_counted(pki):
    server = EchoServer(pki.server_options())
    try:
        peer = connect(server, pki.client_options())
        assert peer.get_status() is Status.CONNECTED
        connection = peer.get_connection()
        assert connection is not None
        connection.max_queued_packets = 10
        for index in range(40):
            assert peer.put_packet(b"%d" % index) == Error.OK
        deadline = time.monotonic() + 5.0
        while connection.stats.packets_dropped_queue_full < 30 and time.monotonic() < deadline:
            server.poll()
            peer.poll()
            time.sleep(0.002)
        assert peer.get_available_packet_count() == 10
        assert connection.stats.packets_dropped_queue_full == 30
        assert [peer.get_packet() for _ in range(10)] == [b"%d" % i for i in range(10)]
    finally:
        server.stop()


def test_half_open_handshake_expires_on_the_server(pki):
    dtls_server = DTLSServer(handshake_timeout=1.0)
    server = EchoServer(pki.server_options(), dtls_server=dtls_server)
    try:
        client = DTLSConnection(
            client_context(pki.client_options()), is_client=True, server_name="localhost"
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2.0)
        sock.connect(("127.0.0.1", server.port))
        client.start(0.0)
        sock.send(client.datagrams_to_send()[0])
        deadline = time.monotonic() + 3.0
        while server.cookie_exchanges == 0 and time.monotonic() < deadline:
            server.poll()
            time.sleep(0.002)
        client.receive_datagram(sock.recv(2048), 0.0)
        sock.send(client.datagrams_to_send()[0])  # ClientHello with the cookie, then silence
        while not server.peers and time.monotonic() < deadline:
            server.poll()
            time.sleep(0.002)
        assert len(server.peers) == 1
        half_open = server.peers[0]
        started = time.monotonic()
        while server.peers and time.monotonic() < started + 4.0:
            server.poll()
            time.sleep(0.01)
        assert not server.peers
        assert half_open.get_status() is Status.ERROR
        assert "timed out" in half_open.get_last_error_message()
        sock.close()
    finally:
        server.stop()


@pytest.mark.parametrize("hostname", ["localhost"])
def test_dtls_1_0_client_hello_gets_no_handshake(pki, hostname):
    """The server speaks DTLS 1.2 only: a DTLS 1.0 ClientHello gets no server flight."""
    hello = bytearray(first_client_hello(pki.client_options()))
    # Record version and ClientHello client_version to DTLS 1.0 (0xFEFF).
    hello[1:3] = b"\xfe\xff"
    hello[RECORD_HEADER_SIZE + 12 : RECORD_HEADER_SIZE + 14] = b"\xfe\xff"
    server = EchoServer(pki.server_options())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(("127.0.0.1", server.port))
        sock.send(bytes(hello))
        deadline = time.monotonic() + 1.0
        replies = []
        while time.monotonic() < deadline:
            server.poll()
            try:
                replies.append(sock.recv(4096))
            except BlockingIOError:
                time.sleep(0.005)
        for reply in replies:
            # A HelloVerifyRequest (stateless) or an alert, but never a server flight.
            assert len(reply) < 200
        assert server.connections == 0
    finally:
        sock.close()
        server.stop()
