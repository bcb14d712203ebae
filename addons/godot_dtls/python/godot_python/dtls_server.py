"""DTLSServer for godot-python 0.50 (Godot 3.2+): declarations only.

GDScript::

    var server = load("res://addons/godot_dtls/python/godot_python/dtls_server.py").new()
    server.setup({"key_pem": key_pem, "certificate_pem": chain_pem})
    # per UDP peer taken from a UDPServer:
    var peer = load("res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py").new()
    peer.accept_connection(server.get_server_id(), udp_server.take_connection())

The server is named by an int id because an object passed back into Python arrives as a
new wrapper of its native class, without its Python state. Same runtime rules and imports
as ``gp_adapter.py``.
"""

from __future__ import annotations

import sys
from typing import Any

from godot import GDString, Reference, exposed

from godot_dtls import engine


def _print_error(message: str) -> None:
    print(message, file=sys.stderr)


def _retain(value: Any) -> None:
    # The wrapper of a Reference argument releases a reference it never took: take one.
    if isinstance(value, Reference):
        value.reference()


RUNTIME = engine.Runtime(
    name="python:godot-python",
    log_error=_print_error,
    connected_check="is_connected_to_host",
    string_types=(str, GDString),
    retain=_retain,
)
engine.forward_library_logs(RUNTIME)


def _core(server: Any) -> engine.ServerCore:
    return engine.server_core(server, RUNTIME)


@exposed
class PyDTLSServer(Reference):
    """Holds the server TLS options and the cookie secret; peers are PyPacketPeerDTLS."""

    def setup(self, options):
        """``{"key_pem": String, "certificate_pem": String}``, plus ``sni``, ``alpn``,
        ``session_resumption``, or mode ``server_psk`` (see ``godot_dtls.engine.server_options``);
        an Error int."""
        return _core(self).setup(options)

    def get_server_id(self):
        return _core(self).get_server_id()

    def get_last_error_message(self):
        return _core(self).get_last_error_message()

    def get_backend(self):
        return RUNTIME.name
