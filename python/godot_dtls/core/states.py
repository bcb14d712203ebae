"""The DTLS connection's state machine as one table, in the manner of h11's ``_state.py``.

A :class:`~godot_dtls.core.connection.DTLSConnection` changes state only by reporting an
event, and :data:`TRANSITIONS` says, for each (state, event type), the state it enters.
Any pair missing from the table is a bug in the connection, not a peer's doing: peers
cannot make an illegal transition, they can only make the connection fail. The fuzzer
checks every state change it observes against :func:`reachable`.

::

    HANDSHAKING ──HandshakeCompleted──▶ CONNECTED ──ConnectionClosed──▶ CLOSED
        │  ──HelloVerifyRequestSent──▶ CLOSED  (server: stateless cookie answer)
        │  ──ConnectionClosed────────▶ CLOSED  (closed locally while handshaking)
        └──ConnectionFailed──────────▶ FAILED ◀──ConnectionFailed── CONNECTED
                                                CONNECTED ──IdleTimedOut──▶ CLOSED
"""

from __future__ import annotations

import enum

from .events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
    HelloVerifyRequestSent,
    IdleTimedOut,
)

__all__ = ["TRANSITIONS", "ConnectionState", "IllegalTransition", "next_state", "reachable"]


class ConnectionState(enum.Enum):
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


_S = ConnectionState

#: (state, event type) → the state the connection enters when it reports that event.
TRANSITIONS: dict[tuple[ConnectionState, type[Event]], ConnectionState] = {
    (_S.HANDSHAKING, HandshakeCompleted): _S.CONNECTED,
    (_S.HANDSHAKING, HelloVerifyRequestSent): _S.CLOSED,
    (_S.HANDSHAKING, ConnectionClosed): _S.CLOSED,
    (_S.HANDSHAKING, ConnectionFailed): _S.FAILED,
    (_S.CONNECTED, ConnectionClosed): _S.CLOSED,
    (_S.CONNECTED, ConnectionFailed): _S.FAILED,
    (_S.CONNECTED, IdleTimedOut): _S.CLOSED,
}


class IllegalTransition(RuntimeError):
    """The connection tried a state change the table does not allow (an internal bug)."""


def next_state(state: ConnectionState, event: Event) -> ConnectionState:
    """The state entered by reporting ``event`` in ``state``; IllegalTransition if none."""
    target = TRANSITIONS.get((state, type(event)))
    if target is None:
        raise IllegalTransition(f"{type(event).__name__} is not allowed in state {state.name}")
    return target


def reachable(state: ConnectionState) -> frozenset[ConnectionState]:
    """Every state reachable from ``state`` by zero or more transitions (itself included)."""
    seen = {state}
    frontier = [state]
    while frontier:
        current = frontier.pop()
        for (source, _event), target in TRANSITIONS.items():
            if source is current and target not in seen:
                seen.add(target)
                frontier.append(target)
    return frozenset(seen)
