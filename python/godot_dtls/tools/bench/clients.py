"""The two Python clients the benchmark drives, behind one small interface.

:class:`ApiClient` is a game's client: ``PacketPeerUDP`` + ``PacketPeerDTLS`` and
nothing but their Godot API (``connect_to_peer``, ``poll``, ``put_packet``,
``get_available_packet_count``, ``get_packet``).

:class:`BareClient` is the floor of any Python implementation: one pyOpenSSL
``Connection`` on memory BIOs and a plain connected UDP socket, in as little code as
DTLS over UDP allows (the same cipher suites, MTU and trust as the package, OpenSSL's
own chain check, no godot_dtls code at all). The difference between the two is what
the Godot-API layer costs.

Both are non-blocking: :meth:`~ApiClient.service` moves the handshake on,
:meth:`~ApiClient.receive` collects packets, :meth:`~ApiClient.wait` sleeps until the
socket is readable (``poll(2)``, the same for both).
"""

from __future__ import annotations

import contextlib
import select
import socket
from pathlib import Path

from OpenSSL import SSL

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.net import PacketPeerUDP

__all__ = [
    "CONNECTED",
    "FAILED",
    "HANDSHAKING",
    "RING_SIZE",
    "ApiClient",
    "BareClient",
    "bare_client_context",
    "make_ring",
]

#: States reported by ``service()``.
HANDSHAKING = 0
CONNECTED = 1
FAILED = -1

#: Payload ring shared with the GDScript client (see godot3/bench_common.gd).
RING_SIZE = 256
_PATTERN_MODULUS = 251


def make_ring(size: int) -> list[bytes]:
    """The ``RING_SIZE`` payloads of ``size`` bytes: byte 0 of payload k is k, byte j is
    (j + k) % 251. Packet number s carries ``ring[s % RING_SIZE]``."""
    ring = []
    for k in range(RING_SIZE):
        packet = bytearray((j + k) % _PATTERN_MODULUS for j in range(size))
        packet[0] = k
        ring.append(bytes(packet))
    return ring


def _cipher_and_group(ssl: SSL.Connection) -> str:
    """``"<cipher suite> <key exchange group>"``, e.g. ``ECDHE-RSA-AES128-GCM-SHA256 x25519``."""
    cipher = ssl.get_cipher_name() or ""
    get_group = getattr(ssl, "get_group_name", None)  # pyOpenSSL >= 24.3 with OpenSSL 3.2
    group = get_group() if callable(get_group) else None
    if isinstance(group, bytes):
        group = group.decode("ascii", "replace")
    return f"{cipher} {group}" if group else cipher


class _Waiter:
    """``poll(2)`` on one socket."""

    def __init__(self, fd: int) -> None:
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)

    def wait(self, timeout: float) -> None:
        if timeout > 0:
            self._poller.poll(max(1, int(timeout * 1000.0 + 0.999)))


class ApiClient:
    """``PacketPeerDTLS`` over ``PacketPeerUDP``, used only through the Godot API."""

    implementation = "godot-dtls PacketPeerDTLS"

    def __init__(
        self, host: str, port: int, options: TLSOptions, hostname: str, spin: bool = False
    ) -> None:
        self.host = host
        self.port = port
        self.options = options
        self.hostname = hostname
        self.spin = spin
        self.udp = PacketPeerUDP()
        self.dtls = PacketPeerDTLS()
        self._waiter: _Waiter | None = None

    def prepare(self) -> bool:
        """Open and connect the UDP socket (not part of the handshake time)."""
        if self.udp.connect_to_host(self.host, self.port) != Error.OK:
            return False
        if not self.spin:
            self._waiter = _Waiter(self.udp.fileno())
        return True

    def fileno(self) -> int:
        return self.udp.fileno()

    def start(self) -> bool:
        """Begin the handshake (sends the ClientHello)."""
        return self.dtls.connect_to_peer(self.udp, self.hostname, self.options) == Error.OK

    def service(self) -> int:
        """One ``poll()``; HANDSHAKING, CONNECTED or FAILED."""
        dtls = self.dtls
        dtls.poll()
        status = dtls.get_status()
        if status is Status.CONNECTED:
            return CONNECTED
        return HANDSHAKING if status is Status.HANDSHAKING else FAILED

    def alive(self) -> bool:
        return self.dtls.get_status() is Status.CONNECTED

    def send(self, data: bytes) -> bool:
        return self.dtls.put_packet(data) == Error.OK

    def receive(self, out: list[bytes]) -> int:
        """``poll()``, then every packet available; how many were appended to ``out``."""
        dtls = self.dtls
        dtls.poll()
        count = 0
        while dtls.get_available_packet_count() > 0:
            out.append(dtls.get_packet())
            count += 1
        return count

    def wait(self, timeout: float) -> None:
        """Sleep until the socket is readable or ``timeout`` seconds have passed (a
        spinning client returns at once: its loop polls again)."""
        if self._waiter is not None:
            self._waiter.wait(timeout)

    def cipher(self) -> str:
        connection = self.dtls.get_connection()
        return "" if connection is None else _cipher_and_group(connection.ssl)

    def retransmissions(self) -> int:
        return int(self.dtls.get_stats().get("retransmissions", 0))

    def close(self) -> None:
        """close_notify when connected, then close the socket."""
        self.dtls.disconnect_from_peer()
        self.udp.close()


# The package's protocol settings, restated so that the bare client negotiates exactly
# what the package does (and uses no godot_dtls code).
_DTLS1_2 = 0xFEFD
_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=2"
)
_MTU = 1400


def bare_client_context(ca_path: Path) -> SSL.Context:
    """A DTLS 1.2 client context trusting ``ca_path`` (chain checked by OpenSSL)."""
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_min_proto_version(_DTLS1_2)
    context.set_max_proto_version(_DTLS1_2)
    context.set_options(SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET | SSL.OP_NO_RENEGOTIATION)
    context.set_cipher_list(_CIPHERS)
    context.load_verify_locations(str(ca_path))
    context.set_verify(SSL.VERIFY_PEER, None)
    return context


class BareClient:
    """pyOpenSSL on memory BIOs and a connected non-blocking UDP socket; no godot_dtls."""

    implementation = "bare pyOpenSSL"

    def __init__(
        self, host: str, port: int, context: SSL.Context, hostname: str, spin: bool = False
    ) -> None:
        self.host = host
        self.port = port
        self.context = context
        self.hostname = hostname.encode("idna")
        self.spin = spin
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ssl: SSL.Connection | None = None
        self.state = HANDSHAKING
        self.timeouts = 0
        #: Reads of the socket that moved the handshake on (the first one answers the
        #: server's HelloVerifyRequest with the cookie).
        self.handshake_reads = 0
        self._waiter: _Waiter | None = None

    def prepare(self) -> bool:
        try:
            self.sock.setblocking(False)
            self.sock.connect((self.host, self.port))
        except OSError:
            return False
        if not self.spin:
            self._waiter = _Waiter(self.sock.fileno())
        return True

    def fileno(self) -> int:
        return self.sock.fileno()

    def start(self) -> bool:
        ssl = SSL.Connection(self.context, None)
        ssl.set_connect_state()
        ssl.set_tlsext_host_name(self.hostname)
        # A memory BIO has no path MTU; without one OpenSSL fragments the ClientHello,
        # which Godot's server drops.
        ssl.set_ciphertext_mtu(_MTU)
        self.ssl = ssl
        self._handshake()
        return self.state != FAILED

    def _flush(self) -> None:
        # Client flights and single application records are all below the MTU, so the
        # whole BIO goes out as one datagram.
        assert self.ssl is not None
        try:
            data = self.ssl.bio_read(32768)
        except SSL.WantReadError:
            return
        with contextlib.suppress(OSError):  # lost as UDP may lose it: the timer resends
            self.sock.send(data)

    def _handshake(self) -> None:
        assert self.ssl is not None
        try:
            self.ssl.do_handshake()
            self.state = CONNECTED
        except SSL.WantReadError:
            pass
        except SSL.Error:
            self.state = FAILED
        self._flush()

    def _read_socket(self) -> bool:
        """Feed every waiting datagram to OpenSSL; True if there was any."""
        assert self.ssl is not None
        got = False
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return got
            except OSError:
                self.state = FAILED
                return got
            self.ssl.bio_write(data)
            got = True

    def service(self) -> int:
        if self.state != HANDSHAKING:
            return self.state
        assert self.ssl is not None
        if self._read_socket():
            self.handshake_reads += 1
            self._handshake()
        elif self.ssl.DTLSv1_get_timeout() == 0:
            if self.ssl.DTLSv1_handle_timeout():
                self.timeouts += 1
            self._flush()
        return self.state

    def alive(self) -> bool:
        return self.state == CONNECTED

    def send(self, data: bytes) -> bool:
        assert self.ssl is not None
        try:
            self.ssl.write(data)
            self.sock.send(self.ssl.bio_read(32768))
        except (SSL.Error, OSError):
            return False
        return True

    def receive(self, out: list[bytes]) -> int:
        ssl = self.ssl
        assert ssl is not None
        count = 0
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return count
            except OSError:
                self.state = FAILED
                return count
            ssl.bio_write(data)
            while True:
                try:
                    out.append(ssl.recv(16384))
                except SSL.WantReadError:
                    break
                except SSL.Error:
                    self.state = FAILED
                    return count
                count += 1

    def wait(self, timeout: float) -> None:
        if self._waiter is not None:
            self._waiter.wait(timeout)

    def cipher(self) -> str:
        return "" if self.ssl is None else _cipher_and_group(self.ssl)

    def retransmissions(self) -> int:
        return self.timeouts

    def close(self) -> None:
        if self.ssl is not None and self.state == CONNECTED:
            with contextlib.suppress(SSL.Error):
                self.ssl.shutdown()
            self._flush()
        self.state = FAILED
        self.sock.close()
