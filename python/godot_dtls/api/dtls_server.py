"""``DTLSServer``: turns UDP peers from a ``UDPServer`` into server-side DTLS peers.

It holds the server's OpenSSL context, the HelloVerifyRequest cookie secret and the one
listening OpenSSL object that answers every new address (a
:class:`~godot_dtls.core.listener.CookieListener`). A client first gets a stateless
HelloVerifyRequest (that ``take_connection`` returns a peer in ``STATUS_ERROR``, as in
the engine); its retry, carrying the cookie, arrives as a new UDP peer and becomes a
peer in ``STATUS_HANDSHAKING``, built on the listening object that accepted it. A first
datagram that is no ClientHello gives a peer in ``STATUS_ERROR`` and leaves nothing
behind (the engine keeps a peer in ``STATUS_HANDSHAKING`` with a TLS context for it).
"""

from __future__ import annotations

import functools
import time
import weakref
from typing import Any, Callable

from OpenSSL import SSL

from godot_dtls.core.connection import DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MTU
from godot_dtls.core.cookies import COOKIE_LIFETIME, CookieJar
from godot_dtls.core.listener import CookieListener
from godot_dtls.core.log import logger

from .arguments import CheckedAttribute, check_clock, check_float, check_int, check_seconds
from .context import ContextError, server_context
from .dtls_peer import MAX_MTU, MIN_MTU, PacketPeerDTLS
from .errors import Error
from .locking import new_lock, serialised
from .status import Status
from .tls_options import TLSOptions
from .transport import is_transport

__all__ = ["DEFAULT_MAX_HANDSHAKES", "DTLSServer"]

#: Default cap on concurrent handshakes past the cookie exchange, per server.
DEFAULT_MAX_HANDSHAKES = 1024


class DTLSServer:
    """Godot 4's ``DTLSServer``: ``setup(TLSOptions.server(...))`` then ``take_connection``."""

    def __init__(
        self,
        *,
        mtu: int = DEFAULT_MTU,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        cookie_rotation: float = 300.0,
        max_handshakes: int = DEFAULT_MAX_HANDSHAKES,
        idle_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mtu = mtu
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_handshakes = max_handshakes
        self._handshaking: weakref.WeakSet[PacketPeerDTLS] = weakref.WeakSet()
        self._clock = check_clock(clock)
        rotation = check_float(cookie_rotation, "cookie_rotation", COOKIE_LIFETIME)
        self._cookies = CookieJar(rotate_every=rotation)
        self._context: SSL.Context | None = None
        self._listener: CookieListener | None = None
        self._refused = 0
        self._initialised = False
        #: Guards the set of handshakes and the context (see :mod:`.locking`).
        self._lock = new_lock()

    # Python attributes, checked when set (TypeError / ValueError naming the attribute).

    mtu = CheckedAttribute(
        lambda value, name: check_int(value, name, MIN_MTU, MAX_MTU),
        "Largest datagram the server's peers send (MIN_MTU..MAX_MTU).",
    )
    handshake_timeout = CheckedAttribute(
        check_seconds, "Seconds a server-side handshake may take (finite, > 0)."
    )
    idle_timeout = CheckedAttribute(
        functools.partial(check_seconds, optional=True),
        "The ``idle_timeout`` of the peers this server makes from now on (None: none).",
    )
    max_handshakes = CheckedAttribute(
        lambda value, name: check_int(value, name, 0),
        "Handshakes (past the cookie exchange) allowed at once; more are refused silently, "
        "and the client's retransmission tries again later (0: refuse all).",
    )

    @serialised
    def setup(self, server_options: TLSOptions) -> Error:
        """Configure the server. Unlike the engine, a key that does not match the
        certificate (or a missing one) is refused here, not per connection later."""
        if not isinstance(server_options, TLSOptions) or not server_options.is_server():
            logger.error("DTLSServer.setup needs options made by TLSOptions.server()")
            return Error.ERR_INVALID_PARAMETER
        if self._initialised:
            logger.error("DTLSServer.setup: the server is already set up")
            return Error.ERR_ALREADY_IN_USE
        try:
            self._context = server_context(server_options, self._cookies)
        except ContextError as exc:
            logger.error("DTLSServer.setup: %s", exc)
            return Error.ERR_INVALID_PARAMETER
        self._listener = CookieListener(self._context, self.mtu)
        self._initialised = True
        return Error.OK

    @serialised
    def take_connection(self, udp_peer: Any) -> PacketPeerDTLS | None:
        """A new server-side peer for a UDP peer taken from ``UDPServer``.

        Returns None when the server was never set up or ``udp_peer`` is missing;
        otherwise always a peer, in ``STATUS_ERROR`` after a HelloVerifyRequest, in
        ``STATUS_HANDSHAKING`` when the ClientHello carried a valid cookie, in
        ``STATUS_ERROR`` when the first datagrams hold no ClientHello (nothing is sent
        or kept; ``get_last_error_message()`` says so) or when ``max_handshakes`` are in
        progress, and in ``STATUS_DISCONNECTED`` when the UDP peer is not connected.
        Only a peer in ``STATUS_HANDSHAKING`` holds any state for its address.
        """
        if self._listener is None:
            logger.error("DTLSServer.take_connection: call setup() first")
            return None
        if not is_transport(udp_peer):
            logger.error("DTLSServer.take_connection needs a PacketPeerUDP")
            return None
        peer = PacketPeerDTLS(
            mtu=self.mtu,
            handshake_timeout=self.handshake_timeout,
            idle_timeout=self.idle_timeout,
            clock=self._clock,
        )
        peer._accept(udp_peer, self._listener, self._admit_handshake)
        if peer.get_status() is Status.HANDSHAKING:
            self._handshaking.add(peer)
        return peer

    @serialised
    def get_stats(self) -> dict[str, int]:
        """What the server did with the first datagrams of new addresses.

        ``datagrams`` seen, ``dropped`` (no usable ClientHello), ``hello_verify_requests``
        sent, ``accepted`` (valid cookie), ``refused`` (valid cookie, but
        ``max_handshakes`` in progress), and ``handshaking``: server-side peers whose
        handshake is under way, the only ones holding state for their address.
        """
        listener = self._listener
        stats = listener.stats if listener is not None else None
        return {
            "datagrams": stats.datagrams if stats else 0,
            "dropped": stats.dropped if stats else 0,
            "hello_verify_requests": stats.verify_requests if stats else 0,
            "accepted": stats.accepted if stats else 0,
            "refused": self._refused,
            "handshaking": sum(
                1 for peer in list(self._handshaking) if peer.get_status() is Status.HANDSHAKING
            ),
        }

    @serialised
    def _admit_handshake(self) -> bool:
        """May one more handshake start? Counts the live ones only near the cap."""
        if len(self._handshaking) < self.max_handshakes:
            return True  # peers that finished are still in the set: a cheap upper bound
        live = [p for p in self._handshaking if p.get_status() is Status.HANDSHAKING]
        self._handshaking = weakref.WeakSet(live)
        if len(live) >= self.max_handshakes:
            logger.warning("DTLSServer: %d handshakes in progress, refusing another", len(live))
            self._refused += 1
            return False
        return True
