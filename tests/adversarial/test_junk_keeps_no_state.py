"""Junk from new addresses keeps no DTLS state on the server.

Until a ClientHello carries a valid cookie, a server holds nothing per address: no
OpenSSL object, no peer in ``STATUS_HANDSHAKING``, no UDP peer left registered. Each
junk datagram gets a ``take_connection`` result in ``STATUS_ERROR`` whose UDP peer is
released, and the count of live OpenSSL connection objects does not grow with the
number of senders. Real UDP sockets on 127.0.0.1, each bound to its own port.
"""

from __future__ import annotations

import gc
import random
import socket
from typing import Iterator

import pytest
from OpenSSL import SSL

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, PacketPeerUDP, Status, UDPServer
from godot_dtls.core.records import RECORD_HEADER_SIZE
from support.loopback import connect
from support.polling import poll_for, poll_until

HOST = "127.0.0.1"
SENDERS = 200


def first_client_hello() -> bytes:
    """A real ClientHello (no cookie), to cut junk out of."""
    from godot_dtls import TLSOptions
    from godot_dtls.api.context import client_context
    from godot_dtls.core.connection import DTLSConnection

    client = DTLSConnection(
        client_context(TLSOptions.client_unsafe()), is_client=True, server_name="localhost"
    )
    client.start(0.0)
    (hello,) = client.datagrams_to_send()
    return hello


def junk_datagrams() -> list[tuple[str, bytes]]:
    """First datagrams that are no usable ClientHello, of every kind a scan or a spoofed
    flood sends."""
    rng = random.Random(10)
    hello = first_client_hello()
    second_fragment = bytearray(hello)
    second_fragment[RECORD_HEADER_SIZE + 8] = 1  # fragment offset 1: not a first fragment
    not_a_hello = bytearray(hello)
    not_a_hello[RECORD_HEADER_SIZE] = 2  # ServerHello
    epoch_one = bytearray(hello)
    epoch_one[4] = 1
    return [
        ("random bytes", bytes(rng.getrandbits(8) for _ in range(200))),
        ("one byte", b"\x00"),
        ("a bare record header", b"\x16\xfe\xfd" + bytes(8) + b"\x00\x00"),
        ("application data", b"\x17\xfe\xfd\x00\x01" + bytes(6) + b"\x00\x05hello"),
        ("an alert", b"\x15\xfe\xfd" + bytes(8) + b"\x00\x02\x02\x28"),
        ("a ClientHello cut short", hello[: len(hello) // 2]),
        ("a later ClientHello fragment", bytes(second_fragment)),
        ("a ServerHello", bytes(not_a_hello)),
        ("a ClientHello in epoch 1", bytes(epoch_one)),
        ("an empty datagram", b""),
        ("a jumbo datagram", bytes(rng.getrandbits(8) for _ in range(17000))),
    ]


def live_openssl_connections() -> int:
    gc.collect()
    return sum(1 for item in gc.get_objects() if isinstance(item, SSL.Connection))


@pytest.fixture
def senders() -> Iterator[list[socket.socket]]:
    socks = []
    try:
        for _ in range(SENDERS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


class JunkServer:
    """The loop of a Godot script: every UDP peer handed to the DTLSServer, every DTLS
    peer that comes back kept (a script would keep the HANDSHAKING ones)."""

    def __init__(self, pki) -> None:
        self.udp_server = UDPServer()
        assert self.udp_server.listen(0, HOST) == Error.OK
        self.udp_server.max_pending_connections = 64
        self.dtls_server = DTLSServer()
        assert self.dtls_server.setup(pki.server_options()) == Error.OK
        self.taken: list[PacketPeerDTLS] = []

    @property
    def port(self) -> int:
        return self.udp_server.get_local_port()

    def poll(self) -> None:
        self.udp_server.poll()
        while self.udp_server.is_connection_available():
            peer = self.dtls_server.take_connection(self.udp_server.take_connection())
            assert peer is not None
            self.taken.append(peer)
        for peer in self.taken:
            peer.poll()

    def stop(self) -> None:
        self.udp_server.stop()


@pytest.mark.parametrize(("kind", "junk"), junk_datagrams(), ids=[k for k, _ in junk_datagrams()])
def test_junk_first_datagram_gives_an_error_peer_holding_nothing(pki, kind, junk, dtls_log):
    server = JunkServer(pki)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((HOST, 0))
        sock.sendto(junk, (HOST, server.port))
        assert poll_until(server, until=lambda: len(server.taken) == 1)
        (peer,) = server.taken
        assert peer.get_status() is Status.ERROR
        assert peer.get_connection() is None
        assert "no ClientHello" in peer.get_last_error_message()
        assert server.udp_server._taken == {}  # the address was released
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(2048)  # and nothing was sent back
    finally:
        sock.close()
        server.stop()


def test_a_flood_of_junk_from_many_ports_keeps_no_openssl_object(pki, senders):
    server = JunkServer(pki)
    kinds = junk_datagrams()
    try:
        senders[0].sendto(bytes(20), (HOST, server.port))  # warm-up: the listening object
        assert poll_until(server, until=lambda: len(server.taken) == 1)
        before = live_openssl_connections()
        for round_number in range(3):
            for index, sock in enumerate(senders):
                _kind, junk = kinds[(index + round_number) % len(kinds)]
                sock.sendto(junk, (HOST, server.port))
            poll_for(server, seconds=0.3)
        statuses = {peer.get_status() for peer in server.taken}
        assert len(server.taken) >= SENDERS // 2  # the kernel may drop some of a burst
        assert statuses == {Status.ERROR}
        assert all(peer.get_connection() is None for peer in server.taken)
        assert server.udp_server._taken == {} and server.udp_server._pending == {}
        after = live_openssl_connections()
        stats = server.dtls_server.get_stats()
        assert stats["handshaking"] == 0 and stats["accepted"] == 0
        assert stats["dropped"] == len(server.taken)
        print(
            f"\njunk: {3 * SENDERS} datagrams from {SENDERS} ports, {len(server.taken)} "
            f"take_connection results, live OpenSSL connections {before} -> {after}, "
            f"server stats {stats}"
        )
        assert after <= before  # nothing per address
    finally:
        server.stop()


def test_a_port_that_sent_junk_can_then_connect(pki):
    server = JunkServer(pki)
    udp = PacketPeerUDP()
    try:
        assert udp.bind(0, HOST) == Error.OK
        port = udp.get_local_port()
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        junk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.close()
        junk.bind((HOST, port))
        junk.sendto(b"\x16\xfe\xfd" + bytes(10), (HOST, server.port))
        assert poll_until(server, until=lambda: len(server.taken) == 1)
        junk.close()
        client = PacketPeerUDP()
        assert client.bind(port, HOST) == Error.OK
        assert client.connect_to_host(HOST, server.port) == Error.OK
        dtls = PacketPeerDTLS()
        assert dtls.connect_to_peer(client, "localhost", pki.client_options()) == Error.OK
        assert poll_until(server, dtls, until=lambda: dtls.get_status() is Status.CONNECTED)
        connected = [p for p in server.taken if p.get_status() is Status.CONNECTED]
        assert len(connected) == 1
    finally:
        server.stop()


def test_a_real_client_connects_in_the_middle_of_a_junk_flood(pki, senders):
    server = JunkServer(pki)
    try:
        for sock in senders:
            sock.sendto(bytes(64), (HOST, server.port))

        class Echo:
            port = server.port

            def poll(self) -> None:
                server.poll()

            def fileno(self) -> int:
                return server.udp_server.fileno()

        client = connect(Echo(), pki.client_options())  # type: ignore[arg-type]
        assert client.get_status() is Status.CONNECTED
        handshaking = [p for p in server.taken if p.get_status() is Status.HANDSHAKING]
        assert handshaking == []
    finally:
        server.stop()
