"""CPU per packet of the Godot-API layer against raw pyOpenSSL, with no sockets.

Three levels move the same packets through the same cipher suite, in memory, and are
timed with ``time.process_time()``:

- ``raw``: two pyOpenSSL ``Connection`` objects on memory BIOs — ``write`` /
  ``bio_read`` on one side, ``bio_write`` / ``recv`` (until ``WantReadError``, as a
  receiver of arbitrary datagrams must) on the other;
- ``core``: the package's sans-IO ``DTLSConnection`` — ``send``, ``datagrams_to_send``,
  ``receive_datagram``, ``next_packet``;
- ``api``: ``PacketPeerDTLS`` on both ends — ``put_packet``, ``poll``,
  ``get_available_packet_count``, ``get_packet`` — over a transport made of two deques.

One unit is an echo: client → server → client, i.e. two encryptions and two
decryptions. ``window`` packets are sent before the other side reads them (1: one at a
time; 32: as the pipelined socket runs). Each figure is the best of ``repeats`` runs.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import deque
from functools import partial
from typing import Any, Callable, Sequence

from OpenSSL import SSL

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.dtls_server import DTLSServer
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status

from .clients import RING_SIZE, bare_client_context, make_ring
from .pki import HOSTNAME, BenchPKI

__all__ = ["MemoryTransport", "run_layer_benchmark"]

_LIVE = (Status.HANDSHAKING, Status.CONNECTED)


class MemoryTransport:
    """Godot's ``PacketPeerUDP`` surface on two deques: no sockets, no copies."""

    def __init__(self, inbox: deque[bytes], outbox: deque[bytes]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._open = True

    def put_packet(self, buffer: bytes) -> Error:
        self._outbox.append(buffer)
        return Error.OK

    def get_packet(self) -> bytes:
        return self._inbox.popleft() if self._inbox else b""

    def get_available_packet_count(self) -> int:
        return len(self._inbox) if self._open else -1

    def is_socket_connected(self) -> bool:
        return self._open

    def get_packet_ip(self) -> str:
        return "127.0.0.1"

    def get_packet_port(self) -> int:
        return 40000

    def close(self) -> None:
        self._open = False


def _api_pair(pki: BenchPKI) -> tuple[PacketPeerDTLS, PacketPeerDTLS]:
    """A connected client and server-side peer (cookie exchange included)."""
    c2s: deque[bytes] = deque()
    s2c: deque[bytes] = deque()
    server = DTLSServer()
    if server.setup(pki.server_options()) != Error.OK:
        raise RuntimeError("DTLSServer.setup failed")
    client = PacketPeerDTLS()
    error = client.connect_to_peer(MemoryTransport(s2c, c2s), HOSTNAME, pki.client_options())
    if error != Error.OK:
        raise RuntimeError(f"connect_to_peer failed: {error.name}")
    peer = None
    for _ in range(100):
        if c2s and (peer is None or peer.get_status() not in _LIVE):
            peer = server.take_connection(MemoryTransport(c2s, s2c))
        if peer is not None:
            peer.poll()
        client.poll()
        if (
            peer is not None
            and peer.get_status() is Status.CONNECTED
            and client.get_status() is Status.CONNECTED
        ):
            return client, peer
    raise RuntimeError(f"in-memory handshake failed: {client.get_last_error_message()}")


def _move(source: SSL.Connection, target: SSL.Connection) -> None:
    with contextlib.suppress(SSL.WantReadError):
        target.bio_write(source.bio_read(32768))


def _raw_pair(pki: BenchPKI) -> tuple[SSL.Connection, SSL.Connection]:
    """Two connected pyOpenSSL connections with the package's settings."""
    server_context = SSL.Context(SSL.DTLS_METHOD)
    server_context.set_min_proto_version(0xFEFD)
    server_context.set_max_proto_version(0xFEFD)
    server_context.set_options(
        SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET | SSL.OP_CIPHER_SERVER_PREFERENCE
    )
    server_context.set_cipher_list(
        b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=2"
    )
    server_context.use_certificate_file(str(pki.cert_path))
    server_context.use_privatekey_file(str(pki.key_path))
    client = SSL.Connection(bare_client_context(pki.ca_path), None)
    client.set_connect_state()
    client.set_tlsext_host_name(HOSTNAME.encode("ascii"))
    client.set_ciphertext_mtu(1400)
    server = SSL.Connection(server_context, None)
    server.set_accept_state()
    server.set_ciphertext_mtu(1400)
    done = [False, False]
    for _ in range(20):
        for number, connection in enumerate((client, server)):
            if not done[number]:
                try:
                    connection.do_handshake()
                    done[number] = True
                except SSL.WantReadError:
                    pass
        _move(client, server)
        _move(server, client)
        if all(done):
            return client, server
    raise RuntimeError("raw in-memory handshake failed")


def _drain(connection: SSL.Connection, out: list[bytes]) -> None:
    while True:
        try:
            out.append(connection.recv(16384))
        except SSL.WantReadError:
            return


def _raw_echoes(
    client: SSL.Connection, server: SSL.Connection, packets: Sequence[bytes], window: int
) -> list[bytes]:
    back: list[bytes] = []
    echoes: list[bytes] = []
    to_server: list[bytes] = []
    to_client: list[bytes] = []
    c_write, c_bio_read, c_bio_write = client.write, client.bio_read, client.bio_write
    s_write, s_bio_read, s_bio_write = server.write, server.bio_read, server.bio_write
    for first in range(0, len(packets), window):
        for packet in packets[first : first + window]:
            c_write(packet)
            to_server.append(c_bio_read(32768))
        for datagram in to_server:
            s_bio_write(datagram)
            _drain(server, echoes)
        to_server.clear()
        for echo in echoes:
            s_write(echo)
            to_client.append(s_bio_read(32768))
        echoes.clear()
        for datagram in to_client:
            c_bio_write(datagram)
            _drain(client, back)
        to_client.clear()
    return back


def _core_echoes(
    client: PacketPeerDTLS, server: PacketPeerDTLS, packets: Sequence[bytes], window: int
) -> list[bytes]:
    c_conn, s_conn = client.get_connection(), server.get_connection()
    assert c_conn is not None and s_conn is not None
    back: list[bytes] = []
    now = time.monotonic()
    c_send, c_out, c_in, c_next = (
        c_conn.send,
        c_conn.datagrams_to_send,
        c_conn.receive_datagram,
        c_conn.next_packet,
    )
    s_send, s_out, s_in, s_next = (
        s_conn.send,
        s_conn.datagrams_to_send,
        s_conn.receive_datagram,
        s_conn.next_packet,
    )
    for first in range(0, len(packets), window):
        for packet in packets[first : first + window]:
            c_send(packet)
        for datagram in c_out():
            s_in(datagram, now)
        echo = s_next()
        while echo is not None:
            s_send(echo)
            echo = s_next()
        for datagram in s_out():
            c_in(datagram, now)
        packet = c_next()
        while packet is not None:
            back.append(packet)
            packet = c_next()
    return back


def _api_echoes(
    client: PacketPeerDTLS, server: PacketPeerDTLS, packets: Sequence[bytes], window: int
) -> list[bytes]:
    back: list[bytes] = []
    c_put, c_poll, c_count, c_get = (
        client.put_packet,
        client.poll,
        client.get_available_packet_count,
        client.get_packet,
    )
    s_put, s_poll, s_count, s_get = (
        server.put_packet,
        server.poll,
        server.get_available_packet_count,
        server.get_packet,
    )
    for first in range(0, len(packets), window):
        for packet in packets[first : first + window]:
            c_put(packet)
        s_poll()
        while s_count() > 0:
            s_put(s_get())
        c_poll()
        while c_count() > 0:
            back.append(c_get())
    return back


def _timed(run: Callable[[], list[bytes]], expected: Sequence[bytes]) -> float:
    gc.collect()
    start = time.process_time()
    back = run()
    elapsed = time.process_time() - start
    if back != list(expected):
        raise RuntimeError("an echo came back different from what was sent")
    return elapsed


def run_layer_benchmark(
    pki: BenchPKI,
    sizes: Sequence[int] = (64, 1200),
    windows: Sequence[int] = (1, 32),
    count: int = 20000,
    repeats: int = 3,
    progress: Callable[[str], None] = lambda _label: None,
) -> dict[str, Any]:
    """µs of CPU per echo for each level, size and window, and the overheads over raw."""
    api_client, api_server = _api_pair(pki)
    raw_client, raw_server = _raw_pair(pki)
    cipher_api = api_client.get_connection().ssl.get_cipher_name()  # type: ignore[union-attr]
    results: dict[str, Any] = {
        "unit": "µs of CPU per echo (2 encryptions + 2 decryptions), best of repeats",
        "count": count,
        "repeats": repeats,
        "cipher": {"api": cipher_api, "raw": raw_client.get_cipher_name()},
        "sizes": {},
    }
    for size in sizes:
        ring = make_ring(size)
        packets = [ring[i % RING_SIZE] for i in range(count)]
        per_size: dict[str, Any] = {}
        for window in windows:
            progress(f"layer CPU {size} B window {window}")
            best = {"raw": float("inf"), "core": float("inf"), "api": float("inf")}
            for _ in range(repeats):
                for level, run in (
                    ("raw", partial(_raw_echoes, raw_client, raw_server, packets, window)),
                    ("core", partial(_core_echoes, api_client, api_server, packets, window)),
                    ("api", partial(_api_echoes, api_client, api_server, packets, window)),
                ):
                    best[level] = min(best[level], _timed(run, packets))
            us = {level: seconds / count * 1e6 for level, seconds in best.items()}
            per_size[str(window)] = {
                "raw_us": us["raw"],
                "core_us": us["core"],
                "api_us": us["api"],
                "core_overhead": us["core"] / us["raw"] - 1.0,
                "api_overhead": us["api"] / us["raw"] - 1.0,
            }
        results["sizes"][str(size)] = per_size
    api_client.disconnect_from_peer()
    api_server.disconnect_from_peer()
    return results
