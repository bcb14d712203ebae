"""godot-dtls: Godot's PacketPeerDTLS / DTLSServer (DTLS 1.2 over UDP) on pyOpenSSL.

The Godot-facing classes keep the engine's names, numbers and return codes; the
sans-IO core is :class:`godot_dtls.core.connection.DTLSConnection`.
"""

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.dtls_server import DTLSServer
from godot_dtls.api.errors import Error
from godot_dtls.api.packet_peer import PacketPeer
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import CryptoKey, X509Certificate
from godot_dtls.net import PacketPeerUDP, UDPServer

__all__ = [
    "CryptoKey",
    "DTLSServer",
    "Error",
    "PacketPeer",
    "PacketPeerDTLS",
    "PacketPeerUDP",
    "Status",
    "TLSOptions",
    "UDPServer",
    "X509Certificate",
]
