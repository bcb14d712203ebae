"""The OS socket operations under ``PacketPeerUDP`` and ``UDPServer``, and their sizes.

Sockets are always non-blocking at the OS level; these helpers open a UDP socket for a
Godot IP type (dual-stack where the engine would be), wait on one with a deadline, and
size the receive queues like the engine's ring buffer.
"""

from __future__ import annotations

import os
import select
import socket
from typing import Any

from godot_dtls.api.errors import Error
from godot_dtls.core.log import logger

from .addresses import IP_TYPE_ANY, IP_TYPE_V6

#: Size of the receive buffer (Godot's ``PACKET_BUFFER_SIZE``); larger datagrams are truncated.
PACKET_BUFFER_SIZE = 65536
#: SO_RCVBUF asked for on a UDPServer socket (a Python extension; see UDPServer.listen).
SERVER_RECEIVE_BUFFER = 4 * 1024 * 1024
#: Most datagrams read from the OS per ``UDPServer.poll()`` or per peer queue drain.
MAX_READS_PER_POLL = 4096
#: Longest time (seconds) a blocking peer waits for a "would block" send to go through.
BLOCKING_SEND_TIMEOUT = 3.0

# Per stored datagram the engine's ring buffer also holds a 16-byte address, a 4-byte port
# and a 4-byte length.
DATAGRAM_OVERHEAD = 24
# A fresh PacketPeerUDP (and every server-side peer) has a 2^16-byte ring buffer.
DEFAULT_QUEUE_SHIFT = 16

HAS_POLL = hasattr(select, "poll")
IS_WINDOWS = os.name == "nt"


def new_socket(family: int) -> socket.socket:
    """Create a UDP socket (module-level so tests can simulate a creation failure)."""
    return socket.socket(family, socket.SOCK_DGRAM)


def open_udp(ip_type: int) -> tuple[socket.socket, int, bool]:
    """Open a non-blocking UDP socket like ``NetSocket::open`` (raises OSError on failure).

    ``ip_type`` ANY gives a dual-stack IPv6 socket (``IPV6_V6ONLY`` off), falling back to IPv4
    when IPv6 or dual-stack is unavailable. Returns ``(sock, family, v6only)``.
    """
    sock: socket.socket | None = None
    family = socket.AF_INET
    v6only = False
    if ip_type == IP_TYPE_ANY and socket.has_ipv6:
        try:
            sock = new_socket(socket.AF_INET6)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            family = socket.AF_INET6
        except (OSError, AttributeError):
            if sock is not None:
                sock.close()
            sock = None
    if sock is None:
        if ip_type == IP_TYPE_V6:
            sock = new_socket(socket.AF_INET6)
            family = socket.AF_INET6
            v6only = True
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            except (OSError, AttributeError):
                logger.debug("UDP: unable to set IPV6_V6ONLY")
        else:
            sock = new_socket(socket.AF_INET)
            family = socket.AF_INET
    try:
        sock.setblocking(False)
        if IS_WINDOWS:  # pragma: no cover - Windows only
            # Like the engine: stop Windows reporting WSAECONNRESET on UDP sockets after an
            # ICMP reply to an earlier send.
            ioctl = getattr(sock, "ioctl", None)
            code = getattr(socket, "SIO_UDP_CONNRESET", None)
            if ioctl is not None and code is not None:
                try:
                    ioctl(code, False)
                except OSError:
                    logger.debug("UDP: unable to turn off WSAECONNRESET reporting")
    except OSError:
        sock.close()
        raise
    apply_broadcast(sock, family, v6only, False)  # normalise, as NetSocket::open does
    return sock, family, v6only


def apply_broadcast(sock: socket.socket, family: int, v6only: bool, enabled: bool) -> None:
    """Set SO_BROADCAST (IPv6-only sockets have no broadcast; the engine skips them)."""
    if family == socket.AF_INET6 and v6only:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1 if enabled else 0)
    except OSError:
        logger.warning("UDP: unable to change broadcast setting on socket")


def wait_fd(sock: Any, for_write: bool, timeout: float | None) -> Error:
    """Wait until ``sock`` is readable/writable, like ``NetSocket::poll``.

    Returns OK when ready, ERR_TIMEOUT when ``timeout`` (seconds; None = forever) elapsed,
    FAILED on a socket error condition (e.g. a pending ICMP error).
    """
    if HAS_POLL:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLOUT if for_write else select.POLLIN)
        if timeout is None:
            events = poller.poll()
        else:
            # poll() takes a C int of milliseconds: longer waits are capped (24.8 days).
            events = poller.poll(int(max(0.0, min(timeout * 1000.0 + 0.999, 2147483647.0))))
        if not events:
            return Error.ERR_TIMEOUT
        if events[0][1] & (select.POLLERR | select.POLLNVAL):
            return Error.FAILED
        return Error.OK
    fds = [sock]  # pragma: no cover - platforms without poll()
    rd, wr, ex = select.select(  # pragma: no cover
        [] if for_write else fds, fds if for_write else [], fds, timeout
    )
    if ex:  # pragma: no cover
        return Error.FAILED
    return Error.OK if (rd or wr) else Error.ERR_TIMEOUT  # pragma: no cover


def fileno_of(sock: socket.socket | None) -> int:
    """``sock``'s descriptor, or -1 when there is no open socket."""
    if sock is None:
        return -1
    try:
        return sock.fileno()
    except OSError:
        return -1


def queue_capacity(shift: int) -> int:
    # Godot's RingBuffer keeps one slot free: a 2^n ring stores at most 2^n - 1 bytes.
    return (1 << shift) - 1


def nearest_shift(value: int) -> int:
    """Godot's ``nearest_shift((uint32_t)value)``: bit length, looking at bits 0..30 only."""
    return (value & 0x7FFFFFFF).bit_length()
