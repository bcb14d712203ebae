"""Loss you can see: bursts of the largest packets, and the counters that show drops.

A UDP peer queues datagrams between two polls. The engine gives each one a 64 KiB ring
buffer, which holds three 16 KiB DTLS records: a burst of 16 lost 13 without a trace.
A UDP peer carrying DTLS now holds 1 MiB, and whatever is still dropped is counted in
the DTLS peer's ``get_stats()`` and on the ``UDPServer``.
"""

from __future__ import annotations

import pytest

from godot_dtls import Error, PacketPeerUDP, Status, UDPServer
from godot_dtls.api.dtls_peer import DTLS_RECEIVE_QUEUE
from godot_dtls.core.records import MAX_PLAINTEXT_SIZE
from godot_dtls.tools.serve import EchoServer
from support.loopback import connect
from support.polling import poll_until, require


@pytest.fixture
def server(pki):
    echo_server = EchoServer(pki.server_options())
    yield echo_server
    echo_server.stop()


def _receive_all(peer, server, wanted: int) -> list[bytes]:
    received: list[bytes] = []

    def drain() -> bool:
        while peer.get_available_packet_count() > 0:
            received.append(peer.get_packet())
        return len(received) >= wanted

    poll_until(server, peer, until=drain, timeout=10.0, fds=[peer.udp.fileno(), server.fileno()])
    return received


def test_a_burst_of_sixteen_largest_packets_comes_back_whole(pki, server):
    client = connect(server, pki.client_options())
    assert client.get_status() is Status.CONNECTED
    burst = [bytes([n]) * MAX_PLAINTEXT_SIZE for n in range(16)]
    for packet in burst:
        assert client.put_packet(packet) == Error.OK
    echoes = _receive_all(client, server, len(burst))
    assert sorted(echoes) == burst
    server_peer = server.peers[0]
    assert server_peer.get_stats()["datagrams_dropped_udp_queue"] == 0
    assert client.get_stats()["datagrams_dropped_udp_queue"] == 0


def test_drops_beyond_the_queue_are_counted_on_both_server_objects(pki, server):
    client = connect(server, pki.client_options())
    assert client.get_status() is Status.CONNECTED
    server_peer = server.peers[0]
    stats = server_peer.get_stats()
    assert stats["datagrams_dropped_udp_queue"] == 0
    # More than the 1 MiB queue, all waiting in the server's socket before one poll()
    # of the UDPServer reads them: the ones that do not fit must be counted.
    count = 100
    for n in range(count):
        assert client.put_packet(n.to_bytes(2, "big") * (MAX_PLAINTEXT_SIZE // 2)) == Error.OK
    require(
        until=lambda: server.udp_server.poll() == Error.OK and server.udp_server.dropped_datagrams,
        what="the UDPServer to read the burst",
    )
    server_peer.poll()
    dropped = server_peer.get_stats()["datagrams_dropped_udp_queue"]
    assert dropped > 0
    assert dropped == server.udp_server.dropped_datagrams
    # Every packet sent either reached the DTLS peer or is in the drop count.
    assert poll_until(
        server.udp_server,
        server_peer,
        until=lambda: server_peer.get_stats()["packets_received"] + dropped >= count,
    )
    assert server_peer.get_stats()["packets_received"] + dropped == count


def test_udp_server_counts_datagrams_refused_for_want_of_pending_room():
    server = UDPServer()
    assert server.listen(0, "127.0.0.1") == Error.OK
    server.max_pending_connections = 1
    senders = [PacketPeerUDP() for _ in range(3)]
    try:
        for sender in senders:
            assert sender.connect_to_host("127.0.0.1", server.get_local_port()) == Error.OK
            assert sender.put_packet(b"knock") == Error.OK
        require(
            until=lambda: server.poll() == Error.OK and server.refused_datagrams == 2,
            what="two refused datagrams",
        )
        assert server.dropped_datagrams == 0
    finally:
        for sender in senders:
            sender.close()
        server.stop()


def test_reserve_receive_queue_grows_never_shrinks_and_resets_on_close():
    udp = PacketPeerUDP()
    assert udp.get_receive_queue_size() == 65535  # the engine's 2^16 ring, one byte free
    udp.reserve_receive_queue(1000)
    assert udp.get_receive_queue_size() == 65535
    udp.reserve_receive_queue(DTLS_RECEIVE_QUEUE)
    assert udp.get_receive_queue_size() == DTLS_RECEIVE_QUEUE - 1
    udp.reserve_receive_queue(-5)  # refused, logged, nothing changes
    assert udp.get_receive_queue_size() == DTLS_RECEIVE_QUEUE - 1
    udp.close()
    assert udp.get_receive_queue_size() == 65535
