"""The sans-IO DTLS 1.2 connection: datagrams and time in, datagrams and deadlines out.

:class:`DTLSConnection` wraps one pyOpenSSL ``Connection`` on memory BIOs and nothing
else: it opens no socket and reads no clock. Like aioquic's ``QuicConnection`` it is a
state machine driven by three kinds of input:

- a datagram received: :meth:`receive_datagram(data, now) <DTLSConnection.receive_datagram>`;
- a timer firing: :meth:`handle_timer(now) <DTLSConnection.handle_timer>` once
  :meth:`get_timer` is reached;
- API calls: :meth:`start`, :meth:`send`, :meth:`close`.

Output is pulled: :meth:`datagrams_to_send`, :meth:`next_packet` (application data),
:meth:`next_event` (state changes) and :meth:`get_timer`.

States: ``HANDSHAKING`` → ``CONNECTED`` → ``CLOSED``; any live state → ``FAILED``; the
table of legal transitions is :mod:`godot_dtls.core.states`.

A note on time: OpenSSL keeps its own retransmission clock inside
``DTLSv1_get_timeout``/``DTLSv1_handle_timeout`` (1 s, doubling up to 60 s, as mbedTLS
in the engine). The connection converts the remaining time into a deadline on the
caller's clock and enforces its own overall handshake limit on that clock, so OpenSSL's
own give-up rule never decides how long a handshake may take.
"""

from __future__ import annotations

import contextlib
from typing import Callable

from OpenSSL import SSL

from . import openssl_private as private
from .events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    FailureReason,
    HandshakeCompleted,
    HelloVerifyRequestSent,
    IdleTimedOut,
)
from .listener import AcceptedHello, ListenOutcome, drain_bio, listen_once
from .log import logger
from .records import (
    ALERT_BAD_RECORD_MAC,
    CONTENT_APPLICATION_DATA,
    MAX_DATAGRAM_SIZE,
    MAX_PLAINTEXT_SIZE,
    RECORD_HEADER_SIZE,
    client_hello_cookie,
    client_hello_random,
    has_protected_record,
    hello_verify_cookie,
    is_client_hello,
    pack_datagrams,
    parse_header,
    plaintext_fatal_alert,
    record_headers,
    split_records,
    without_plaintext_application_data,
)
from .states import ConnectionState, next_state
from .verification import CertificateVerifier, FailureKind, UncheckableName, name_to_check

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_MAX_QUEUED_BYTES",
    "DEFAULT_MAX_QUEUED_PACKETS",
    "DEFAULT_MTU",
    "ConnectionState",
    "ConnectionStats",
    "DTLSConnection",
    "InvalidStateError",
]

#: Datagram payload budget. It leaves room for IPv6 and UDP headers inside a 1500-byte
#: Ethernet frame and keeps every handshake datagram, the ClientHello included, whole.
DEFAULT_MTU = 1400
#: The engine's mbedTLS gives up at the first expiry after 1+2+4+8+16+32+60 s.
DEFAULT_HANDSHAKE_TIMEOUT = 123.0
#: Received application packets kept until the application reads them. Beyond either
#: bound the newest packet is dropped and counted, as a full UDP ring buffer does.
DEFAULT_MAX_QUEUED_PACKETS = 1024
DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024
#: Packets taken from the front of the queue before a reader that never empties it gets
#: them dropped from the list (the list then shrinks by at least half).
_COMPACT_AFTER = 64

# SSL_CTX_set_info_callback "where" bits (ssl.h).
_CB_READ = 0x04
_CB_WRITE = 0x08
_CB_ALERT = 0x4000

_ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    110: "unsupported_extension",
    112: "unrecognized_name",
    115: "unknown_psk_identity",
    120: "no_application_protocol",
}


#: OpenSSL's state (``SSL_state_string_long``) once a server has read the client's
#: ChangeCipherSpec and waits for its Finished, the first record under the new keys.
_AWAITING_FINISHED = b"SSLv3/TLS read change cipher spec"
#: Client flights whose Finished did not decrypt before a server ends the handshake: the
#: first one, and its retransmission.
UNREADABLE_FINISHED_LIMIT = 2
#: New handshakes a client starts when the server refuses its cookie (see
#: DTLSConnection._restart_handshake); bounded so a stream of forged refusals cannot
#: keep a client restarting.
MAX_HANDSHAKE_RESTARTS = 3
#: Alerts that tell a client its keys differ from the server's.
_KEY_ALERTS = frozenset({"bad_record_mac", "decrypt_error"})

_FAILURE_REASONS = {
    FailureKind.CHAIN: FailureReason.CERTIFICATE,
    FailureKind.HOSTNAME_MISMATCH: FailureReason.HOSTNAME_MISMATCH,
    FailureKind.PIN_MISMATCH: FailureReason.PIN_MISMATCH,
}


_mode_warned = False


def _warn_mode_refused() -> None:
    """Once per process: OpenSSL did not take SSL_MODE_RELEASE_BUFFERS (memory only)."""
    global _mode_warned
    _mode_warned = True
    logger.warning(
        "OpenSSL refused SSL_MODE_RELEASE_BUFFERS: each connection keeps its record "
        "buffers (about 33 KiB) for its whole life"
    )


def alert_name(description: int) -> str:
    """The RFC name of a TLS alert description number."""
    return _ALERT_NAMES.get(description, f"alert {description}")


def _sni_bytes(name: str) -> bytes | None:
    """The server name as SNI carries it: the checked form of a host name (one trailing
    dot dropped, A-labels, lower case), an IP literal as given (as the engine sends it),
    and nothing for a name no server could be known by."""
    try:
        return name_to_check(name).encode("ascii")
    except (UncheckableName, UnicodeError):
        return None


class InvalidStateError(RuntimeError):
    """An API call that the connection's current state does not allow."""


#: The counters of :class:`ConnectionStats`, in the order ``as_dict()`` lists them.
_STATS_FIELDS = (
    "datagrams_received",
    "bytes_received",
    "datagrams_sent",
    "bytes_sent",
    "datagrams_dropped_oversize",
    "datagrams_dropped_empty",
    "datagrams_dropped_stale_hello",
    "handshake_restarts",
    "packets_received",
    "packets_dropped_queue_full",
    "packets_sent",
    "retransmissions",
    "alerts_sent",
    "alerts_received",
    "handshake_started_at",
    "handshake_completed_at",
)


class ConnectionStats:
    """Counters kept by a connection (all cheap integer updates).

    A server keeps one per peer, so the counters live in slots: no dictionary per
    connection (see README, "Benchmark", memory per server peer).
    """

    __slots__ = _STATS_FIELDS

    def __init__(self) -> None:
        self.datagrams_received = 0
        self.bytes_received = 0
        self.datagrams_sent = 0
        self.bytes_sent = 0
        self.datagrams_dropped_oversize = 0
        self.datagrams_dropped_empty = 0
        self.datagrams_dropped_stale_hello = 0
        self.handshake_restarts = 0
        self.packets_received = 0
        self.packets_dropped_queue_full = 0
        self.packets_sent = 0
        self.retransmissions = 0
        self.alerts_sent: list[str] = []
        self.alerts_received: list[str] = []
        self.handshake_started_at: float | None = None
        self.handshake_completed_at: float | None = None

    def as_dict(self) -> dict[str, object]:
        """Every counter by name; the alert lists are copies."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values["alerts_sent"] = list(self.alerts_sent)
        values["alerts_received"] = list(self.alerts_received)
        return values

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"ConnectionStats({fields})"


def _ssl_error_text(exc: SSL.Error) -> str:
    """The reason strings of a pyOpenSSL error, without the library noise."""
    if isinstance(exc, SSL.SysCallError):
        # With memory BIOs there is no system call: OpenSSL stopped on malformed input.
        detail = exc.args[1] if len(exc.args) > 1 else ""
        return f"malformed handshake data from the peer ({detail or 'no detail'})"
    details = exc.args[0] if exc.args else None
    if isinstance(details, list) and details:
        reasons = [str(entry[-1]) for entry in details if isinstance(entry, tuple) and entry]
        if reasons:
            return "; ".join(reasons)
    return str(exc) or type(exc).__name__


class DTLSConnection:
    """One DTLS 1.2 association, client or server side, without any I/O.

    ``context`` is a pyOpenSSL DTLS context (see :mod:`godot_dtls.api.context`), whose
    callbacks find this object through the SSL connection's app data.

    Client: ``server_name`` is sent as SNI; ``verifier`` (if any) checks the server's
    certificate. Call :meth:`start` to produce the ClientHello.

    Server, the usual way: ``accepted`` is a ClientHello with a valid cookie that a
    :class:`~godot_dtls.core.listener.CookieListener` accepted (its ``SSL`` object
    becomes this connection's); :meth:`start` writes the server's first flight. Nothing
    exists per client before that (see :mod:`godot_dtls.core.listener`).

    Server, waiting for its own cookie (one known peer, tests, the fuzzer): without
    ``accepted``, ``peer_address`` binds HelloVerifyRequest cookies to the client; a
    ClientHello without a valid cookie is answered statelessly and the connection ends
    with :class:`HelloVerifyRequestSent`.

    A server holds one per peer, so the state lives in slots (no dictionary per
    connection) and the packet and event queues are plain lists, which cost nothing
    while empty (an empty ``deque`` holds a 0.5 KiB block).
    """

    __slots__ = (
        "_awaiting_cookie",
        "_client_random",
        "_context",
        "_cookie_hellos",
        "_events",
        "_failure",
        "_fatal_alert_received",
        "_handshake_deadline",
        "_last_heard",
        "_next_plaintext_sequence",
        "_outgoing",
        "_packet_head",
        "_packets",
        "_queued_bytes",
        "_sent_protected",
        "_session",
        "_sni",
        "_ssl",
        "_started",
        "_state",
        "_timer",
        "_unreadable_finished",
        "admit_handshake",
        "handshake_timeout",
        "idle_timeout",
        "is_client",
        "max_queued_bytes",
        "max_queued_packets",
        "mtu",
        "now",
        "peer_address",
        "stats",
        "verifier",
    )

    def __init__(
        self,
        context: SSL.Context,
        *,
        is_client: bool,
        server_name: str | None = None,
        verifier: CertificateVerifier | None = None,
        peer_address: tuple[str, int] = ("", 0),
        mtu: int = DEFAULT_MTU,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        max_queued_packets: int = DEFAULT_MAX_QUEUED_PACKETS,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        admit_handshake: Callable[[], bool] | None = None,
        session: SSL.Session | None = None,
        accepted: AcceptedHello | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        if mtu < 256:
            raise ValueError("the MTU must be at least 256 bytes")
        if handshake_timeout <= 0:
            raise ValueError("the handshake timeout must be positive")
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError("the idle timeout must be positive (or None: no idle timeout)")
        if accepted is not None and is_client:
            raise ValueError("an accepted ClientHello makes a server-side connection")
        #: Once connected: seconds without a datagram from the peer after which the
        #: connection sends close_notify and ends with :class:`IdleTimedOut` (None: never,
        #: as in the engine).
        self.idle_timeout = idle_timeout
        self._last_heard = 0.0
        self.is_client = is_client
        self.verifier = verifier
        self.peer_address = accepted.peer_address if accepted is not None else peer_address
        #: The time of the input being processed; read by the cookie callbacks.
        self.now = 0.0
        self.mtu = mtu
        self.handshake_timeout = handshake_timeout
        self.max_queued_packets = max_queued_packets
        self.max_queued_bytes = max_queued_bytes
        #: Server side: asked once a ClientHello carries a valid cookie, before any
        #: expensive work; False refuses the handshake (see DTLSServer.max_handshakes).
        self.admit_handshake = admit_handshake
        self.stats = ConnectionStats()

        self._context = context
        self._ssl = self._adopt(accepted.ssl) if accepted is not None else self._new_ssl(context)
        self._sni = _sni_bytes(server_name) if is_client and server_name else None
        self._session = session
        #: Client: record sequence number -> cookie of each ClientHello sent with one.
        self._cookie_hellos: dict[int, bytes] = {}
        if is_client:
            self._configure_client(self._ssl)
        elif accepted is None:
            self._ssl.set_accept_state()
        self._state = ConnectionState.HANDSHAKING
        self._awaiting_cookie = not is_client and accepted is None
        self._client_random: bytes | None = accepted.client_random if accepted is not None else None
        self._started = False
        self._handshake_deadline = 0.0
        self._timer: float | None = None
        self._failure: ConnectionFailed | None = None
        self._fatal_alert_received: str | None = None
        self._outgoing: list[bytes] = []
        # Received packets not yet taken: the list from _packet_head on (see next_packet).
        self._packets: list[bytes] = []
        self._packet_head = 0
        self._queued_bytes = 0
        self._events: list[Event] = []
        # What a server knows of its own handshake records, to end a handshake whose
        # Finished cannot be decrypted (see _finished_did_not_decrypt).
        self._unreadable_finished = 0
        self._next_plaintext_sequence = 0
        self._sent_protected = False

    def _configure_client(self, ssl: SSL.Connection) -> None:
        ssl.set_connect_state()
        if self.verifier is not None:
            # First: a name that cannot be checked (UncheckableName) starts nothing.
            self.verifier.attach(ssl)
        if self._sni:
            ssl.set_tlsext_host_name(self._sni)
        if self._session is not None:
            ssl.set_session(self._session)

    def _new_ssl(self, context: SSL.Context) -> SSL.Connection:
        return self._adopt(SSL.Connection(context, None))

    def _adopt(self, connection: SSL.Connection) -> SSL.Connection:
        """Make ``connection`` this object's: its callbacks find it through the app data."""
        connection.set_app_data(self)
        # With a memory BIO OpenSSL cannot query the path MTU (the context sets
        # OP_NO_QUERY_MTU); without an explicit MTU it would cut handshake messages
        # into ~228-byte fragments, which the engine's server refuses for ClientHello.
        connection.set_ciphertext_mtu(self.mtu)
        # Whatever the context: an idle connection keeps no record buffers (about 33 KiB
        # per peer). It is safe with DTLS on memory BIOs: OpenSSL frees the read buffer
        # only once every record in it was handed out, and the write buffer once its
        # record was written to the BIO, so nothing in flight is lost.
        if not private.release_buffers(connection) and not _mode_warned:
            _warn_mode_refused()
        return connection

    # ------------------------------------------------------------------ queries

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def failure(self) -> ConnectionFailed | None:
        """Why the connection failed, once it has."""
        return self._failure

    @property
    def ssl(self) -> SSL.Connection:
        """The underlying pyOpenSSL connection (for inspection: cipher, certificates)."""
        return self._ssl

    @property
    def session_reused(self) -> bool:
        """True when the handshake resumed an earlier session (abbreviated handshake)."""
        return private.session_reused(self._ssl)

    @property
    def alpn_protocol(self) -> str:
        """The ALPN protocol agreed on ("" when none)."""
        protocol = self._ssl.get_alpn_proto_negotiated()
        return protocol.decode("utf-8", "replace") if protocol else ""

    def negotiated(self) -> dict[str, object]:
        """Version, cipher, key-exchange group, ALPN and resumption of the handshake."""
        ssl = self._ssl
        group = None
        with contextlib.suppress(AttributeError, SSL.Error):
            group = ssl.get_group_name()
        return {
            "version": ssl.get_protocol_version_name(),
            "cipher": ssl.get_cipher_name(),
            "group": group,
            "alpn": self.alpn_protocol,
            "session_resumed": self.session_reused,
        }

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should next run, on the caller's clock (or None)."""
        if self.idle_timeout is not None and self._state is ConnectionState.CONNECTED:
            return self._last_heard + self.idle_timeout
        return self._timer

    def datagrams_to_send(self) -> list[bytes]:
        """Datagrams to hand to the transport, oldest first; each holds whole records."""
        outgoing = self._outgoing
        if outgoing:
            self._outgoing = []
        return outgoing

    def next_packet(self) -> bytes | None:
        """The next application packet received, or None."""
        packets = self._packets
        head = self._packet_head
        if head >= len(packets):
            return None
        packet = packets[head]
        head += 1
        if head == len(packets):
            packets.clear()  # the usual case: every packet read; frees the list's array
            head = 0
        elif head >= _COMPACT_AFTER and head + head >= len(packets):
            del packets[:head]  # a reader that never catches up: drop what it took
            head = 0
        self._packet_head = head
        self._queued_bytes -= len(packet)
        return packet

    def next_event(self) -> Event | None:
        """The next state-change event, or None."""
        return self._events.pop(0) if self._events else None

    def packet_count(self) -> int:
        """Application packets received and not yet taken with :meth:`next_packet`."""
        return len(self._packets) - self._packet_head

    # ------------------------------------------------------------------ inputs

    def start(self, now: float) -> None:
        """Begin the handshake. A client writes its ClientHello (one datagram); a server
        built on an accepted ClientHello writes its first flight."""
        if self._started:
            raise InvalidStateError("the connection was already started")
        self._started = True
        self.now = now
        self.stats.handshake_started_at = now
        self._handshake_deadline = now + self.handshake_timeout
        if not self._awaiting_cookie:
            self._handshake_step()
            self._flush()
        self._update_timer(now)

    def receive_datagram(self, data: bytes, now: float) -> None:
        """Feed one UDP payload received from the peer."""
        if not self._started:
            self.start(now)
        state = self._state
        if state is ConnectionState.CLOSED or state is ConnectionState.FAILED:
            return
        stats = self.stats
        size = len(data)
        if size > MAX_DATAGRAM_SIZE:
            # No valid DTLS datagram is this large; never let it near the TLS engine.
            stats.datagrams_dropped_oversize += 1
            return
        if size == 0:
            # An empty datagram carries no record. (The engine's mbedTLS reads it as
            # end-of-stream and fails the connection: a one-packet kill switch.)
            stats.datagrams_dropped_empty += 1
            return
        stats.datagrams_received += 1
        stats.bytes_received += size
        self.now = now
        self._last_heard = now
        if state is ConnectionState.CONNECTED:
            if (
                size > RECORD_HEADER_SIZE
                and data[0] == CONTENT_APPLICATION_DATA
                and size == RECORD_HEADER_SIZE + ((data[11] << 8) | data[12])
            ):
                # The hot path: one application record, which can make OpenSSL neither
                # write anything nor arm a timer. One read, no flush, no timer update.
                self._ssl.bio_write(data)
                self._read_application_data(single_record=True)
                if self._state is not ConnectionState.CONNECTED:
                    self._flush()  # an error may have produced an alert for the peer
                return
            if not self.is_client and is_client_hello(data):
                self._client_hello_while_connected(data)
            else:
                self._ssl.bio_write(data)
                self._read_application_data()
        elif self._awaiting_cookie:
            self._listen(data)
        elif self._cookie_hellos and self._cookie_refused(data):
            self._restart_handshake()
        else:
            data = without_plaintext_application_data(data)
            if data:
                self._ssl.bio_write(data)
                self._handshake_step()
                if (
                    not self.is_client
                    and self._state is ConnectionState.HANDSHAKING
                    and has_protected_record(data)
                ):
                    self._finished_did_not_decrypt()
        self._flush()
        self._update_timer(now)

    def handle_timer(self, now: float) -> None:
        """Run retransmission, the handshake time limit and the idle timeout; call when
        :meth:`get_timer` is due."""
        if self._state is ConnectionState.CONNECTED:
            self._check_idle(now)
            return
        if self._state is not ConnectionState.HANDSHAKING or not self._started:
            return
        self.now = now
        if now >= self._handshake_deadline:
            self._fail(
                FailureReason.TIMEOUT,
                f"handshake timed out after {self.handshake_timeout:g} s",
            )
            self._timer = None
            return
        if not self._awaiting_cookie:
            try:
                if self._ssl.DTLSv1_handle_timeout():
                    self.stats.retransmissions += 1
            except SSL.Error as exc:
                self._fail(FailureReason.TIMEOUT, f"handshake timed out: {_ssl_error_text(exc)}")
            self._flush()
        self._update_timer(now)

    def send(self, data: bytes) -> None:
        """Encrypt one application packet into one record (≤ 16384 bytes of payload)."""
        if self._state is not ConnectionState.CONNECTED:
            raise InvalidStateError(f"cannot send while {self._state.value}")
        if len(data) > MAX_PLAINTEXT_SIZE:
            raise ValueError(
                f"packet of {len(data)} bytes exceeds the DTLS record limit of "
                f"{MAX_PLAINTEXT_SIZE} bytes"
            )
        if not data:
            return
        try:
            self._ssl.write(data)
        except SSL.Error as exc:
            self._fail(FailureReason.PROTOCOL, f"write failed: {_ssl_error_text(exc)}")
            self._flush()
            raise InvalidStateError(self._failure.message if self._failure else "") from exc
        stats = self.stats
        stats.packets_sent += 1
        record = drain_bio(self._ssl)
        size = len(record)
        if size > RECORD_HEADER_SIZE and size == RECORD_HEADER_SIZE + (
            (record[11] << 8) | record[12]
        ):
            # The hot path: one write is one record, and one record is one datagram (as
            # in the engine, even above the MTU), so there is nothing to split or pack.
            stats.datagrams_sent += 1
            stats.bytes_sent += len(record)
            self._outgoing.append(record)
        elif record:
            self._queue_stream(record)

    def close(self) -> None:
        """End the connection: close_notify when established, silently while handshaking."""
        state = self._state
        if state is ConnectionState.CONNECTED:
            self._send_close_notify()
            self._flush()
        if state is ConnectionState.CONNECTED or state is ConnectionState.HANDSHAKING:
            self._enter(ConnectionClosed(by_peer=False))

    def prepare_for_finalisation(self) -> None:
        """Detach the info callback before a close run from a finaliser.

        When the garbage collector frees a cycle holding a connection, it clears
        pyOpenSSL's weak SSL* → Connection map before finalisers run; the context's info
        callback would then fail inside cffi. A no-op callback on this SSL object (it
        takes precedence over the context's) lets the close_notify go out cleanly.
        """
        private.detach_info_callback(self._ssl)

    # ------------------------------------------------------------------ callbacks

    def on_tls_info(self, where: int, ret: int) -> None:
        """OpenSSL info callback: keeps a record of alerts sent and received."""
        if where & _CB_ALERT:
            name = alert_name(ret & 0xFF)
            fatal = (ret >> 8) == 2
            if where & _CB_READ:
                self.stats.alerts_received.append(name)
                if fatal and self._fatal_alert_received is None:
                    self._fatal_alert_received = name
            elif where & _CB_WRITE:
                self.stats.alerts_sent.append(name)

    # ------------------------------------------------------------------ internals

    def _listen(self, data: bytes) -> None:
        """Server, before a valid cookie: answer statelessly or accept the ClientHello."""
        outcome, written = listen_once(self._ssl, data)
        if outcome is ListenOutcome.VERIFY_REQUESTED:
            self._queue_stream(written)
            self._enter(HelloVerifyRequestSent())
            return
        if outcome is ListenOutcome.DROPPED:
            return  # not a usable ClientHello: dropped, as OpenSSL already did
        self._awaiting_cookie = False
        self._client_random = client_hello_random(data)
        admit = self.admit_handshake
        if admit is not None and not admit():
            self._fail(FailureReason.REFUSED, "too many handshakes in progress")
            return
        self._handshake_step()

    def _cookie_refused(self, data: bytes) -> bool:
        """Client: is ``data`` a HelloVerifyRequest answering one of our ClientHellos that
        carried a cookie, with another cookie? Then the server refused ours (it expired,
        or the server restarted with a new secret).

        RFC 6347 4.2.1 has a server copy the ClientHello's record sequence number into its
        HelloVerifyRequest, so the answer is told apart from a late answer to an earlier
        ClientHello; a copy of the HelloVerifyRequest we answered carries our own cookie.
        """
        if self.stats.handshake_restarts >= MAX_HANDSHAKE_RESTARTS:
            return False
        header = parse_header(data)
        if header is None or header.epoch:
            return False
        ours = self._cookie_hellos.get(header.sequence)
        offered = hello_verify_cookie(data)
        return ours is not None and offered is not None and offered != ours

    def _restart_handshake(self) -> None:
        """Client: begin again with a new ClientHello, on a new OpenSSL object.

        OpenSSL's client ignores a second HelloVerifyRequest, and a server built on
        ``DTLSv1_listen`` (OpenSSL's, this package's) continues only a ClientHello with
        message_seq 1, so answering it would not help either. A new handshake gets a
        fresh cookie at once instead of waiting for the handshake timeout. The overall
        handshake deadline stays what it was.
        """
        self.stats.handshake_restarts += 1
        self._cookie_hellos.clear()
        self._ssl = self._new_ssl(self._context)
        self._configure_client(self._ssl)
        self._handshake_step()

    def _finished_did_not_decrypt(self) -> None:
        """Server, handshaking: a protected record came in and the handshake did not end.

        After the client's ChangeCipherSpec, the next record is its Finished, the first
        under the new keys. If OpenSSL is still waiting for it after a protected record
        arrived, that record did not decrypt and was dropped, as DTLS drops every record
        failing its MAC (RFC 6347 4.1.2.7). Once may be damage on the path; when the
        client's retransmitted flight fails again, the two sides derived different keys
        (with PSK: the keys differ), and waiting only turns that into a timeout. So the
        handshake ends with the fatal bad_record_mac RFC 6347 prescribes for a side that
        reports such a record. The alert goes out in plaintext, as every record of a
        server that has not sent its own ChangeCipherSpec yet. Established connections
        never come here: their bad records stay silently dropped.
        """
        if self._sent_protected or self._ssl.get_state_string() != _AWAITING_FINISHED:
            return
        self._unreadable_finished += 1
        if self._unreadable_finished < UNREADABLE_FINISHED_LIMIT:
            return
        self._queue_stream(
            plaintext_fatal_alert(self._next_plaintext_sequence, ALERT_BAD_RECORD_MAC)
        )
        self.stats.alerts_sent.append(alert_name(ALERT_BAD_RECORD_MAC))
        self._fail(
            FailureReason.KEY_MISMATCH,
            f"the client's Finished did not decrypt ({self._unreadable_finished} times): "
            "the two sides derived different keys (a wrong pre-shared key?); "
            "bad_record_mac sent",
        )

    def _client_hello_while_connected(self, data: bytes) -> None:
        """Server: an epoch-0 ClientHello from the address of an established connection.

        The client restarted from the same port (RFC 6347 section 4.2.8). Without a
        valid cookie it gets a HelloVerifyRequest and the connection stays; with one,
        the old connection ends (the engine reports it as a fatal error) so that the
        client's retry can become a new connection.

        A copy of the ClientHello that opened this connection (duplicated or delayed by
        the network, or a retransmission overtaken by the server's flight) carries the
        same client random: it is dropped, never taken for a reconnect.
        """
        random = client_hello_random(data)
        if random is not None and random == self._client_random:
            self.stats.datagrams_dropped_stale_hello += 1
            return
        probe = SSL.Connection(self._context, None)
        probe.set_app_data(self)
        probe.set_accept_state()
        outcome, written = listen_once(probe, data)
        if outcome is ListenOutcome.VERIFY_REQUESTED:
            self._queue_stream(written)
        if outcome is not ListenOutcome.ACCEPTED:
            return
        self._fail(FailureReason.CLIENT_RECONNECTED, "the client started a new handshake")

    def _check_idle(self, now: float) -> None:
        """Connected: end the connection if the peer has been silent for too long."""
        timeout = self.idle_timeout
        if timeout is None or now < self._last_heard + timeout:
            return
        self.now = now
        # Tell a peer that was only quiet that the connection is gone; a dead one loses
        # nothing by it.
        self._send_close_notify()
        self._flush()
        self._enter(IdleTimedOut(timeout))

    def _handshake_step(self) -> None:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            return
        except SSL.Error as exc:
            self._fail_from_tls_error(exc)
            return
        self.stats.handshake_completed_at = self.now
        self._enter(
            HandshakeCompleted(
                protocol=self._ssl.get_protocol_version_name(),
                cipher=self._ssl.get_cipher_name() or "",
            )
        )
        # Application data may share the datagram that completed the handshake.
        self._read_application_data()

    def _read_application_data(self, single_record: bool = False) -> None:
        """Decrypt every record waiting in the read BIO into the packet queue.

        ``single_record``: the datagram held exactly one record, so after one successful
        read there is nothing left to try (saves a failing read per datagram).
        """
        ssl = self._ssl
        packets = self._packets
        received = 0
        stats = self.stats
        while True:
            try:
                data = ssl.recv(MAX_PLAINTEXT_SIZE)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._closed_by_peer()
                break
            except SSL.Error as exc:
                self._fail_from_tls_error(exc)
                break
            if data:
                size = len(data)
                if (
                    len(packets) - self._packet_head >= self.max_queued_packets
                    or self._queued_bytes + size > self.max_queued_bytes
                ):
                    stats.packets_dropped_queue_full += 1
                    continue
                packets.append(data)
                self._queued_bytes += size
                received += 1
            if single_record:
                break
        stats.packets_received += received

    def _closed_by_peer(self) -> None:
        # The engine answers a peer's close_notify with its own before going away.
        self._send_close_notify()
        self._enter(ConnectionClosed(by_peer=True))

    def _send_close_notify(self) -> None:
        with contextlib.suppress(SSL.Error):
            self._ssl.shutdown()

    def _fail_from_tls_error(self, exc: SSL.Error) -> None:
        failure = self.verifier.failure if self.verifier is not None else None
        if failure is not None:
            self._fail(_FAILURE_REASONS[failure.kind], failure.message)
        elif self._fatal_alert_received is not None:
            alert = self._fatal_alert_received
            hint = ""
            if alert in _KEY_ALERTS and "PSK" in (self._ssl.get_cipher_name() or ""):
                hint = " (the pre-shared keys differ?)"
            self._fail(FailureReason.ALERT_RECEIVED, f"the peer sent a fatal alert: {alert}{hint}")
        elif isinstance(exc, SSL.ZeroReturnError):
            self._fail(FailureReason.ALERT_RECEIVED, "the peer closed during the handshake")
        else:
            self._fail(FailureReason.PROTOCOL, _ssl_error_text(exc))

    def _fail(self, reason: FailureReason, message: str) -> None:
        if self._state is ConnectionState.FAILED:
            return
        self._failure = ConnectionFailed(reason, message)
        self._enter(self._failure)

    def _enter(self, event: Event) -> None:
        """Report ``event`` and take the state :data:`~godot_dtls.core.states.TRANSITIONS`
        gives for it: the one place where the state changes. Every transition leaves
        HANDSHAKING or CONNECTED for good or for CONNECTED, so no retransmission timer
        survives it."""
        self._state = next_state(self._state, event)
        self._timer = None
        self._events.append(event)

    def _update_timer(self, now: float) -> None:
        if self._state is not ConnectionState.HANDSHAKING:
            self._timer = None
            return
        deadline = self._handshake_deadline
        if not self._awaiting_cookie:
            remaining = self._ssl.DTLSv1_get_timeout()
            if remaining is not None and now + remaining < deadline:
                deadline = now + remaining
        self._timer = deadline

    def _flush(self) -> bool:
        """Move whatever OpenSSL wrote into datagrams; True if anything was written."""
        return self._outgoing_from(self._ssl)

    def _outgoing_from(self, ssl: SSL.Connection) -> bool:
        """Queue what ``ssl`` wrote as datagrams; True if it wrote anything."""
        stream = drain_bio(ssl)
        return self._queue_stream(stream) if stream else False

    def _note_cookie_hellos(self, stream: bytes) -> None:
        """Client, handshaking: remember each ClientHello that carries a cookie."""
        for record in split_records(stream):
            cookie = client_hello_cookie(record)
            if cookie:
                header = parse_header(record)
                assert header is not None
                self._cookie_hellos[header.sequence] = cookie

    def _note_handshake_records(self, stream: bytes) -> None:
        """Server, handshaking: the next plaintext record sequence number, and whether a
        protected record went out (then an alert could no longer be plaintext)."""
        for header in record_headers(stream):
            if header.epoch:
                self._sent_protected = True
            elif header.sequence >= self._next_plaintext_sequence:
                self._next_plaintext_sequence = header.sequence + 1

    def _queue_stream(self, stream: bytes) -> bool:
        """Pack concatenated records into datagrams ≤ MTU and queue them for sending."""
        if self._state is ConnectionState.HANDSHAKING:
            if self.is_client:
                self._note_cookie_hellos(stream)
            else:
                self._note_handshake_records(stream)
        datagrams = pack_datagrams(stream, self.mtu)
        stats = self.stats
        for datagram in datagrams:
            stats.datagrams_sent += 1
            stats.bytes_sent += len(datagram)
        self._outgoing.extend(datagrams)
        return bool(datagrams)
