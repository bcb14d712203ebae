"""godot-dtls: Godot's PacketPeerDTLS / DTLSServer (DTLS 1.2 over UDP) on pyOpenSSL.

The Godot-facing classes keep the engine's names, numbers and return codes; the
sans-IO core is :class:`godot_dtls.connection.DTLSConnection`.
"""

from .crypto import CryptoKey, X509Certificate
from .dtls_peer import PacketPeerDTLS
from .dtls_server import DTLSServer
from .errors import Error
from .packet_peer import PacketPeer
from .status import Status
from .tls_options import TLSOptions
from .udp import PacketPeerUDP, UDPServer

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
