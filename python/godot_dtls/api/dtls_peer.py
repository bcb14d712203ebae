"""``PacketPeerDTLS``: Godot's DTLS peer, driven by ``poll()`` over a UDP transport.

It moves datagrams between a :class:`~godot_dtls.api.transport.Transport` (a connected
``PacketPeerUDP``) and a sans-IO :class:`~godot_dtls.core.connection.DTLSConnection`, reads
the clock for it, and reports everything the Godot way: methods return ``Error`` codes,
``get_status()`` tells the state, problems are logged, nothing raises into the caller
for a runtime condition.

Where the engine buffers one packet per ``poll()``, this peer drains every datagram
waiting and queues all packets (scripts written for the engine work unchanged). A
peer's close_notify or a fatal error that arrives after data ends the connection only
once that data has been read, so nothing the peer sent before is lost.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable

from OpenSSL import SSL

from godot_dtls.core.connection import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_QUEUED_BYTES,
    DEFAULT_MAX_QUEUED_PACKETS,
    DEFAULT_MTU,
    ConnectionState,
    DTLSConnection,
    InvalidStateError,
)
from godot_dtls.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    FailureReason,
    HandshakeCompleted,
    HelloVerifyRequestSent,
    IdleTimedOut,
)
from godot_dtls.core.listener import AcceptedHello, CookieListener, ListenOutcome
from godot_dtls.core.log import logger
from godot_dtls.core.records import MAX_PLAINTEXT_SIZE
from godot_dtls.core.verification import CertificateVerifier

from .arguments import (
    CheckedAttribute,
    check_callable,
    check_clock,
    check_int,
    check_seconds,
    check_string,
    refuses_bad_arguments,
)
from .context import ContextError, client_context
from .errors import Error
from .locking import serialised
from .packet_peer import PacketPeer
from .sessions import lookup_session, store_session
from .status import Status
from .tls_options import TLSMode, TLSOptions
from .transport import Transport, is_transport

__all__ = ["MAX_MTU", "MIN_MTU", "PacketPeerDTLS"]

#: Datagram size limits for ``mtu=``: OpenSSL needs room for a handshake message header
#: and its record; no UDP payload (over IPv4) is larger than 65507 bytes.
MIN_MTU = 256
MAX_MTU = 65507

#: Upper bound of datagrams taken from the transport in one poll(), so a flood cannot
#: keep a game frame inside poll() forever.
MAX_DATAGRAMS_PER_POLL = 1024
#: Datagrams kept for a transport that said "would block" (server-side peers).
MAX_UNSENT_DATAGRAMS = 256
#: Receive queue asked of a UDP peer carrying DTLS (where it can grow: the package's
#: PacketPeerUDP): room for 63 records of the largest size (16 KiB + 29 bytes) between
#: two polls, where the engine's 64 KiB ring buffer holds 3. Memory is used only by
#: datagrams actually waiting.
DTLS_RECEIVE_QUEUE = 1 << 20

_LIVE = (Status.HANDSHAKING, Status.CONNECTED)
_RELEASES_ADDRESS = (FailureReason.CLIENT_RECONNECTED, FailureReason.REFUSED)
_default_client_options: TLSOptions | None = None


def _default_options() -> TLSOptions:
    """``TLSOptions.client()``, made once so its CA bundle is loaded once."""
    global _default_client_options
    if _default_client_options is None:
        _default_client_options = TLSOptions.client()
    return _default_client_options


def _client_identity(
    options: TLSOptions, hostname: str
) -> tuple[str | None, CertificateVerifier | None]:
    """The SNI name and the certificate check a client makes with ``options``."""
    extensions = options.extensions
    pins = extensions.pinned_spki_sha256
    if options.mode is TLSMode.CLIENT_PSK:
        return (hostname or None), None
    if options.is_unsafe_client():
        # No name check and, as in the engine, no SNI.
        if options.get_trusted_ca_chain() is not None:
            return None, CertificateVerifier(None, pins)
        if pins:
            return None, CertificateVerifier(None, pins, check_chain=False)
        return None, None
    name = options.get_common_name_override() or hostname
    return name, CertificateVerifier(name, pins, crl_soft_fail=extensions.crl_soft_fail)


def _session_key(transport: Any, server_name: str) -> tuple[str, int]:
    """(server name, server port): which cached session a new connection may resume."""
    get_port = getattr(transport, "get_remote_port", None)
    port = get_port() if callable(get_port) else 0
    return server_name, int(port) if isinstance(port, int) else 0


def _remote_address(transport: Any) -> tuple[str, int]:
    """The client's (ip, port) as the UDP peer reports it; cookies are bound to it."""
    get_ip = getattr(transport, "get_packet_ip", None)
    get_port = getattr(transport, "get_packet_port", None)
    ip = str(get_ip()) if callable(get_ip) else ""
    port = int(get_port()) if callable(get_port) else 0
    return ip, port


class PacketPeerDTLS(PacketPeer):
    """A DTLS 1.2 client or server-side peer with Godot 4's ``PacketPeerDTLS`` API."""

    Status = Status
    STATUS_DISCONNECTED = Status.DISCONNECTED
    STATUS_HANDSHAKING = Status.HANDSHAKING
    STATUS_CONNECTED = Status.CONNECTED
    STATUS_ERROR = Status.ERROR
    STATUS_ERROR_HOSTNAME_MISMATCH = Status.ERROR_HOSTNAME_MISMATCH

    def __init__(
        self,
        *,
        mtu: int = DEFAULT_MTU,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        idle_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.mtu = mtu
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_queued_packets = DEFAULT_MAX_QUEUED_PACKETS
        self.max_queued_bytes = DEFAULT_MAX_QUEUED_BYTES
        self.status_changed = None
        self._clock = check_clock(clock)
        self._status = Status.DISCONNECTED
        self._connection: DTLSConnection | None = None
        self._last_connection: DTLSConnection | None = None
        self._transport: Transport | None = None
        self._pending_end: Status | None = None
        # Datagrams the transport refused with ERR_BUSY, oldest first (a list: an idle
        # server peer keeps nothing here, where an empty deque holds a 0.5 KiB block).
        self._unsent: list[bytes] = []
        self._last_message = ""
        self._resumption: tuple[TLSOptions, tuple[str, int]] | None = None
        # Datagrams the UDP peer dropped (queue full) before and during the connection.
        self._udp_drops_at_start = 0
        self._udp_drops = 0

    # ------------------------------------------------------------------ settings

    # Python attributes, checked when set (TypeError / ValueError naming the attribute),
    # so a wrong value never reaches the next connection.

    mtu = CheckedAttribute(
        lambda value, name: check_int(value, name, MIN_MTU, MAX_MTU),
        "Largest datagram sent, in bytes (MIN_MTU..MAX_MTU); used by the next connection.",
    )
    handshake_timeout = CheckedAttribute(
        check_seconds,
        "Seconds a handshake may take before it ends in ``STATUS_ERROR`` (finite, > 0).",
    )
    idle_timeout = CheckedAttribute(
        functools.partial(check_seconds, optional=True),
        "Seconds without a datagram from the peer after which a connected peer sends "
        "close_notify and becomes ``STATUS_DISCONNECTED`` (None, the default: never, as "
        "in the engine). Used by the next connection.",
    )
    max_queued_packets = CheckedAttribute(
        lambda value, name: check_int(value, name, 1),
        "Received packets kept until read (the newest is dropped and counted beyond).",
    )
    max_queued_bytes = CheckedAttribute(
        lambda value, name: check_int(value, name, 1),
        "Bytes of received packets kept until read (the newest is dropped beyond).",
    )
    status_changed = CheckedAttribute(
        functools.partial(check_callable, optional=True),
        "Called with the new :class:`Status` on every status change (or None).",
    )

    # ------------------------------------------------------------------ Godot API

    @serialised
    @refuses_bad_arguments()
    def connect_to_peer(
        self, packet_peer: Any, hostname: str, client_options: TLSOptions | None = None
    ) -> Error:
        """Start a client handshake over ``packet_peer`` (a connected PacketPeerUDP).

        A name that no certificate can match (empty, malformed, a wildcard, over-long,
        an IPv4 address in a non-standard form: see
        :func:`~godot_dtls.core.verification.name_to_check`) is refused here with
        ``ERR_INVALID_PARAMETER`` and a message, before any packet is sent, rather than
        failing the handshake later with ``STATUS_ERROR_HOSTNAME_MISMATCH``: the mistake
        is the caller's, it is reported at the call that made it, and no ClientHello
        carries a name that means nothing. (The engine accepts any String and fails
        during the handshake.) One trailing dot is accepted as the same name.
        """
        if not is_transport(packet_peer) or not packet_peer.is_socket_connected():
            return self._refuse(
                Error.ERR_INVALID_PARAMETER,
                "connect_to_peer needs a PacketPeerUDP connected with connect_to_host()",
            )
        check_string(hostname, "hostname")
        options = _default_options() if client_options is None else client_options
        if not isinstance(options, TLSOptions) or options.is_server():
            return self._refuse(
                Error.ERR_INVALID_PARAMETER,
                "client_options must be made by TLSOptions.client() or client_unsafe()",
            )
        if self._status in _LIVE:
            return self._refuse(Error.ERR_ALREADY_IN_USE, "the DTLS connection is already active")
        try:
            context = client_context(options)
        except ContextError as exc:
            return self._refuse(Error.ERR_UNCONFIGURED, str(exc))

        server_name, verifier = _client_identity(options, hostname)
        session_key = _session_key(packet_peer, server_name or hostname)
        session = (
            lookup_session(options, session_key) if options.extensions.session_resumption else None
        )
        try:
            connection = DTLSConnection(
                context,
                is_client=True,
                server_name=server_name,
                verifier=verifier,
                mtu=self.mtu,
                handshake_timeout=self.handshake_timeout,
                max_queued_packets=self.max_queued_packets,
                max_queued_bytes=self.max_queued_bytes,
                session=session,
                idle_timeout=self.idle_timeout,
            )
        except (ValueError, SSL.Error) as exc:
            return self._refuse(Error.ERR_INVALID_PARAMETER, f"cannot start the handshake: {exc}")
        self._resumption = (options, session_key) if options.extensions.session_resumption else None
        self._begin(packet_peer, connection)
        connection.start(self._clock())
        if not self._send_datagrams(connection):
            self._last_message = "could not send the ClientHello"
            logger.error("DTLS handshake failed: %s", self._last_message)
            self._end(Status.ERROR)
            return Error.FAILED
        self._absorb_events(connection)
        return Error.OK

    @serialised
    def poll(self) -> None:
        """Exchange datagrams, run timers, update the status. Call it every frame."""
        if self._status not in _LIVE:
            return
        if self._pending_end is not None:
            if not self._connection_has_packets():
                self._end(self._pending_end)
            return
        self._pump()

    def get_status(self) -> Status:
        """The connection's :class:`Status`."""
        return self._status

    @serialised
    def disconnect_from_peer(self) -> None:
        """Close: close_notify when connected, nothing sent while handshaking.

        In DISCONNECTED or an error status this does nothing (the error status stays).
        """
        if self._status not in _LIVE:
            return
        connection = self._connection
        if connection is not None and connection.state is ConnectionState.CONNECTED:
            connection.close()
            self._send_datagrams(connection)
        elif connection is not None:
            connection.close()
        self._end(Status.DISCONNECTED)

    def get_available_packet_count(self) -> int:
        """Packets received and not yet read (0 unless CONNECTED)."""
        if self._status is not Status.CONNECTED:
            logger.error("get_available_packet_count: the DTLS peer is not connected")
            return 0
        connection = self._connection
        return connection.packet_count() if connection is not None else 0

    # ------------------------------------------------------------------ extensions

    def get_last_error_message(self) -> str:
        """Why the last operation failed or the connection ended ("" if it did not)."""
        return self._last_message

    def get_connection(self) -> DTLSConnection | None:
        """The sans-IO connection behind this peer (None when disconnected)."""
        return self._connection

    @serialised
    def get_stats(self) -> dict[str, Any]:
        """Counters and negotiated parameters of the current (or last) connection.

        Keys: datagrams/bytes in and out, retransmissions, alerts sent and received,
        packets dropped (oversize, empty, queue full), ``datagrams_dropped_udp_queue``
        (datagrams the UDP peer's receive queue had no room for, so DTLS never saw
        them), ``handshake_time`` (seconds), ``version``, ``cipher``, ``group``,
        ``alpn``, ``session_resumed``.
        """
        connection = self._connection or self._last_connection
        if connection is None:
            return {}
        stats: dict[str, Any] = connection.stats.as_dict()
        started = stats.get("handshake_started_at")
        completed = stats.get("handshake_completed_at")
        stats["handshake_time"] = (
            completed - started if started is not None and completed is not None else None
        )
        if completed is not None:
            stats.update(connection.negotiated())
        stats["datagrams_dropped_udp_queue"] = (
            self._transport_drops() if connection is self._connection else self._udp_drops
        )
        return stats

    @serialised
    def is_session_resumed(self) -> bool:
        """True when the current connection resumed an earlier session."""
        connection = self._connection
        return bool(
            connection is not None
            and self._status is Status.CONNECTED
            and connection.session_reused
        )

    @serialised
    def get_alpn_protocol(self) -> str:
        """The ALPN protocol agreed on with the peer ("" when none)."""
        connection = self._connection
        if connection is None or self._status is not Status.CONNECTED:
            return ""
        return connection.alpn_protocol

    # ------------------------------------------------------------------ PacketPeer hooks

    def _put_packet(self, data: bytes) -> Error:
        if self._status is not Status.CONNECTED:
            logger.error("put_packet: the DTLS peer is not connected")
            return Error.ERR_UNCONFIGURED
        if len(data) > MAX_PLAINTEXT_SIZE:
            # The engine tears the connection down here; refusing keeps it usable.
            logger.error(
                "put_packet: %d bytes exceed the DTLS record limit of %d bytes",
                len(data),
                MAX_PLAINTEXT_SIZE,
            )
            return Error.ERR_INVALID_PARAMETER
        connection = self._connection
        assert connection is not None
        if self._pending_end is not None:
            logger.error("put_packet: the peer has already ended the connection")
            return Error.ERR_CONNECTION_ERROR
        try:
            connection.send(data)
        except InvalidStateError as exc:
            self._last_message = str(exc)
            logger.error("put_packet failed: %s", exc)
            self._end(Status.DISCONNECTED)
            return Error.ERR_CONNECTION_ERROR
        if not self._send_datagrams(connection):
            logger.error("put_packet: the UDP peer failed to send")
            self._end(Status.DISCONNECTED)
            return Error.ERR_CONNECTION_ERROR
        return Error.OK

    def _get_packet(self) -> tuple[bytes, Error]:
        if self._status is not Status.CONNECTED:
            logger.error("get_packet: the DTLS peer is not connected")
            return b"", Error.ERR_UNCONFIGURED
        connection = self._connection
        assert connection is not None
        packet = connection.next_packet()
        if packet is not None:
            return packet, Error.OK
        if self._pending_end is None:
            # Nothing buffered: read straight from the transport, as the engine does.
            self._pump()
            packet = connection.next_packet()
            if packet is not None:
                return packet, Error.OK
        if self._pending_end is not None:
            self._end(self._pending_end)
        if self._status is not Status.CONNECTED:
            return b"", Error.ERR_CONNECTION_ERROR
        return b"", Error.OK

    # ------------------------------------------------------------------ server side

    @serialised
    def _accept(
        self, transport: Any, listener: CookieListener, admit: Callable[[], bool] | None = None
    ) -> None:
        """Server side: answer the first datagrams of a UDP peer handed out by ``UDPServer``.

        Until a ClientHello carries a valid cookie nothing is kept for the address: the
        DTLSServer's one listening OpenSSL object answers (:mod:`godot_dtls.core.listener`).
        The outcomes, as ``DTLSServer.take_connection`` documents them: a
        HelloVerifyRequest sent gives ``STATUS_ERROR`` (silent, as in the engine); a
        valid cookie a connection in ``STATUS_HANDSHAKING``, or ``STATUS_ERROR`` when the
        handshake cap refuses it; no ClientHello at all ``STATUS_ERROR`` with nothing
        sent. Whenever no connection is made, the UDP peer's address is released, so the
        sender's next datagram starts afresh.
        """
        if not transport.is_socket_connected():
            logger.error("take_connection: the UDP peer is not connected")
            return
        set_blocking = getattr(transport, "set_blocking_mode", None)
        if callable(set_blocking):
            set_blocking(False)
        now = self._clock()
        datagrams = self._read_transport(transport)
        if datagrams is None:
            logger.error("take_connection: the UDP peer reports an error")
            return
        address = _remote_address(transport)
        for index, datagram in enumerate(datagrams):
            result = listener.receive(datagram, address, now)
            if result.outcome is ListenOutcome.VERIFY_REQUESTED:
                for answer in result.datagrams:
                    transport.put_packet(answer)  # stateless: a lost one is resent on request
                self._release_after_cookie(transport)
                return
            if result.outcome is ListenOutcome.ACCEPTED:
                assert result.accepted is not None
                if admit is not None and not admit():
                    self._refuse_unstarted(transport, "too many handshakes in progress")
                    return
                self._start_accepted(
                    transport, listener, result.accepted, datagrams[index + 1 :], now
                )
                return
        # Deliberately quiet (debug): spoofed senders choose how often this happens.
        self._last_message = (
            f"no ClientHello in the first datagram(s) from {address[0]}:{address[1]}: "
            "dropped, nothing kept"
        )
        logger.debug("take_connection: %s", self._last_message)
        self._release_transport(transport)
        self._end(Status.ERROR)

    def _start_accepted(
        self,
        transport: Any,
        listener: CookieListener,
        accepted: AcceptedHello,
        rest: list[bytes],
        now: float,
    ) -> None:
        """A ClientHello with a valid cookie: the connection continues on its SSL object."""
        connection = DTLSConnection(
            listener.context,
            is_client=False,
            accepted=accepted,
            mtu=self.mtu,
            handshake_timeout=self.handshake_timeout,
            max_queued_packets=self.max_queued_packets,
            max_queued_bytes=self.max_queued_bytes,
            idle_timeout=self.idle_timeout,
        )
        self._begin(transport, connection)
        connection.start(now)
        for datagram in rest:
            connection.receive_datagram(datagram, now)
        self._send_datagrams(connection)
        self._absorb_events(connection)

    def _refuse_unstarted(self, transport: Any, message: str) -> None:
        """Server side: no connection is made for a valid ClientHello; the address is
        released so that the client's retransmission is tried again later."""
        self._last_message = message
        logger.error("DTLS connection failed: %s", message)
        self._release_transport(transport)
        self._end(Status.ERROR)

    # ------------------------------------------------------------------ internals

    def _refuse(self, error: Error, message: str) -> Error:
        self._last_message = message
        logger.error("%s", message)
        return error

    def _set_status(self, status: Status) -> None:
        if status is self._status:
            return
        self._status = status
        callback = self._status_changed
        if callback is not None:
            try:
                callback(status)
            except Exception:
                # The application's bug must not leave the peer half-changed (or escape
                # from poll()); in Godot, an error in a signal handler stays there too.
                logger.exception("the status_changed callback raised")

    def _begin(self, transport: Any, connection: DTLSConnection) -> None:
        reserve = getattr(transport, "reserve_receive_queue", None)
        if callable(reserve):
            reserve(DTLS_RECEIVE_QUEUE)
        drops = getattr(transport, "dropped_datagrams", 0)
        self._udp_drops_at_start = drops if isinstance(drops, int) else 0
        self._udp_drops = 0
        self._transport = transport
        self._connection = connection
        self._last_connection = connection
        self._pending_end = None
        self._unsent.clear()
        self._last_message = ""
        self._set_status(Status.HANDSHAKING)

    def _end(self, status: Status) -> None:
        """The engine's cleanup: drop the connection and the UDP peer, then set ``status``."""
        self._udp_drops = self._transport_drops()
        self._connection = None
        self._transport = None
        self._pending_end = None
        self._unsent.clear()
        self._set_status(status)

    def _transport_drops(self) -> int:
        """Datagrams the UDP peer dropped (queue full) since this connection began."""
        drops = getattr(self._transport, "dropped_datagrams", None)
        if not isinstance(drops, int):
            return self._udp_drops
        return max(0, drops - self._udp_drops_at_start)

    def _connection_has_packets(self) -> bool:
        connection = self._connection
        return connection is not None and connection.packet_count() > 0

    def _read_transport(self, transport: Any) -> list | None:
        count = transport.get_available_packet_count()
        if count < 0:
            return None
        get_packet = transport.get_packet
        return [get_packet() for _ in range(min(count, MAX_DATAGRAMS_PER_POLL))]

    def _pump(self) -> None:
        """One round of I/O: inbound datagrams, timers, outbound datagrams, events."""
        connection = self._connection
        transport = self._transport
        assert connection is not None and transport is not None
        if self._unsent and not self._flush_unsent(transport):
            self._transport_failed(connection)
            return
        count = transport.get_available_packet_count()
        if count < 0:
            self._transport_failed(connection)
            return
        timer = connection.get_timer()
        if not count and timer is None:
            return  # an idle established peer: nothing arrived, nothing due
        now = self._clock()
        if count:
            receive = connection.receive_datagram
            # The socket was just drained: take the queued datagrams without draining
            # it again per datagram, where the transport offers that.
            get_packet = getattr(transport, "get_queued_packet", None) or transport.get_packet
            for _ in range(min(count, MAX_DATAGRAMS_PER_POLL)):
                receive(get_packet(), now)
            timer = connection.get_timer()
        if timer is not None and now >= timer:
            connection.handle_timer(now)
        if not self._send_datagrams(connection):
            self._transport_failed(connection)
            return
        self._absorb_events(connection)

    def _transport_failed(self, connection: DTLSConnection) -> None:
        self._last_message = "the UDP peer reported an error"
        logger.error("DTLS: %s", self._last_message)
        connection.close()
        self._end(Status.ERROR)

    def _send_datagrams(self, connection: DTLSConnection) -> bool:
        """Hand the connection's output to the transport; False on a hard send error."""
        datagrams = connection.datagrams_to_send()
        if not datagrams:
            return True
        transport = self._transport
        if transport is None:
            return False
        if self._unsent:
            self._unsent.extend(datagrams)
            return self._flush_unsent(transport)
        put_packet = transport.put_packet
        for index, datagram in enumerate(datagrams):
            error = put_packet(datagram)
            if error == Error.OK:
                continue
            if error == Error.ERR_BUSY:
                # The record stays queued and goes out on a later poll(), as in the engine.
                self._unsent.extend(datagrams[index:])
                self._trim_unsent()
                return True
            return False
        return True

    def _flush_unsent(self, transport: Any) -> bool:
        unsent = self._unsent
        put_packet = transport.put_packet
        sent = 0
        try:
            for datagram in unsent:
                error = put_packet(datagram)
                if error == Error.ERR_BUSY:
                    break
                if error != Error.OK:
                    return False
                sent += 1
        finally:
            del unsent[:sent]
        self._trim_unsent()
        return True

    def _trim_unsent(self) -> None:
        unsent = self._unsent
        if len(unsent) > MAX_UNSENT_DATAGRAMS:
            del unsent[: len(unsent) - MAX_UNSENT_DATAGRAMS]

    def _absorb_events(self, connection: DTLSConnection) -> None:
        event = connection.next_event()
        while event is not None:
            if isinstance(event, HandshakeCompleted):
                if self._resumption is not None:
                    options, key = self._resumption
                    store_session(options, key, connection.ssl.get_session())
                if self._status is Status.HANDSHAKING:
                    self._set_status(Status.CONNECTED)
            elif isinstance(event, HelloVerifyRequestSent):
                self._release_after_cookie()
                return
            elif isinstance(event, ConnectionClosed):
                if event.by_peer:
                    self._last_message = "the peer closed the connection"
                    self._finish(Status.DISCONNECTED)
            elif isinstance(event, IdleTimedOut):
                self._last_message = (
                    f"nothing heard from the peer for {event.seconds:g} s (idle_timeout)"
                )
                logger.warning("DTLS: %s; close_notify sent", self._last_message)
                self._finish(Status.DISCONNECTED)
            elif isinstance(event, ConnectionFailed):
                self._last_message = event.message
                logger.error("DTLS connection failed: %s", event.message)
                if event.reason in _RELEASES_ADDRESS:
                    # Server side: let the client's next datagram become a new connection.
                    self._release_transport()
                self._finish(
                    Status.ERROR_HOSTNAME_MISMATCH
                    if event.reason is FailureReason.HOSTNAME_MISMATCH
                    else Status.ERROR
                )
            event = connection.next_event()

    def _finish(self, status: Status) -> None:
        """End now, or once the packets received before the end have been read."""
        if self._status is Status.CONNECTED and self._connection_has_packets():
            self._pending_end = status
        else:
            self._end(status)

    def _release_after_cookie(self, transport: Any = None) -> None:
        """Server side: HelloVerifyRequest sent. Like the engine the peer ends in ERROR;
        it also releases the UDP peer's address so the client's retry, carrying the
        cookie, always becomes a new connection on the UDPServer."""
        self._release_transport(transport)
        self._end(Status.ERROR)

    def _release_transport(self, transport: Any = None) -> None:
        close = getattr(transport if transport is not None else self._transport, "close", None)
        if callable(close):
            close()

    def __del__(self) -> None:
        # The engine sends close_notify when the last reference to a connected peer goes.
        try:
            if self._status is Status.CONNECTED:
                connection = self._connection
                if connection is not None:
                    connection.prepare_for_finalisation()
                self.disconnect_from_peer()
        except Exception:  # never raise from a finaliser
            pass

    def __repr__(self) -> str:
        return f"<PacketPeerDTLS {self._status.name}>"
