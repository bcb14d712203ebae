"""PyPacketPeerDTLS and PyDTLSServer for godot-python-extension (maiself, Godot 4.2+).

Real ClassDB classes, so GDScript writes ``PyPacketPeerDTLS.new()``,
``PyPacketPeerDTLS.STATUS_CONNECTED`` and ``peer.status_changed.connect(...)`` as for any
engine class; the names differ from the engine's own (ClassDB refuses a second
``PacketPeerDTLS``). ``PyDTLSServer.take_connection(udp)`` returns a new PyPacketPeerDTLS.

How the runtime finds this package: a file ``godot_dtls.pyextension`` in the project root
(the runtime looks for ``*.pyextension`` in the working directory, i.e. beside
``project.godot``) containing::

    [configuration]
    python_package = "addons.godot_dtls.python.godot_python_extension"

The runtime imports it at SCENE initialisation through its ``res://`` importer (``res://`` is
on the default ``python/config/module_search_path``; plain folders become packages), and
it imports ``dtls_bridge`` from the folder above. Alternatively put
``res://addons/godot_dtls/python`` on ``module_search_path`` and name the package
``godot_dtls_gd4``: the bridge is then imported as a top-level module.

``godot_dtls``, pyOpenSSL and cryptography: the runtime has no pip; install with a CPython
3.12 into the library's site-packages, ``python3.12 -m pip install --target
<addon lib>/python3.12/site-packages /path/to/godot-dtls`` (cp312 or abi3 wheels).

Runtime rules followed (shared/spec/python-runtimes.md §2): ``__init__`` runs on ``new()``,
but is not overridden here (its pybind11 base makes or binds the engine object and must be
called by any override): state is made on first use by ``godot_dtls.engine.peer_core``, which
also covers script-class use, where ``__init__`` never runs. Strings arrive as ``str``;
``bytes`` returned would become an Array, so byte arrays go back as
``godot.PackedByteArray``; errors go to ``godot.push_error`` (Python's print is not routed
to the editor); every method returns an int Error, never raises.
"""

from __future__ import annotations

import enum
from typing import Any, Dict

import godot

from godot_dtls import engine


def _to_bytes(array: Any) -> bytes:
    if not isinstance(array, godot.PackedByteArray):
        raise TypeError(f"expected a PackedByteArray, got {type(array).__name__}")
    try:
        return bytes(memoryview(array))  # buffer protocol: builds from 2026-03-19 on
    except TypeError:  # older builds: one call instead of one per byte
        return bytes.fromhex(str(array.hex_encode()))


def _from_bytes(data: bytes) -> godot.PackedByteArray:
    return godot.PackedByteArray(data)


def _to_dictionary(values: Dict[str, Any]) -> godot.Dictionary:
    """A dict of plain values (see ``godot_dtls.engine.plain_stats``) as a ``godot.Dictionary``
    (built from a mapping), each list as a ``godot.Array``."""
    return godot.Dictionary(
        {
            key: godot.Array(value) if isinstance(value, list) else value
            for key, value in values.items()
        }
    )


RUNTIME = engine.Runtime(
    name="python:godot-python-extension",
    to_bytes=_to_bytes,
    from_bytes=_from_bytes,
    connected_check="is_socket_connected",
    log_error=godot.push_error,
    to_dictionary=_to_dictionary,
)
engine.forward_library_logs(RUNTIME)


def _emit(peer: Any, status: int) -> None:
    peer.status_changed.emit(status)


def _core(peer: Any) -> engine.PeerCore:
    return engine.peer_core(peer, RUNTIME, _emit)


@godot.register_extension_class
class PyPacketPeerDTLS(godot.RefCounted, expose_all_methods=True):
    """Godot's PacketPeerDTLS run by godot_dtls; put_var/get_var live in the facade."""

    @godot.expose
    class Status(enum.IntEnum):
        STATUS_DISCONNECTED = 0
        STATUS_HANDSHAKING = 1
        STATUS_CONNECTED = 2
        STATUS_ERROR = 3
        STATUS_ERROR_HOSTNAME_MISMATCH = 4

    status_changed = godot.signal()

    def connect_to_peer(self, udp, hostname, options=None) -> int:
        """``(udp: PacketPeerUDP, hostname: String, options: Dictionary)``; options keys
        ``mode`` ("client" | "client_unsafe" | "client_psk"), ``trusted_chain_pem``,
        ``common_name_override`` and the extensions of ``godot_dtls.engine.client_options``."""
        return _core(self).connect_to_peer(udp, hostname, options)

    def accept_connection(self, server_id, udp) -> int:
        """Server side, as done by PyDTLSServer.take_connection."""
        return _core(self).accept_connection(server_id, udp)

    def poll(self) -> int:
        return _core(self).poll()

    def get_status(self) -> int:
        return _core(self).get_status()

    def disconnect_from_peer(self) -> int:
        return _core(self).disconnect_from_peer()

    def put_packet(self, buffer) -> int:
        return _core(self).put_packet(buffer)

    def get_packet(self) -> godot.PackedByteArray:
        return _core(self).get_packet()

    def get_available_packet_count(self) -> int:
        return _core(self).get_available_packet_count()

    def get_packet_error(self) -> int:
        return _core(self).get_packet_error()

    def get_last_error_message(self) -> str:
        return _core(self).get_last_error_message()

    def get_stats(self) -> godot.Dictionary:
        """Counters and negotiated parameters (``cipher``, ``version``, ...)."""
        return _core(self).get_stats()

    def is_session_resumed(self) -> bool:
        return _core(self).is_session_resumed()

    def get_alpn_protocol(self) -> str:
        return _core(self).get_alpn_protocol()

    def get_backend(self) -> str:
        return RUNTIME.name


def _server(server: Any) -> engine.ServerCore:
    return engine.server_core(server, RUNTIME)


@godot.register_extension_class
class PyDTLSServer(godot.RefCounted, expose_all_methods=True):
    """Godot's DTLSServer run by godot_dtls."""

    def setup(self, options) -> int:
        """``{"key_pem": String, "certificate_pem": String}`` (chain leaf first), plus
        ``sni``, ``alpn``, ``session_resumption``, or mode ``server_psk``."""
        return _server(self).setup(options)

    def take_connection(self, udp):
        """A new PyPacketPeerDTLS for ``udp`` (HANDSHAKING, or ERROR after the cookie
        exchange: drop it), or null when the server is not set up."""
        return _server(self).take_connection(udp, PyPacketPeerDTLS)

    def get_server_id(self) -> int:
        return _server(self).get_server_id()

    def get_last_error_message(self) -> str:
        return _server(self).get_last_error_message()

    def get_backend(self) -> str:
        return RUNTIME.name
