"""Socket-backed ``UDPServer`` with Godot 4's API: one shared socket demultiplexed into
per-address ``PacketPeerUDP`` objects (``core/io/udp_server.cpp``).

Deliberate differences from the engine are listed in :mod:`.packet_peer_udp`.
"""

from __future__ import annotations

import contextlib
import socket
import weakref
from typing import Any, Callable

from godot_dtls.api.arguments import check_int, check_string, refuses_bad_arguments
from godot_dtls.api.errors import Error
from godot_dtls.api.locking import new_lock, serialised
from godot_dtls.core.log import logger

from .addresses import (
    IP_TYPE_ANY,
    IP_TYPE_V4,
    IP_TYPE_V6,
    SockAddr,
    parse_ip,
    sockaddr_for,
    wildcard_sockaddr,
)
from .packet_peer_udp import PacketPeerUDP
from .sockets import (
    IS_WINDOWS,
    MAX_READS_PER_POLL,
    PACKET_BUFFER_SIZE,
    SERVER_RECEIVE_BUFFER,
    fileno_of,
    open_udp,
)

__all__ = ["UDPServer"]


class UDPServer:
    """Godot 4's ``UDPServer``: one shared socket demultiplexed into per-address peers.

    ``poll()`` must be called regularly: it is the only reader of the socket. A datagram
    from an unknown address creates a pending :class:`PacketPeerUDP` (unless
    ``max_pending_connections`` are already pending); ``take_connection()`` hands pending
    peers out. Handed-out ("taken") peers are held weakly: when one is closed or garbage
    collected, the next datagram from its address becomes a new pending connection.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pending: dict[SockAddr, PacketPeerUDP] = {}
        self._taken: dict[SockAddr, Any] = {}  # addr -> weakref.KeyedRef[PacketPeerUDP]
        self._reaper = _make_reaper(self)
        self._max_pending = 16
        self._rbuf: bytearray | None = None
        self._rview: memoryview | None = None
        #: Shared with the peers handed out (see :mod:`godot_dtls.api.locking`).
        self._lock = new_lock()
        #: Datagrams dropped because their peer's receive queue was full (Python
        #: extension; each peer also counts its own in ``dropped_datagrams``).
        self.dropped_datagrams = 0
        #: Datagrams from new addresses dropped because ``max_pending_connections``
        #: peers were already pending (Python extension).
        self.refused_datagrams = 0

    @serialised
    @refuses_bad_arguments()
    def listen(self, port: int, bind_address: str = "*") -> Error:
        """Bind the shared socket (SO_REUSEADDR, non-blocking) and start accepting.

        Errors: ERR_ALREADY_IN_USE (already listening), ERR_INVALID_PARAMETER (bad
        address), ERR_CANT_CREATE (socket creation failed), ERR_UNAVAILABLE (bind failed;
        the server is stopped).
        """
        port = check_int(port, "port")
        check_string(bind_address, "bind_address")
        if self._sock is not None:
            logger.error("UDPServer.listen: already listening.")
            return Error.ERR_ALREADY_IN_USE
        wildcard = bind_address == "*"
        parsed = None if wildcard else parse_ip(bind_address)
        if not wildcard and parsed is None:
            logger.error("UDPServer.listen: invalid bind address %r.", bind_address)
            return Error.ERR_INVALID_PARAMETER
        # Engine quirk: listen() takes a uint16_t, so the script's int wraps modulo 65536.
        port &= 0xFFFF
        ip_type = IP_TYPE_ANY if parsed is None else IP_TYPE_V4 if parsed[0] else IP_TYPE_V6
        try:
            sock, family, v6only = open_udp(ip_type)
        except OSError as exc:
            logger.error("UDPServer.listen: unable to create socket: %s", exc)
            return Error.ERR_CANT_CREATE
        self._sock = sock
        if not IS_WINDOWS:
            # The engine does not set SO_REUSEADDR on Windows (it would mean "reuse port").
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except OSError:
                logger.warning("UDPServer.listen: unable to set SO_REUSEADDR")
        # One socket takes every client's datagrams; the OS default buffer (~208 KiB on
        # Linux) overflows when hundreds of clients join at once, and each dropped
        # ClientHello costs that client a retransmission timeout. Best effort: the kernel
        # caps the value (net.core.rmem_max).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SERVER_RECEIVE_BUFFER)
        if parsed is None:
            addr: SockAddr | None = wildcard_sockaddr(family, port)
        else:
            addr = sockaddr_for(family, v6only, parsed, port)
        try:
            if addr is None:
                raise OSError("address family mismatch")
            sock.bind(addr)
        except OSError as exc:
            logger.debug("UDPServer.listen: failed to bind socket: %s", exc)
            self.stop()
            return Error.ERR_UNAVAILABLE
        if self._rview is None:
            self._rbuf = bytearray(PACKET_BUFFER_SIZE)
            self._rview = memoryview(self._rbuf)
        return Error.OK

    @serialised
    def poll(self) -> Error:
        """Read waiting datagrams and route them to peers (at most MAX_READS_PER_POLL).

        Known address (taken or pending) → that peer's queue; unknown address → new pending
        peer, or dropped silently when ``max_pending_connections`` are pending.
        Returns ERR_UNCONFIGURED when not listening, FAILED on a receive error, else OK.
        """
        sock = self._sock
        if sock is None:
            return Error.ERR_UNCONFIGURED
        buf = self._rbuf
        view = self._rview
        assert buf is not None and view is not None
        recvfrom_into = sock.recvfrom_into
        taken = self._taken
        pending = self._pending
        for _ in range(MAX_READS_PER_POLL):
            try:
                size, addr = recvfrom_into(buf)
            except BlockingIOError:
                break
            except OSError as exc:
                logger.debug("UDPServer.poll: receive failed: %s", exc)
                return Error.FAILED
            ref = taken.get(addr)
            if ref is not None:
                peer = ref()
                if peer is not None:
                    if not peer._store(view, size, addr):
                        self.dropped_datagrams += 1
                    continue
                del taken[addr]  # collected, callback not run yet
            peer = pending.get(addr)
            if peer is not None:
                if not peer._store(view, size, addr):
                    self.dropped_datagrams += 1
                continue
            if len(pending) >= self._max_pending:
                self.refused_datagrams += 1
                continue  # Drop connection.
            peer = PacketPeerUDP._new_server_peer(self, sock, addr)
            peer._store(view, size, addr)
            pending[addr] = peer
        return Error.OK

    def is_connection_available(self) -> bool:
        """True when listening and at least one peer is pending (does not read the socket)."""
        return self._sock is not None and bool(self._pending)

    @serialised
    def take_connection(self) -> PacketPeerUDP | None:
        """Hand out the oldest pending peer (already socket-connected), or None."""
        if not self.is_connection_available():
            return None
        key = next(iter(self._pending))
        peer = self._pending.pop(key)
        # A KeyedRef carries its key, so one callback serves every taken peer (no
        # closure per peer).
        self._taken[key] = weakref.KeyedRef(peer, self._reaper, key)
        return peer

    @serialised
    def _remove_peer(self, key: SockAddr, peer: PacketPeerUDP) -> None:
        """Forget a taken peer (called by PacketPeerUDP.close())."""
        ref = self._taken.get(key)
        if ref is not None:
            current = ref()
            if current is None or current is peer:
                del self._taken[key]

    @serialised
    def stop(self) -> None:
        """Close the socket; detach taken peers and free pending ones (remotes not told)."""
        sock = self._sock
        self._sock = None
        if sock is not None:
            sock.close()
        taken = list(self._taken.values())
        pending = list(self._pending.values())
        self._taken.clear()
        self._pending.clear()
        for ref in taken:
            peer = ref()
            if peer is not None:
                peer._detach()
        for peer in pending:
            peer._detach()

    def is_listening(self) -> bool:
        """True between a successful listen() and stop()."""
        return self._sock is not None

    @serialised
    def get_local_port(self) -> int:
        """Port the server socket is bound to (0 and an error log when not listening)."""
        sock = self._sock
        if sock is None:
            logger.error("UDPServer.get_local_port: not listening.")
            return 0
        try:
            return int(sock.getsockname()[1])
        except OSError:
            return 0

    def fileno(self) -> int:
        """Python extension: socket descriptor for select-style waiting, or -1."""
        return fileno_of(self._sock)

    @serialised
    @refuses_bad_arguments(fallback=None)
    def set_max_pending_connections(self, max_pending: int) -> None:
        """Set how many unknown addresses may wait for take_connection() (0 = refuse).

        Negative values log an error and are ignored. Values above 256 are accepted: the
        0..256 range in Godot is only an inspector hint.
        """
        max_pending = check_int(max_pending, "max_pending")
        if max_pending < 0:
            logger.error(
                "Max pending connections value must be a positive number "
                "(0 means refuse new connections)."
            )
            return
        self._max_pending = max_pending
        # Engine quirk, mirrored exactly (udp_server.cpp, set_max_pending_connections):
        #     while (p_max > pending.size()) { E = pending.back(); if (!E) break; delete; }
        # The condition is inverted relative to the evident intent: setting a value LARGER
        # than the current pending count discards pending peers from the back until none
        # are left, while a value smaller than (or equal to) the count discards nothing.
        while max_pending > len(self._pending):
            if not self._pending:
                break
            _key, peer = self._pending.popitem()  # the back (most recently added)
            peer._detach()

    def get_max_pending_connections(self) -> int:
        """Current limit of pending connections (default 16)."""
        return self._max_pending

    @property
    def max_pending_connections(self) -> int:
        """Godot property ``max_pending_connections`` (see set_max_pending_connections)."""
        return self._max_pending

    @max_pending_connections.setter
    def max_pending_connections(self, value: int) -> None:
        self.set_max_pending_connections(value)

    def __del__(self) -> None:
        # Godot's destructor runs stop().
        # Not contextlib.suppress: module globals may already be gone at shutdown.
        try:  # noqa: SIM105
            self.stop()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _make_reaper(server: UDPServer) -> Callable[[Any], None]:
    """Weakref callback for the KeyedRefs of ``server``'s taken peers: unregister a peer
    that was garbage collected."""
    server_ref = weakref.ref(server)

    def _reap(ref: Any) -> None:
        srv = server_ref()
        if srv is None:
            return
        with srv._lock:
            key = ref.key
            if srv._taken.get(key) is ref:
                del srv._taken[key]

    return _reap
