"""Events a :class:`~godot_dtls.core.connection.DTLSConnection` reports, as plain dataclasses.

Application data is not an event: it is pulled with ``next_packet()`` so the data path
allocates nothing per packet beyond the payload itself. Events are the rare state
changes, in the order they happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "FailureReason",
    "HandshakeCompleted",
    "HelloVerifyRequestSent",
    "IdleTimedOut",
]


class FailureReason(enum.Enum):
    """Why a connection failed."""

    CERTIFICATE = "certificate"  # the chain did not verify (untrusted, expired, ...)
    HOSTNAME_MISMATCH = "hostname_mismatch"  # trusted chain, wrong name
    PIN_MISMATCH = "pin_mismatch"  # no pinned key in the server's chain
    TIMEOUT = "timeout"  # the handshake did not finish in time
    ALERT_RECEIVED = "alert_received"  # the peer sent a fatal alert
    PROTOCOL = "protocol"  # a local protocol or TLS library error
    CLIENT_RECONNECTED = "client_reconnected"  # server side: same address started anew
    REFUSED = "refused"  # server side: too many handshakes in progress
    KEY_MISMATCH = "key_mismatch"  # server side: the client's Finished did not decrypt, twice


class Event:
    """Base class of connection events."""

    __slots__ = ()


@dataclass(frozen=True)
class HandshakeCompleted(Event):
    """The handshake finished; application data can flow."""

    protocol: str
    cipher: str


@dataclass(frozen=True)
class HelloVerifyRequestSent(Event):
    """Server side: the ClientHello had no valid cookie; a HelloVerifyRequest was sent and
    the connection holds no state (the client's retry is a new connection)."""


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The connection ended with close_notify (``by_peer``: the peer sent it first)."""

    by_peer: bool


@dataclass(frozen=True)
class IdleTimedOut(Event):
    """An established connection heard nothing from the peer for ``seconds`` (the
    optional idle timeout; not in the engine). A close_notify was sent."""

    seconds: float


@dataclass(frozen=True)
class ConnectionFailed(Event):
    """The connection ended with an error."""

    reason: FailureReason
    message: str
