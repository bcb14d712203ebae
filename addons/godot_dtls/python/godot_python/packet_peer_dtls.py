"""PacketPeerDTLS for godot-python 0.50 (Godot 3.2+): the exposed class, nothing else.

GDScript: ``var peer = load("res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py").new()``
(or the facade ``PythonPacketPeerDTLS``), then Godot 3's
``peer.connect_to_peer(udp, true, "host", trusted_certificate)`` and ``peer.poll()`` every
frame. godot-python runs this module again at every load of its Script (see
``exposure``), so it holds only the class: the methods are ``methods.PeerMethods``.
"""

from godot import Reference, signal

from .exposure import expose
from .methods import PeerMethods


@expose
class PyPacketPeerDTLS(PeerMethods, Reference):
    """Godot's PacketPeerDTLS, run by godot-dtls."""

    status_changed = signal("status_changed")
