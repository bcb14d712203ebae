"""Tests for godot_dtls.net.udp: Godot 4's PacketPeerUDP / UDPServer over real loopback sockets.

Only 127.0.0.1 and ::1 are ever sent to (the dual-stack tests bind the wildcard on an
ephemeral port, which is the only way to get a dual-stack socket). Waiting is always a
bounded poll loop, never a fixed sleep.
"""

from __future__ import annotations

import gc
import logging
import select
import socket
import struct
import time
from typing import Callable, Iterator

import pytest

from godot_dtls.api.errors import Error
from godot_dtls.net import PacketPeerUDP, UDPServer, sockets
from support.polling import poll_until

V4 = "127.0.0.1"
V6 = "::1"
GODOT_V6_LOOPBACK = "0:0:0:0:0:0:0:1"
DEADLINE = 1.5


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind((V6, 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback")


def free_port(host: str = V4) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def peers() -> Iterator[Callable[[], PacketPeerUDP]]:
    """Factory of PacketPeerUDP objects closed at teardown."""
    made: list[PacketPeerUDP] = []

    def make() -> PacketPeerUDP:
        peer = PacketPeerUDP()
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


@pytest.fixture
def servers() -> Iterator[Callable[[], UDPServer]]:
    """Factory of UDPServer objects stopped at teardown."""
    made: list[UDPServer] = []

    def make() -> UDPServer:
        server = UDPServer()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def bound(make: Callable[[], PacketPeerUDP], host: str = V4, size: int = 65536) -> PacketPeerUDP:
    peer = make()
    assert peer.bind(0, host, size) == Error.OK
    return peer


def connected_to(make: Callable[[], PacketPeerUDP], target: PacketPeerUDP, host: str = V4):
    peer = make()
    assert peer.connect_to_host(host, target.get_local_port()) == Error.OK
    return peer


def recv_one(peer: PacketPeerUDP) -> bytes:
    assert poll_until(until=lambda: peer.get_available_packet_count() > 0)
    data = peer.get_packet()
    assert peer.get_packet_error() == Error.OK
    return data


def listening(make: Callable[[], UDPServer], host: str = V4) -> UDPServer:
    server = make()
    assert server.listen(0, host) == Error.OK
    return server


def accept(server: UDPServer) -> PacketPeerUDP:
    def ready() -> bool:
        assert server.poll() == Error.OK
        return server.is_connection_available()

    assert poll_until(until=ready)
    peer = server.take_connection()
    assert peer is not None
    return peer


def send_raw(host: str, port: int, payload: bytes, count: int = 1) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            sock.sendto(payload, (host, port))


# --------------------------------------------------------------------------------------
# PacketPeerUDP.bind
# --------------------------------------------------------------------------------------


def test_bind_on_open_socket_returns_err_already_in_use(peers):
    peer = bound(peers)
    assert peer.bind(0, V4) == Error.ERR_ALREADY_IN_USE
    assert peer.is_bound()


@pytest.mark.parametrize("port", [-1, 65536, 100000])
def test_bind_port_outside_0_to_65535_returns_err_invalid_parameter(peers, port):
    peer = peers()
    assert peer.bind(port, V4) == Error.ERR_INVALID_PARAMETER
    assert not peer.is_bound()


@pytest.mark.parametrize("address", ["localhost", "", "1.2.3", "256.0.0.1", "::zz", "fe80::1%lo"])
def test_bind_address_not_ip_or_wildcard_returns_err_invalid_parameter(peers, address):
    peer = peers()
    assert peer.bind(0, address) == Error.ERR_INVALID_PARAMETER
    assert not peer.is_bound()


def test_bind_refused_by_os_returns_err_unavailable_and_stays_closed(peers):
    first = bound(peers)
    second = peers()
    assert second.bind(first.get_local_port(), V4) == Error.ERR_UNAVAILABLE
    assert not second.is_bound()
    assert second.fileno() == -1


def test_bind_socket_creation_failure_returns_err_cant_create(peers, monkeypatch):
    def fail(family: int) -> socket.socket:
        raise OSError("no sockets today")

    monkeypatch.setattr(sockets, "new_socket", fail)
    peer = peers()
    assert peer.bind(0, V4) == Error.ERR_CANT_CREATE
    assert not peer.is_bound()


def test_bind_wildcard_is_dual_stack_and_reports_ipv4_mapped_sender_as_plain_ipv4(peers):
    peer = peers()
    assert peer.bind(0) == Error.OK  # "*"
    sender = bound(peers)
    assert sender.set_dest_address(V4, peer.get_local_port()) == Error.OK
    assert sender.put_packet(b"hello") == Error.OK
    assert recv_one(peer) == b"hello"
    assert peer.get_packet_ip() == V4
    assert peer.get_packet_port() == sender.get_local_port()


# --------------------------------------------------------------------------------------
# PacketPeerUDP.connect_to_host
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "example.invalid", "*", ""])
def test_connect_to_host_requires_ip_literal_and_logs_error(peers, caplog, host):
    peer = peers()
    with caplog.at_level(logging.ERROR, logger="godot_dtls"):
        assert peer.connect_to_host(host, 4242) == Error.ERR_INVALID_PARAMETER
    assert any(rec.levelno == logging.ERROR for rec in caplog.records)
    assert not peer.is_bound()
    assert not peer.is_socket_connected()


@pytest.mark.parametrize("port", [0, -5, 65536])
def test_connect_to_host_port_outside_1_to_65535_returns_err_invalid_parameter(peers, port):
    peer = peers()
    assert peer.connect_to_host(V4, port) == Error.ERR_INVALID_PARAMETER
    assert not peer.is_socket_connected()


def test_connect_to_host_on_server_peer_returns_err_locked(peers, servers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"hi") == Error.OK
    remote = accept(server)
    assert remote.connect_to_host(V4, client.get_local_port()) == Error.ERR_LOCKED


def test_connect_to_host_socket_open_failure_returns_err_cant_open(peers, monkeypatch):
    def fail(family: int) -> socket.socket:
        raise OSError("no sockets today")

    monkeypatch.setattr(sockets, "new_socket", fail)
    peer = peers()
    assert peer.connect_to_host(V4, 4242) == Error.ERR_CANT_OPEN


def test_connect_to_host_refused_by_os_returns_failed_and_closes(peers):
    peer = bound(peers, V4)  # IPv4-only socket cannot reach an IPv6 host
    assert peer.connect_to_host(V6, 4242) == Error.FAILED
    assert not peer.is_bound()
    assert not peer.is_socket_connected()


def test_connect_to_host_opens_socket_with_os_chosen_port(peers):
    target = bound(peers)
    peer = peers()
    assert peer.connect_to_host(V4, target.get_local_port()) == Error.OK
    assert peer.is_bound()
    assert peer.is_socket_connected()
    assert peer.get_local_port() > 0


def test_connect_to_host_filters_inbound_and_flushes_queue(peers):
    peer = bound(peers)
    stranger = bound(peers)
    friend = bound(peers)
    stranger.set_dest_address(V4, peer.get_local_port())
    assert stranger.put_packet(b"queued before connect") == Error.OK
    assert poll_until(until=lambda: peer.get_available_packet_count() == 1)

    assert peer.connect_to_host(V4, friend.get_local_port()) == Error.OK
    assert peer.get_available_packet_count() == 0  # flushed

    assert stranger.put_packet(b"filtered") == Error.OK
    friend.set_dest_address(V4, peer.get_local_port())
    assert friend.put_packet(b"from friend") == Error.OK
    assert recv_one(peer) == b"from friend"
    assert peer.get_packet_ip() == V4
    assert peer.get_packet_port() == friend.get_local_port()
    assert peer.get_available_packet_count() == 0


def test_connect_to_host_ipv4_on_dual_stack_socket_uses_mapped_address(peers):
    target = bound(peers)
    peer = peers()
    assert peer.bind(0) == Error.OK  # "*": dual-stack when IPv6 exists
    assert peer.connect_to_host(V4, target.get_local_port()) == Error.OK
    assert peer.put_packet(b"ping") == Error.OK
    assert recv_one(target) == b"ping"
    target.set_dest_address(V4, peer.get_local_port())
    assert target.put_packet(b"pong") == Error.OK
    assert recv_one(peer) == b"pong"
    assert peer.get_packet_ip() == V4


# --------------------------------------------------------------------------------------
# PacketPeerUDP.put_packet
# --------------------------------------------------------------------------------------


def test_put_packet_without_destination_returns_err_unconfigured(peers):
    assert peers().put_packet(b"x") == Error.ERR_UNCONFIGURED
    assert bound(peers).put_packet(b"x") == Error.ERR_UNCONFIGURED


def test_put_packet_empty_returns_ok_without_sending(peers):
    peer = peers()
    assert peer.put_packet(b"") == Error.OK  # even with no socket and no destination
    assert not peer.is_bound()


def test_put_packet_with_destination_opens_socket_like_godot(peers):
    target = bound(peers)
    peer = peers()
    assert peer.set_dest_address(V4, target.get_local_port()) == Error.OK
    assert not peer.is_bound()
    assert peer.put_packet(b"auto-open") == Error.OK
    assert peer.is_bound()
    assert recv_one(target) == b"auto-open"
    # Replies reach the auto-opened socket.
    target.set_dest_address(V4, peer.get_local_port())
    assert target.put_packet(b"reply") == Error.OK
    assert recv_one(peer) == b"reply"


def test_put_packet_os_send_error_returns_failed(peers):
    peer = bound(peers)
    assert peer.set_dest_address(V4, 0) == Error.OK  # the OS refuses port 0
    assert peer.put_packet(b"x") == Error.FAILED


def test_put_packet_to_unreachable_family_returns_failed(peers):
    peer = bound(peers, V4)
    assert peer.set_dest_address(V6, 4242) == Error.OK
    assert peer.put_packet(b"x") == Error.FAILED


class _WouldBlockSocket:
    """Stand-in socket whose sends report "would block" ``failures`` times."""

    def __init__(self, real: socket.socket, failures: int) -> None:
        self.real = real
        self.failures = failures
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        return self.real.fileno()

    def sendto(self, data: bytes, addr: object) -> int:
        if self.failures:
            self.failures -= 1
            raise BlockingIOError
        self.sent.append(bytes(data))
        return len(data)

    send = None  # not connected


def _with_fake_socket(peer: PacketPeerUDP, failures: int) -> _WouldBlockSocket:
    real = peer._sock
    assert real is not None
    fake = _WouldBlockSocket(real, failures)
    peer._sock = fake  # type: ignore[assignment]
    return fake


def test_put_packet_would_block_non_blocking_returns_err_busy(peers):
    peer = bound(peers)
    peer.set_dest_address(V4, 9)
    fake = _with_fake_socket(peer, failures=1)
    peer.set_blocking_mode(False)
    try:
        assert peer.put_packet(b"x") == Error.ERR_BUSY
        assert fake.sent == []
        assert peer.put_packet(b"y") == Error.OK
        assert fake.sent == [b"y"]
    finally:
        peer._sock = fake.real


def test_put_packet_would_block_blocking_waits_then_sends(peers):
    peer = bound(peers)
    peer.set_dest_address(V4, 9)
    fake = _with_fake_socket(peer, failures=3)
    try:
        assert peer.put_packet(b"x") == Error.OK
        assert fake.sent == [b"x"]
    finally:
        peer._sock = fake.real


def test_put_packet_blocking_send_gives_up_after_deadline_with_failed(peers, monkeypatch):
    monkeypatch.setattr(sockets, "BLOCKING_SEND_TIMEOUT", 0.05)
    peer = bound(peers)
    peer.set_dest_address(V4, 9)
    fake = _with_fake_socket(peer, failures=10**9)
    try:
        started = time.monotonic()
        assert peer.put_packet(b"x") == Error.FAILED
        assert time.monotonic() - started < 1.0
    finally:
        peer._sock = fake.real


# --------------------------------------------------------------------------------------
# PacketPeerUDP.get_packet / get_available_packet_count
# --------------------------------------------------------------------------------------


def test_get_packet_error_is_ok_before_any_get_packet(peers):
    assert peers().get_packet_error() == Error.OK


def test_get_packet_without_socket_returns_failed_and_empty_bytes(peers):
    peer = peers()
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.FAILED
    assert peer.get_available_packet_count() == -1


def test_get_packet_on_empty_queue_returns_err_unavailable_and_empty_bytes(peers):
    peer = bound(peers)
    assert peer.get_available_packet_count() == 0
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.ERR_UNAVAILABLE


def test_get_packet_returns_datagrams_in_order_and_sets_source(peers):
    peer = bound(peers)
    sender = connected_to(peers, peer)
    for i in range(5):
        assert sender.put_packet(b"%d" % i) == Error.OK
    assert poll_until(until=lambda: peer.get_available_packet_count() == 5)
    assert [peer.get_packet() for _ in range(5)] == [b"0", b"1", b"2", b"3", b"4"]
    assert peer.get_packet_error() == Error.OK
    assert peer.get_packet_ip() == V4
    assert peer.get_packet_port() == sender.get_local_port()
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.ERR_UNAVAILABLE


def test_the_queue_keeps_order_and_sources_when_the_reader_never_empties_it(peers):
    peer = bound(peers)
    senders = [connected_to(peers, peer) for _ in range(2)]
    sent: list[tuple[bytes, int]] = []
    taken: list[tuple[bytes, int]] = []
    number = 0
    for _ in range(5):  # 5 x 100 in, 5 x 80 out: the queue never empties
        for _ in range(100):
            sender = senders[number % 2]
            assert sender.put_packet(b"%d" % number) == Error.OK
            sent.append((b"%d" % number, sender.get_local_port()))
            number += 1
        assert poll_until(until=lambda: peer.get_available_packet_count() == len(sent) - len(taken))
        for _ in range(80):
            taken.append((peer.get_packet(), peer.get_packet_port()))
    while peer.get_available_packet_count() > 0:
        taken.append((peer.get_packet(), peer.get_packet_port()))
    assert taken == sent
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.ERR_UNAVAILABLE


def test_get_packet_ip_and_port_are_empty_before_any_packet(peers):
    peer = bound(peers)
    assert peer.get_packet_ip() == ""
    assert peer.get_packet_port() == 0


def test_empty_datagram_is_a_packet(peers):
    peer = bound(peers)
    send_raw(V4, peer.get_local_port(), b"")
    assert poll_until(until=lambda: peer.get_available_packet_count() == 1)
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.OK


def test_icmp_port_unreachable_on_connected_socket_makes_count_minus_one(peers):
    peer = peers()
    assert peer.connect_to_host(V4, free_port()) == Error.OK
    assert peer.put_packet(b"anyone?") == Error.OK
    assert poll_until(until=lambda: peer.get_available_packet_count() == -1)
    # The OS reports the ICMP error once; the socket stays usable.
    assert peer.get_available_packet_count() == 0


def test_icmp_error_makes_get_packet_fail_once(peers):
    peer = peers()
    assert peer.connect_to_host(V4, free_port()) == Error.OK
    assert peer.put_packet(b"anyone?") == Error.OK
    assert poll_until(until=lambda: peer.wait(timeout=0) == Error.FAILED)
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.FAILED


# --------------------------------------------------------------------------------------
# receive queue budget
# --------------------------------------------------------------------------------------


def _fill(peer: PacketPeerUDP, sender: PacketPeerUDP, payloads: list[bytes]) -> None:
    """Send payloads in small batches, draining between them so the OS never drops any."""
    sent = 0
    for start in range(0, len(payloads), 8):
        for payload in payloads[start : start + 8]:
            assert sender.put_packet(payload) == Error.OK
            sent += 1
        total = sent
        assert poll_until(
            until=lambda total=total: (
                peer.get_available_packet_count() + peer.dropped_datagrams == total
            )
        )


def test_queue_budget_without_bind_is_65536_and_full_queue_drops_newest(peers):
    sender = bound(peers)
    peer = connected_to(peers, sender)
    sender.set_dest_address(V4, peer.get_local_port())
    payloads = [struct.pack("!I", i) + b"\xaa" * 996 for i in range(80)]  # 1000 bytes each
    _fill(peer, sender, payloads)
    # 1000 + 24 bytes per datagram; Godot's 2^16 ring keeps one byte free → 63 fit.
    assert peer.get_available_packet_count() == 63
    assert peer.dropped_datagrams == 80 - 63
    received = [peer.get_packet() for _ in range(63)]
    assert received == payloads[:63]  # the newest ones were dropped


def test_bind_recv_buf_size_budget_is_next_power_of_two(peers):
    peer = bound(peers, V4, 1000)  # → 1024-byte ring, 1023 usable
    sender = connected_to(peers, peer)
    _fill(peer, sender, [b"a" * 999])  # 999 + 24 = 1023: fits
    assert peer.get_available_packet_count() == 1
    assert peer.get_packet() == b"a" * 999
    _fill(peer, sender, [b"b" * 1000])  # 1024: does not fit
    assert peer.get_available_packet_count() == 0
    assert peer.dropped_datagrams == 1


def test_bind_default_recv_buf_size_gives_131072_byte_budget(peers):
    peer = bound(peers)  # 65536 → 2^17
    sender = connected_to(peers, peer)
    _fill(peer, sender, [b"x" * 60000] * 3)
    assert peer.get_available_packet_count() == 2  # 2 * 60024 <= 131071 < 3 * 60024
    assert peer.dropped_datagrams == 1


def test_close_resets_queue(peers):
    peer = bound(peers)
    sender = connected_to(peers, peer)
    _fill(peer, sender, [b"x"])
    peer.close()
    assert not peer.is_bound()
    assert peer.get_available_packet_count() == -1
    assert peer.get_packet() == b""
    assert peer.get_packet_error() == Error.FAILED


# --------------------------------------------------------------------------------------
# set_dest_address, wait, misc
# --------------------------------------------------------------------------------------


def test_set_dest_address_on_connected_socket_logs_and_keeps_destination(peers, caplog):
    target = bound(peers)
    other = bound(peers)
    peer = connected_to(peers, target)
    with caplog.at_level(logging.ERROR, logger="godot_dtls"):
        assert peer.set_dest_address(V4, other.get_local_port()) == Error.OK  # engine quirk
    assert any("connected" in rec.getMessage() for rec in caplog.records)
    assert peer.put_packet(b"still to target") == Error.OK
    assert recv_one(target) == b"still to target"
    assert other.get_available_packet_count() == 0


def test_set_dest_address_resolves_names_with_getaddrinfo(peers, monkeypatch):
    target = bound(peers)
    calls = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", (V4, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    peer = peers()
    assert peer.set_dest_address("my-game-server", target.get_local_port()) == Error.OK
    assert calls == ["my-game-server"]
    assert peer.put_packet(b"resolved") == Error.OK
    assert recv_one(target) == b"resolved"


def test_set_dest_address_unresolvable_returns_err_cant_resolve(peers, monkeypatch):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    peer = peers()
    assert peer.set_dest_address("nowhere", 4242) == Error.ERR_CANT_RESOLVE
    assert peer.set_dest_address("", 4242) == Error.ERR_CANT_RESOLVE
    assert peer.put_packet(b"x") == Error.ERR_UNCONFIGURED


def test_wait_without_socket_returns_err_unconfigured(peers):
    assert peers().wait(timeout=0.01) == Error.ERR_UNCONFIGURED


def test_wait_timeout_without_data_returns_err_timeout(peers):
    peer = bound(peers)
    started = time.monotonic()
    assert peer.wait(timeout=0.05) == Error.ERR_TIMEOUT
    assert time.monotonic() - started < 1.0


def test_wait_returns_ok_when_datagram_arrives(peers):
    peer = bound(peers)
    sender = connected_to(peers, peer)
    assert sender.put_packet(b"wake up") == Error.OK
    assert peer.wait(timeout=DEADLINE) == Error.OK
    assert peer.get_packet() == b"wake up"


def test_get_local_port_and_fileno_when_closed(peers):
    peer = peers()
    assert peer.get_local_port() == 0
    assert peer.fileno() == -1
    peer.bind(0, V4)
    assert peer.get_local_port() > 0
    assert peer.fileno() >= 0


def test_set_broadcast_enabled_sets_so_broadcast(peers):
    peer = peers()
    peer.set_broadcast_enabled(True)
    assert peer.bind(0, V4) == Error.OK  # applied at bind
    assert peer._sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) != 0
    peer.set_broadcast_enabled(False)
    assert peer._sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 0


def test_get_max_packet_size_is_512(peers):
    assert peers().get_max_packet_size() == 512


@needs_ipv6
def test_ipv6_packet_ip_uses_godot_uncompressed_format(peers):
    peer = bound(peers, V6)
    sender = connected_to(peers, peer, V6)
    assert sender.put_packet(b"six") == Error.OK
    assert recv_one(peer) == b"six"
    assert peer.get_packet_ip() == GODOT_V6_LOOPBACK
    assert peer.get_packet_port() == sender.get_local_port()


# --------------------------------------------------------------------------------------
# UDPServer
# --------------------------------------------------------------------------------------


def test_listen_twice_returns_err_already_in_use(servers):
    server = listening(servers)
    assert server.listen(0, V4) == Error.ERR_ALREADY_IN_USE
    assert server.is_listening()


@pytest.mark.parametrize("address", ["localhost", "", "300.1.1.1"])
def test_listen_bad_address_returns_err_invalid_parameter(servers, address):
    server = servers()
    assert server.listen(0, address) == Error.ERR_INVALID_PARAMETER
    assert not server.is_listening()


def test_listen_bind_failure_stops_and_returns_err_unavailable(servers, peers):
    holder = bound(peers)  # no SO_REUSEADDR on a PacketPeerUDP
    server = servers()
    assert server.listen(holder.get_local_port(), V4) == Error.ERR_UNAVAILABLE
    assert not server.is_listening()
    assert server.poll() == Error.ERR_UNCONFIGURED


def test_listen_socket_creation_failure_returns_err_cant_create(servers, monkeypatch):
    def fail(family: int) -> socket.socket:
        raise OSError("no sockets today")

    monkeypatch.setattr(sockets, "new_socket", fail)
    server = servers()
    assert server.listen(0, V4) == Error.ERR_CANT_CREATE
    assert not server.is_listening()


def test_listen_port_wraps_like_godot_uint16(servers):
    port = free_port()
    server = servers()
    assert server.listen(port + 65536, V4) == Error.OK
    assert server.get_local_port() == port


def test_poll_when_not_listening_returns_err_unconfigured(servers):
    server = servers()
    assert server.poll() == Error.ERR_UNCONFIGURED
    assert not server.is_connection_available()
    assert server.take_connection() is None
    assert server.get_local_port() == 0


def test_poll_receive_error_returns_failed(servers):
    server = listening(servers)
    real = server._sock

    class Broken:
        def recvfrom_into(self, buf):
            raise ConnectionResetError("boom")

    server._sock = Broken()  # type: ignore[assignment]
    try:
        assert server.poll() == Error.FAILED
    finally:
        server._sock = real


def test_echo_through_udp_server_with_several_clients(servers, peers):
    server = listening(servers)
    clients = [peers() for _ in range(3)]
    for i, client in enumerate(clients):
        assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
        assert client.put_packet(b"hello %d" % i) == Error.OK

    def all_pending() -> bool:
        assert server.poll() == Error.OK
        return len(server._pending) == 3

    assert poll_until(until=all_pending)
    remotes = []
    while server.is_connection_available():
        remote = server.take_connection()
        assert remote is not None
        assert remote.is_socket_connected()
        assert remote.get_local_port() == server.get_local_port()
        remotes.append(remote)
    assert len(remotes) == 3
    by_port = {client.get_local_port(): client for client in clients}
    for remote in remotes:
        # Before get_packet the packet address is already the remote's address.
        assert remote.get_packet_ip() == V4
        assert remote.get_packet_port() in by_port
        data = remote.get_packet()
        assert remote.get_packet_error() == Error.OK
        assert remote.put_packet(b"echo:" + data) == Error.OK
    for i, client in enumerate(clients):
        assert client.wait(timeout=DEADLINE) == Error.OK
        assert recv_one(client) == b"echo:hello %d" % i
        assert client.get_packet_port() == server.get_local_port()


def test_server_routes_known_addresses_to_their_peer(servers, peers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"1") == Error.OK
    assert client.put_packet(b"2") == Error.OK  # pending peer gets it too
    remote = accept(server)
    assert client.put_packet(b"3") == Error.OK  # taken peer gets it
    assert poll_until(
        until=lambda: server.poll() == Error.OK and remote.get_available_packet_count() == 3
    )
    assert [remote.get_packet() for _ in range(3)] == [b"1", b"2", b"3"]
    assert not server.is_connection_available()


def test_server_peer_queue_budget_is_65536(servers, peers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"x" * 60000) == Error.OK
    remote = accept(server)
    assert client.put_packet(b"y" * 60000) == Error.OK
    assert poll_until(until=lambda: server.poll() == Error.OK and remote.dropped_datagrams == 1)
    assert remote.get_available_packet_count() == 1


def _readable(server: UDPServer) -> bool:
    return bool(select.select([server.fileno()], [], [], 0)[0])


def _knock_and_drain(server: UDPServer, client: PacketPeerUDP) -> None:
    """Send one datagram from ``client`` and make the server read it."""
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"knock") == Error.OK
    assert poll_until(until=lambda: _readable(server))
    assert server.poll() == Error.OK
    assert not _readable(server)


def test_max_pending_connections_caps_new_addresses(servers, peers):
    server = listening(servers)
    assert server.max_pending_connections == 16
    server.max_pending_connections = 2
    for _ in range(2):
        _knock_and_drain(server, peers())
    late = peers()
    _knock_and_drain(server, late)  # read and dropped: two are already pending
    first = server.take_connection()
    second = server.take_connection()
    assert first is not None and second is not None
    assert late.get_local_port() not in (first.get_packet_port(), second.get_packet_port())
    assert server.take_connection() is None
    # Once there is room again, the late client's next datagram opens a connection.
    assert late.put_packet(b"again") == Error.OK
    third = accept(server)
    assert third.get_packet_port() == late.get_local_port()
    assert third.get_packet() == b"again"


def test_max_pending_connections_zero_refuses_new_addresses(servers, peers):
    server = listening(servers)
    server.set_max_pending_connections(0)
    client = peers()
    _knock_and_drain(server, client)
    assert not server.is_connection_available()
    server.set_max_pending_connections(16)
    assert client.put_packet(b"again") == Error.OK
    peer = accept(server)
    assert peer.get_packet() == b"again"  # the refused datagram was not kept anywhere
    assert peer.get_available_packet_count() == 0


def _make_pending(server: UDPServer, peers, count: int) -> None:
    for _ in range(count):
        client = peers()
        assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
        assert client.put_packet(b"knock") == Error.OK
    assert poll_until(until=lambda: server.poll() == Error.OK and len(server._pending) == count)


def test_set_max_pending_larger_than_pending_count_discards_all_pending(servers, peers):
    server = listening(servers)
    _make_pending(server, peers, 3)
    server.max_pending_connections = 3  # not larger: nothing discarded
    assert len(server._pending) == 3
    server.max_pending_connections = 1  # smaller: nothing discarded either
    assert len(server._pending) == 3
    server.max_pending_connections = 4  # larger than 3 pending: Godot drops them all
    assert not server.is_connection_available()
    assert server.max_pending_connections == 4


def test_set_max_pending_negative_is_ignored_with_error_log(servers, caplog):
    server = servers()
    with caplog.at_level(logging.ERROR, logger="godot_dtls"):
        server.set_max_pending_connections(-1)
    assert server.get_max_pending_connections() == 16
    assert any(rec.levelno == logging.ERROR for rec in caplog.records)
    server.set_max_pending_connections(300)  # 0..256 is only an editor hint in Godot
    assert server.get_max_pending_connections() == 300


def test_closed_taken_peer_next_datagram_becomes_new_pending_connection(servers, peers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"first") == Error.OK
    remote = accept(server)
    remote.close()
    assert not remote.is_socket_connected()
    assert remote.put_packet(b"x") == Error.ERR_UNAVAILABLE
    assert server.is_listening()  # the shared socket is untouched
    assert client.put_packet(b"second") == Error.OK
    again = accept(server)
    assert again is not remote
    assert again.get_packet() == b"second"


def test_garbage_collected_taken_peer_unregisters(servers, peers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"first") == Error.OK
    accept(server)  # dropped immediately
    gc.collect()
    assert not server._taken
    assert client.put_packet(b"second") == Error.OK
    assert accept(server).get_packet() == b"second"


def test_stop_detaches_taken_peers_and_frees_pending(servers, peers):
    server = listening(servers)
    first = peers()
    second = peers()
    for client in (first, second):
        assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
        assert client.put_packet(b"hi") == Error.OK
    assert poll_until(until=lambda: server.poll() == Error.OK and len(server._pending) == 2)
    taken = server.take_connection()
    assert taken is not None
    server.stop()
    assert not server.is_listening()
    assert not server.is_connection_available()
    assert server.take_connection() is None
    assert not taken.is_socket_connected()
    assert not taken.is_bound()
    assert taken.put_packet(b"x") == Error.ERR_UNAVAILABLE
    assert taken.get_available_packet_count() == -1
    assert taken.get_packet() == b""
    assert taken.get_packet_error() == Error.FAILED
    # A detached peer can be reused as an ordinary peer.
    assert taken.bind(0, V4) == Error.OK


def test_dropping_server_detaches_taken_peers_like_godot_destructor(peers):
    server = UDPServer()
    assert server.listen(0, V4) == Error.OK
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"hi") == Error.OK
    remote = accept(server)
    del server
    gc.collect()
    assert not remote.is_socket_connected()
    assert remote.put_packet(b"x") == Error.ERR_UNAVAILABLE


def test_server_peer_set_dest_address_and_broadcast_are_refused(servers, peers, caplog):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"hi") == Error.OK
    remote = accept(server)
    with caplog.at_level(logging.ERROR, logger="godot_dtls"):
        assert remote.set_dest_address(V4, 9) == Error.OK  # logged, ignored
        remote.set_broadcast_enabled(True)  # logged, ignored
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2
    assert remote.put_packet(b"reply") == Error.OK
    assert recv_one(client) == b"reply"


def test_server_on_wildcard_reports_ipv4_clients_as_plain_ipv4(servers, peers):
    server = servers()
    assert server.listen(0) == Error.OK  # "*": dual-stack when IPv6 exists
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"hi") == Error.OK
    remote = accept(server)
    assert remote.get_packet_ip() == V4
    assert remote.get_packet_port() == client.get_local_port()
    assert remote.put_packet(b"back") == Error.OK
    assert recv_one(client) == b"back"


@needs_ipv6
def test_server_on_ipv6_loopback_echoes_and_formats_like_godot(servers, peers):
    server = listening(servers, V6)
    client = peers()
    assert client.connect_to_host(V6, server.get_local_port()) == Error.OK
    assert client.put_packet(b"v6") == Error.OK
    remote = accept(server)
    assert remote.get_packet_ip() == GODOT_V6_LOOPBACK
    assert remote.get_packet() == b"v6"
    assert remote.put_packet(b"v6 back") == Error.OK
    assert recv_one(client) == b"v6 back"
    assert client.get_packet_ip() == GODOT_V6_LOOPBACK


def test_non_blocking_server_peer_still_sends(servers, peers):
    server = listening(servers)
    client = peers()
    assert client.connect_to_host(V4, server.get_local_port()) == Error.OK
    assert client.put_packet(b"hi") == Error.OK
    remote = accept(server)
    remote.set_blocking_mode(False)  # what DTLSServer does
    assert remote.put_packet(b"ok") == Error.OK
    assert recv_one(client) == b"ok"


@pytest.mark.parametrize("timeout", [-1.797e305, -1e300, float("-inf")])
def test_wait_with_a_huge_negative_timeout_returns_at_once(timeout):
    peer = PacketPeerUDP()
    assert peer.bind(0, "127.0.0.1") == Error.OK
    try:
        assert peer.wait(timeout) in (Error.ERR_TIMEOUT, Error.ERR_INVALID_PARAMETER)
    finally:
        peer.close()
