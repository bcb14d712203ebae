"""DTLSServer for godot-python 0.50 (Godot 3.2+): the exposed class, nothing else.

GDScript::

    var server = load("res://addons/godot_dtls/python/godot_python/dtls_server.py").new()
    server.setup({"key_pem": key_pem, "certificate_pem": chain_pem})
    # per UDP peer taken from a UDPServer:
    var peer = load("res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py").new()
    peer.accept_connection(server.get_server_id(), udp_server.take_connection())

(or the facade ``PythonDTLSServer``). Like ``packet_peer_dtls.py`` this module is run
again at every load, so the methods live in ``methods.ServerMethods``.
"""

from godot import Reference

from .exposure import expose
from .methods import ServerMethods


@expose
class PyDTLSServer(ServerMethods, Reference):
    """Holds the server options and the cookie secret; peers are PyPacketPeerDTLS."""
