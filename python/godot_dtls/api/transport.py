"""What :class:`~godot_dtls.PacketPeerDTLS` needs of a UDP peer.

The names are those of Godot's ``PacketPeerUDP``, so the package's socket-backed
:class:`~godot_dtls.PacketPeerUDP` and the engine's own object (wrapped by an engine
adapter) both fit without glue in the DTLS layer.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .errors import Error

__all__ = ["Transport", "is_transport"]


@runtime_checkable
class Transport(Protocol):
    """A connected datagram peer with Godot's PacketPeerUDP method names."""

    def put_packet(self, buffer: bytes) -> Error:
        """Send one datagram; OK, ERR_BUSY (try again later) or another Error."""

    def get_packet(self) -> bytes:
        """The next queued datagram (empty when none)."""

    def get_available_packet_count(self) -> int:
        """Queued datagrams; -1 when the socket is closed or failed."""

    def is_socket_connected(self) -> bool:
        """True when the peer sends to and receives from exactly one remote address."""


_REQUIRED = ("put_packet", "get_packet", "get_available_packet_count", "is_socket_connected")


def is_transport(candidate: Any) -> bool:
    """Duck-typed check used before accepting a peer (no isinstance on engine objects)."""
    return candidate is not None and all(callable(getattr(candidate, n, None)) for n in _REQUIRED)
