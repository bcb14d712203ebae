"""Socket-backed ``PacketPeerUDP`` with Godot 4's API and return codes.

Why this module exists: the DTLS layer (``PacketPeerDTLS`` / ``DTLSServer``) is written
against Godot's UDP classes, their ``Error`` codes and their quirks (a server-side peer is
"connected" but shares the server socket, a full receive queue silently drops the newest
datagram, an ICMP "port unreachable" turns ``get_available_packet_count()`` into -1, ...).
Reproducing those classes over real OS sockets lets the DTLS code run outside the engine,
over real UDP, and behave the way a GDScript program would see it behave in Godot.

Behaviour follows ``core/io/packet_peer_udp.cpp``, ``core/io/udp_server.cpp``,
``core/io/packet_peer.cpp`` and the POSIX ``NetSocket`` driver (4.x). Where the engine
"prints" an error (``ERR_FAIL_*``) we call ``logger.error``; ``print_verbose`` lines become
``logger.debug``. Nothing here raises for a networking condition: every method returns an
:class:`~godot_dtls.api.errors.Error` member, like the engine.

Deliberate differences from the engine (each one is also noted where it happens):

* A server-side peer whose shared socket was withdrawn (``UDPServer.stop()``, or the peer
  was ``close()``-d) answers ``put_packet`` with ``ERR_UNAVAILABLE``. The engine would
  silently open a brand-new socket and send from a random port, which no remote DTLS peer
  can associate with the session. ``bind``/``connect_to_host``/``set_dest_address`` turn
  such a peer back into an ordinary one.
* A *blocking* peer whose send would block waits at most ``BLOCKING_SEND_TIMEOUT``
  (:mod:`.sockets`) seconds (then ``FAILED``) instead of spinning forever.
* ``wait()`` accepts an optional ``timeout`` (Python extension) and then returns
  ``ERR_TIMEOUT`` when nothing arrived in time. Godot's ``wait()`` has no timeout.
* ``connect_to_host`` empties the receive queue completely (the engine clears the ring
  buffer but forgets to reset its packet counter).
* Each ``poll()`` / queue drain reads at most :data:`MAX_READS_PER_POLL` datagrams, so a
  flood cannot starve the caller (the engine loops until the socket is empty).

Sockets are always non-blocking at the OS level; the "blocking" flag of a peer only
changes what ``put_packet`` does when the OS says "would block".
"""

from __future__ import annotations

import contextlib
import socket
import time
import weakref
from typing import TYPE_CHECKING, Callable

from godot_dtls.api.arguments import (
    check_bool,
    check_float,
    check_int,
    check_string,
    refuses_bad_arguments,
)
from godot_dtls.api.errors import Error
from godot_dtls.api.locking import serialised
from godot_dtls.api.packet_peer import PacketPeer
from godot_dtls.core.log import logger

from . import sockets
from .addresses import (
    IP_TYPE_ANY,
    IP_TYPE_V4,
    IP_TYPE_V6,
    ParsedIP,
    SockAddr,
    godot_ip_string,
    parse_ip,
    resolve,
    sockaddr_for,
    wildcard_sockaddr,
)

if TYPE_CHECKING:  # the server module imports this one
    from .udp_server import UDPServer
from .sockets import (
    DATAGRAM_OVERHEAD,
    DEFAULT_QUEUE_SHIFT,
    MAX_READS_PER_POLL,
    PACKET_BUFFER_SIZE,
    apply_broadcast,
    fileno_of,
    nearest_shift,
    open_udp,
    queue_capacity,
    wait_fd,
)

__all__ = ["PacketPeerUDP"]

#: Datagrams taken from the front of the receive queue before a reader that never
#: empties it gets them dropped from the lists (which then shrink by at least half).
_COMPACT_AFTER = 64


class PacketPeerUDP(PacketPeer):
    """Godot 4's ``PacketPeerUDP``: a UDP endpoint with a bounded receive queue.

    Script-visible methods keep Godot's names, arguments and ``Error`` results. Incoming
    datagrams are drained from the OS into a queue by ``get_available_packet_count()`` and
    ``get_packet()`` (server-side peers are fed by :meth:`UDPServer.poll` instead). The
    queue has a byte budget like the engine's ring buffer: each datagram costs its length
    plus 24 bytes; when it does not fit, the newest datagram is dropped silently and
    :attr:`dropped_datagrams` is incremented.

    Python extensions: :meth:`fileno`, ``wait(timeout=...)``, :meth:`set_blocking_mode`
    (C++-only in Godot) and :attr:`dropped_datagrams`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sock: socket.socket | None = None
        self._family = 0
        self._v6only = False
        # Server-side peers: weak reference to the owning UDPServer and our key there.
        self._server_ref: Callable[[], UDPServer | None] | None = None
        self._server_key: SockAddr | None = None
        # A server-side peer whose shared socket was withdrawn (stop() / close()).
        self._detached = False
        self._connected = False
        self._blocking = True
        self._broadcast = False
        # Destination (Godot's peer_addr / peer_port) and its cached socket address.
        self._peer_ip: ParsedIP | None = None
        self._peer_port = 0
        self._dest_sockaddr: SockAddr | None = None
        # Address reported for datagrams read from a connected socket.
        self._conn_addr: SockAddr | None = None
        # Receive queue: parallel lists (no tuple per datagram) read from _queue_head on.
        # Lists, not deques: an idle peer's empty list holds nothing, where an empty
        # deque keeps a 0.5 KiB block (a server has one peer per client).
        self._queue_data: list[bytes] = []
        self._queue_addr: list[SockAddr] = []
        self._queue_head = 0
        self._queue_bytes = 0
        self._queue_capacity = queue_capacity(DEFAULT_QUEUE_SHIFT)
        self._rbuf: bytearray | None = None
        self._rview: memoryview | None = None
        self._packet_addr: SockAddr | None = None
        #: Datagrams dropped because the receive queue was full (never reset).
        self.dropped_datagrams = 0

    # -- construction by UDPServer ------------------------------------------------------

    @classmethod
    def _new_server_peer(
        cls, server: UDPServer, sock: socket.socket, addr: SockAddr
    ) -> PacketPeerUDP:
        """Godot's ``connect_shared_socket``: a connected peer on the server's socket."""
        peer = cls()
        # The server fills this peer's queue in poll(): they share one lock.
        peer._lock = server._lock
        peer._server_ref = weakref.ref(server)
        peer._server_key = addr
        peer._sock = sock
        peer._family = sock.family
        peer._connected = True
        parsed = parse_ip(addr[0].split("%", 1)[0])
        peer._peer_ip = parsed
        peer._peer_port = addr[1]
        peer._dest_sockaddr = addr
        peer._packet_addr = addr
        return peer

    def _detach(self) -> None:
        """Godot's ``disconnect_shared_socket``: drop the server socket, then ``close()``."""
        self._server_ref = None
        self._server_key = None
        self._sock = None
        self._detached = True
        self._reset_after_close()

    def _store(self, view: memoryview, size: int, addr: SockAddr) -> bool:
        """Queue one datagram (used by UDPServer.poll); False (and counted) when the
        queue is full and the datagram was dropped."""
        cost = size + DATAGRAM_OVERHEAD
        if self._queue_bytes + cost > self._queue_capacity:
            self.dropped_datagrams += 1
            return False
        self._queue_data.append(bytes(view[:size]))
        # Every datagram of a server-side peer comes from its key: keep that one tuple.
        self._queue_addr.append(self._server_key or addr)
        self._queue_bytes += cost
        return True

    def _clear_queue(self) -> None:
        self._queue_data.clear()
        self._queue_addr.clear()
        self._queue_head = 0
        self._queue_bytes = 0

    def _reset_after_close(self) -> None:
        self._clear_queue()
        self._queue_capacity = queue_capacity(DEFAULT_QUEUE_SHIFT)
        self._connected = False
        self._dest_sockaddr = None
        self._conn_addr = None

    def _open(self, ip_type: int) -> None:
        sock, family, v6only = open_udp(ip_type)
        self._sock = sock
        self._family = family
        self._v6only = v6only
        self._dest_sockaddr = None

    # -- Godot API ----------------------------------------------------------------------

    @serialised
    @refuses_bad_arguments()
    def bind(self, port: int, bind_address: str = "*", recv_buf_size: int = 65536) -> Error:
        """Open a socket bound to ``bind_address``:``port`` (0 = any free port).

        ``"*"`` binds every address (dual-stack IPv6 when available). The receive queue
        budget becomes ``2**bit_length(recv_buf_size)`` bytes (65536 → 131072).
        Errors: ERR_ALREADY_IN_USE (already open), ERR_INVALID_PARAMETER (bad address or
        port outside 0..65535), ERR_CANT_CREATE (socket creation failed), ERR_UNAVAILABLE
        (the OS refused the bind).
        """
        port = check_int(port, "port")
        check_string(bind_address, "bind_address")
        recv_buf_size = check_int(recv_buf_size, "recv_buf_size")
        if self._sock is not None:
            logger.error("PacketPeerUDP.bind: socket is already open.")
            return Error.ERR_ALREADY_IN_USE
        wildcard = bind_address == "*"
        parsed = None if wildcard else parse_ip(bind_address)
        if not wildcard and parsed is None:
            logger.error("PacketPeerUDP.bind: invalid bind address %r.", bind_address)
            return Error.ERR_INVALID_PARAMETER
        if port < 0 or port > 65535:
            logger.error("The local port number must be between 0 and 65535 (inclusive).")
            return Error.ERR_INVALID_PARAMETER
        ip_type = IP_TYPE_ANY if parsed is None else IP_TYPE_V4 if parsed[0] else IP_TYPE_V6
        try:
            self._open(ip_type)
        except OSError as exc:
            logger.error("PacketPeerUDP.bind: unable to create socket: %s", exc)
            return Error.ERR_CANT_CREATE
        sock = self._sock
        assert sock is not None
        apply_broadcast(sock, self._family, self._v6only, self._broadcast)
        if parsed is None:
            addr: SockAddr | None = wildcard_sockaddr(self._family, port)
        else:
            addr = sockaddr_for(self._family, self._v6only, parsed, port)
        try:
            if addr is None:
                raise OSError("address family mismatch")
            sock.bind(addr)
        except (OSError, OverflowError) as exc:
            logger.debug("PacketPeerUDP.bind: failed to bind socket: %s", exc)
            sock.close()
            self._sock = None
            return Error.ERR_UNAVAILABLE
        self._detached = False
        self._queue_capacity = queue_capacity(nearest_shift(recv_buf_size & 0xFFFFFFFF))
        return Error.OK

    def is_bound(self) -> bool:
        """True while the peer has an open socket (bound, connected or auto-opened)."""
        return self._sock is not None

    @serialised
    @refuses_bad_arguments()
    def connect_to_host(self, host: str, port: int) -> Error:
        """Restrict the peer to ``host``:``port`` (an IP literal; no DNS lookup).

        Opens a socket first when needed (the OS picks the local port), connects it so only
        datagrams from that address are received, and empties the receive queue.
        Errors: ERR_LOCKED (peer belongs to a UDPServer), ERR_INVALID_PARAMETER (not an IP
        literal, or port outside 1..65535), ERR_CANT_OPEN (socket creation failed), FAILED
        (the OS refused; the socket is closed).
        """
        check_string(host, "host")
        port = check_int(port, "port")
        if self._server_ref is not None:
            logger.error("PacketPeerUDP.connect_to_host: peer is owned by a UDPServer.")
            return Error.ERR_LOCKED
        parsed = parse_ip(host)
        if parsed is None:
            logger.error(
                "PacketPeerUDP.connect_to_host: invalid IP address %r (host names are not "
                "resolved; use IP.resolve_hostname first).",
                host,
            )
            return Error.ERR_INVALID_PARAMETER
        if port < 1 or port > 65535:
            logger.error("The remote port number must be between 1 and 65535 (inclusive).")
            return Error.ERR_INVALID_PARAMETER
        if self._sock is None:
            try:
                self._open(IP_TYPE_V4 if parsed[0] else IP_TYPE_V6)
            except OSError as exc:
                logger.error("PacketPeerUDP.connect_to_host: unable to open socket: %s", exc)
                return Error.ERR_CANT_OPEN
        sock = self._sock
        assert sock is not None
        addr = sockaddr_for(self._family, self._v6only, parsed, port)
        try:
            if addr is None:
                raise OSError(f"socket family cannot reach {parsed[1]}")
            sock.connect(addr)
        except OSError as exc:
            self.close()
            logger.error("PacketPeerUDP.connect_to_host: unable to connect (%s).", exc)
            return Error.FAILED
        self._connected = True
        self._detached = False
        self._peer_ip = parsed
        self._peer_port = port
        self._dest_sockaddr = addr
        self._conn_addr = addr
        # Flush anything queued before the connection.
        self._clear_queue()
        return Error.OK

    def is_socket_connected(self) -> bool:
        """True after ``connect_to_host`` or for a live peer handed out by a UDPServer."""
        return self._connected

    def _put_packet(self, data: bytes) -> Error:
        """Send ``data`` as one datagram to the destination.

        Empty data → OK without sending (PacketPeer base-class rule). Opens a socket of the
        destination's family when none is open. Errors: ERR_UNAVAILABLE (server-side peer
        whose server socket was withdrawn), ERR_UNCONFIGURED (no destination), FAILED (send
        error, or a blocking send still blocked after BLOCKING_SEND_TIMEOUT), ERR_BUSY
        (would block and the peer is in non-blocking mode).
        """
        size = len(data)
        if size == 0:
            return Error.OK
        if self._detached:
            logger.error("PacketPeerUDP.put_packet: the peer's UDPServer socket is gone.")
            return Error.ERR_UNAVAILABLE
        peer_ip = self._peer_ip
        if peer_ip is None:
            logger.error("PacketPeerUDP.put_packet: no destination address set.")
            return Error.ERR_UNCONFIGURED
        sock = self._sock
        if sock is None:
            try:
                self._open(IP_TYPE_V4 if peer_ip[0] else IP_TYPE_V6)
            except OSError as exc:
                logger.error("PacketPeerUDP.put_packet: unable to open socket: %s", exc)
                return Error.FAILED
            sock = self._sock
            assert sock is not None
            apply_broadcast(sock, self._family, self._v6only, self._broadcast)
        use_send = self._connected and self._server_ref is None
        addr = self._dest_sockaddr
        if not use_send and addr is None:
            addr = sockaddr_for(self._family, self._v6only, peer_ip, self._peer_port)
            if addr is None:
                logger.error("PacketPeerUDP.put_packet: socket family cannot reach %s.", peer_ip[1])
                return Error.FAILED
            self._dest_sockaddr = addr
        deadline = 0.0
        while True:
            try:
                if use_send:
                    sock.send(data)
                else:
                    sock.sendto(data, addr)
                return Error.OK
            except BlockingIOError:
                if not self._blocking:
                    return Error.ERR_BUSY
            except (OSError, OverflowError) as exc:
                logger.debug("PacketPeerUDP.put_packet: send failed: %s", exc)
                return Error.FAILED
            # Blocking peer: wait (bounded) for the socket to become writable, then retry.
            now = time.monotonic()
            if deadline == 0.0:
                deadline = now + sockets.BLOCKING_SEND_TIMEOUT
            remaining = deadline - now
            if remaining <= 0.0:
                logger.error(
                    "PacketPeerUDP.put_packet: send still blocked after %.1f s.",
                    sockets.BLOCKING_SEND_TIMEOUT,
                )
                return Error.FAILED
            try:
                wait_fd(sock, True, remaining)
            except (OSError, ValueError):
                return Error.FAILED

    def _poll(self) -> Error:
        """Drain the socket into the queue (Godot's ``_poll``)."""
        sock = self._sock
        if sock is None:
            return Error.FAILED
        if self._server_ref is not None:
            return Error.OK  # Fed by UDPServer.poll().
        view = self._rview
        if view is None:
            self._rbuf = bytearray(PACKET_BUFFER_SIZE)
            view = self._rview = memoryview(self._rbuf)
        buf = self._rbuf
        connected = self._connected
        conn_addr = self._conn_addr
        recv_into = sock.recv_into
        recvfrom_into = sock.recvfrom_into
        append_data = self._queue_data.append
        append_addr = self._queue_addr.append
        used = self._queue_bytes
        capacity = self._queue_capacity
        result = Error.OK
        for _ in range(MAX_READS_PER_POLL):
            try:
                if connected:
                    size = recv_into(buf)
                    addr = conn_addr
                else:
                    size, addr = recvfrom_into(buf)
            except BlockingIOError:
                break
            except OSError as exc:
                # e.g. ConnectionRefusedError: ICMP port unreachable on a connected socket.
                logger.debug("PacketPeerUDP: receive failed: %s", exc)
                result = Error.FAILED
                break
            cost = size + DATAGRAM_OVERHEAD
            if used + cost > capacity:
                self.dropped_datagrams += 1
                continue
            append_data(bytes(view[:size]))
            append_addr(addr)
            used += cost
        self._queue_bytes = used
        return result

    @serialised
    def get_available_packet_count(self) -> int:
        """Drain the socket into the queue, then return the number of queued datagrams.

        Returns -1 when no socket is open or the OS reported a receive error (such as an
        ICMP port unreachable on a connected socket; the OS reports that once).
        """
        if self._poll() != Error.OK:
            return -1
        return len(self._queue_data) - self._queue_head

    def _get_packet(self) -> tuple[bytes, Error]:
        """The next queued datagram and OK, or empty bytes and the error.

        The base class keeps the error for :meth:`get_packet_error`: FAILED when no socket
        is open or the drain hit a receive error, ERR_UNAVAILABLE when the queue is empty.
        """
        err = self._poll()
        if err == Error.OK and self._queue_head >= len(self._queue_data):
            err = Error.ERR_UNAVAILABLE
        if err != Error.OK:
            return b"", err
        return self.get_queued_packet(), Error.OK

    @serialised
    def get_queued_packet(self) -> bytes:
        """The next datagram already queued, without reading the socket first (b"" if none).

        A Python extension for loops that drain once with get_available_packet_count()
        and then take every datagram (PacketPeerDTLS.poll): one system call per poll
        instead of one per datagram. Packet ip/port and get_packet_error work as usual.
        """
        queue = self._queue_data
        head = self._queue_head
        if head >= len(queue):
            self._last_get_error = Error.ERR_UNAVAILABLE
            return b""
        data = queue[head]
        self._packet_addr = self._queue_addr[head]
        head += 1
        if head == len(queue):
            queue.clear()  # the usual case: the queue was drained
            self._queue_addr.clear()
            head = 0
        elif head >= _COMPACT_AFTER and head + head >= len(queue):
            del queue[:head]  # a reader that never drains it: drop what was taken
            del self._queue_addr[:head]
            head = 0
        self._queue_head = head
        self._queue_bytes -= len(data) + DATAGRAM_OVERHEAD
        self._last_get_error = Error.OK
        return data

    def get_packet_ip(self) -> str:
        """Source IP of the last packet read, formatted like Godot ("" before any).

        IPv4-mapped addresses come out as plain IPv4 ("127.0.0.1"); other IPv6 addresses as
        eight uncompressed hex groups ("0:0:0:0:0:0:0:1"), like the engine.
        """
        addr = self._packet_addr
        if addr is None:
            return ""
        return godot_ip_string(addr[0])

    def get_packet_port(self) -> int:
        """Source port of the last packet read (0 before any)."""
        addr = self._packet_addr
        return 0 if addr is None else int(addr[1])

    def get_remote_port(self) -> int:
        """Destination port (0 when none); a Python extension, not in the engine."""
        return self._peer_port if self._peer_ip is not None else 0

    @serialised
    def get_local_port(self) -> int:
        """Local port of the socket (server-side peers: the server's port); 0 if closed."""
        sock = self._sock
        if sock is None:
            logger.error("PacketPeerUDP.get_local_port: socket is not open.")
            return 0
        try:
            return int(sock.getsockname()[1])
        except OSError:
            return 0

    @refuses_bad_arguments()
    def set_dest_address(self, host: str, port: int) -> Error:
        """Set the destination for :meth:`put_packet`; ``host`` may be a name.

        Names are resolved with ``getaddrinfo`` (first result); failure → ERR_CANT_RESOLVE.
        Engine quirk, mirrored: on a connected socket the call logs an error, leaves the
        destination unchanged and still returns OK.
        """
        check_string(host, "host")
        port = check_int(port, "port", 0, 65535)
        parsed = parse_ip(host)
        if parsed is None:
            parsed = resolve(host)  # outside the lock: a lookup may take a while
            if parsed is None:
                return Error.ERR_CANT_RESOLVE
        return self._set_destination(parsed, port)

    @serialised
    def _set_destination(self, parsed: ParsedIP, port: int) -> Error:
        if self._connected:
            logger.error("Destination address cannot be set for connected sockets")
            return Error.OK
        self._peer_ip = parsed
        self._peer_port = port
        self._dest_sockaddr = None
        self._detached = False
        return Error.OK

    @refuses_bad_arguments()
    def wait(self, timeout: float | None = None) -> Error:
        """Block until the socket has a datagram to read (Godot: no timeout).

        Python extension: ``timeout`` in seconds (None = wait forever, <= 0 = just check);
        returns ERR_TIMEOUT when it elapses. Like the engine this watches the socket, not
        the queue (a server-side peer watches the shared server socket). Returns
        ERR_UNCONFIGURED when no socket is open, FAILED on a socket error condition (e.g.
        a pending ICMP error on a connected socket).
        """
        if timeout is not None:
            timeout = check_float(timeout, "timeout")
        sock = self._sock
        if sock is None:
            logger.error("PacketPeerUDP.wait: socket is not open.")
            return Error.ERR_UNCONFIGURED
        try:
            return wait_fd(sock, False, timeout)
        except (OSError, ValueError):
            return Error.FAILED

    @serialised
    def close(self) -> None:
        """Close the socket and empty the queue (budget back to 65536 bytes).

        A server-side peer unregisters from its UDPServer at once, so the next datagram
        from its address becomes a new pending connection; the server socket stays open.
        The destination set earlier is kept, as in the engine.
        """
        if self._server_ref is not None:
            server = self._server_ref()
            if server is not None and self._server_key is not None:
                server._remove_peer(self._server_key, self)
            self._server_ref = None
            self._server_key = None
            self._sock = None
            self._detached = True
        elif self._sock is not None:
            self._sock.close()
            self._sock = None
        self._reset_after_close()

    @serialised
    @refuses_bad_arguments(fallback=None)
    def set_broadcast_enabled(self, enabled: bool) -> None:
        """Allow sending to broadcast addresses (SO_BROADCAST); not on server-side peers."""
        if self._server_ref is not None:
            logger.error("PacketPeerUDP.set_broadcast_enabled: peer is owned by a UDPServer.")
            return
        self._broadcast = check_bool(enabled, "enabled")
        if self._sock is not None:
            apply_broadcast(self._sock, self._family, self._v6only, self._broadcast)

    @serialised
    @refuses_bad_arguments(fallback=None)
    def reserve_receive_queue(self, size: int) -> None:
        """Python extension: make the receive queue hold at least ``size`` bytes.

        The budget is rounded up to a power of two (the ring keeps one byte free, as
        the engine's) and never shrinks. ``PacketPeerDTLS`` asks for room for a burst
        of the largest DTLS records (see README, "Sizing the receive queues"); the
        engine's fixed 64 KiB holds three of them. It lasts until ``close()``.
        """
        size = check_int(size, "size", 0, 1 << 30)
        wanted = queue_capacity(max(DEFAULT_QUEUE_SHIFT, (size - 1).bit_length()))
        if wanted > self._queue_capacity:
            self._queue_capacity = wanted
        sock = self._sock
        if sock is not None and self._server_ref is None:
            # The OS buffer in front of the queue must hold the burst too (best effort:
            # the kernel caps it at net.core.rmem_max). A UDPServer's socket has its own.
            with contextlib.suppress(OSError):
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < wanted:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)

    def get_receive_queue_size(self) -> int:
        """Python extension: bytes of datagrams (plus 24 each) the receive queue holds."""
        return self._queue_capacity

    @refuses_bad_arguments(fallback=None)
    def set_blocking_mode(self, enabled: bool) -> None:
        """C++-only in Godot: whether put_packet waits (True, default) or returns ERR_BUSY."""
        self._blocking = check_bool(enabled, "enabled")

    def get_max_packet_size(self) -> int:
        """C++-only in Godot; advisory constant 512, never enforced."""
        return 512

    def fileno(self) -> int:
        """File descriptor of the socket for select-style waiting, or -1 when closed."""
        return fileno_of(self._sock)

    def __del__(self) -> None:
        # Godot's destructor runs close(): unregister from the server / close our socket.
        # Not contextlib.suppress: module globals may already be gone at shutdown.
        try:  # noqa: SIM105
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
