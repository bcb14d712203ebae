"""Socket-backed ``PacketPeerUDP`` and ``UDPServer`` with Godot's API, so the package
runs outside the engine (inside it, the engine's own classes are used instead).

:mod:`.addresses` parses IP literals as Godot does, :mod:`.sockets` opens and waits on OS
sockets, :mod:`.packet_peer_udp` and :mod:`.udp_server` are the two classes.
"""

from .packet_peer_udp import PacketPeerUDP
from .udp_server import UDPServer

__all__ = ["PacketPeerUDP", "UDPServer"]
