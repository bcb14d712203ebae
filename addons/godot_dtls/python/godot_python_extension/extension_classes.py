"""PyPacketPeerDTLS and PyDTLSServer as ClassDB classes of godot-python-extension (maiself).

Real extension classes, so GDScript writes ``PyPacketPeerDTLS.new()``,
``PyPacketPeerDTLS.STATUS_CONNECTED`` and ``peer.status_changed.connect(...)`` as for any
engine class; the names differ from the engine's own (ClassDB refuses a second
``PacketPeerDTLS``). ``PyDTLSServer.take_connection(udp)`` returns a new PyPacketPeerDTLS.
Imported by the package's ``__init__``, which turns any failure here into one error
message instead of the abort the runtime makes of it.

What the runtime does, and what this module does about it (maiself/godot-python-extension,
read at d01a302; the README's type probe table has the lines):

- A String reaches a method as ``godot.String`` (not a ``str``, hashed by identity), also
  inside Dictionaries and Arrays, whatever the annotation says: the exposed method's
  property info carries no Python type (``lib/godot/_internal/type_info.py``,
  ``python_type = None``). The Runtime lists ``godot.String`` and ``godot.StringName`` so
  ``godot_dtls.engine`` turns each one into ``str`` as it arrives.
- ``key in dictionary`` is always False and ``dictionary[missing]`` crashes a release
  build; arrays are read with ``len`` and ``[i]`` inside the bounds (``READ_BY_INDEX``).
- PackedByteArray → bytes: the buffer protocol only from d01a302 on; on builds from
  0e6be29 to 83661eb ``bytes(array)`` and ``memoryview(array)`` end in RecursionError, and
  the 2023 alpha has no buffer at all. The path is chosen once, here, by probing for
  ``godot.writable_memoryview`` (d01a302's ``lib/godot/__init__.py``): ``memoryview`` there,
  ``bytes.fromhex(array.hex_encode())`` (one engine call) everywhere else.
- ``bytes`` returned would become an Array of ints, so byte arrays go back as
  ``godot.PackedByteArray``; Python's print is not routed to the editor, so errors go to
  ``godot.push_error``; a Variant call that raises falls through to a native method of the
  same name, so every method returns an int Error and never raises.
- Engine objects received as arguments are the object's one persistent wrapper, which
  keeps it alive while Python holds it: no extra reference is taken.
- ``__init__`` runs on ``new()`` but is not overridden: state is made on first use by
  ``godot_dtls.engine.peer_core``.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

import godot

from godot_dtls import engine


def _array_bytes_by_buffer(array: Any) -> bytes:
    return bytes(memoryview(array))  # d01a302: a read-only view of a copy, one memcpy


def _array_bytes_by_hex(array: Any) -> bytes:
    return bytes.fromhex(str(array.hex_encode()))  # one engine call on every build


#: Chosen once: a build older than d01a302 must never see ``memoryview()`` / ``bytes()``.
_ARRAY_BYTES: Callable[[Any], bytes] = (
    _array_bytes_by_buffer if hasattr(godot, "writable_memoryview") else _array_bytes_by_hex
)


def _to_bytes(array: Any) -> bytes:
    if not isinstance(array, godot.PackedByteArray):
        raise TypeError(f"expected a PackedByteArray, got {type(array).__name__}")
    if int(array.size()) == 0:  # the view of an empty array points at index 0 of nothing
        return b""
    return _ARRAY_BYTES(array)


def _from_bytes(data: bytes) -> Any:
    return godot.PackedByteArray(data)  # a Sequence of ints: copied in C++ (make_copy.h)


def _to_dictionary(values: dict[str, Any]) -> Any:
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
    string_types=(str, godot.String, godot.StringName),
    containers=engine.READ_BY_INDEX,
)
engine.check_godot(godot.Engine.get_version_info(), RUNTIME)
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
