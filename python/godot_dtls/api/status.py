"""``PacketPeerDTLS.Status`` with the engine's numbers."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Status"]


class Status(IntEnum):
    """State of a :class:`~godot_dtls.PacketPeerDTLS`, as ``get_status()`` reports it."""

    DISCONNECTED = 0
    HANDSHAKING = 1
    CONNECTED = 2
    ERROR = 3
    ERROR_HOSTNAME_MISMATCH = 4
