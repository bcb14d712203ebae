"""PacketPeerDTLS for py4godot (Godot 4.3+): declarations only.

py4godot registers the class only when its name equals the file stem, hence the file name.
GDScript: ``var peer = RefCounted.new()``,
``peer.set_script(load("res://addons/godot_dtls/python/py4godot/PyPacketPeerDTLS.py"))`` (keep
``peer`` untyped), then ``peer.connect_to_peer(udp, "host", {"mode": "client", ...})`` and
``peer.poll()`` every frame; server side: ``peer.accept_connection(server_id, udp)`` with a
``PyDTLSServer.py`` script object's ``get_server_id()``.

Runtime rules followed (shared/spec/python-runtimes.md §3): ``__init__`` runs before the
engine object is attached, so it only sets plain Python state; internal attributes start
with ``_`` (others would become exported properties); exceptions are logged and hidden
from GDScript, so every method returns an int Error; returns are dispatched on the exact
type name, so only ``int``/``bool``/``str`` and core types (``PackedByteArray``, a
``Dictionary`` from ``get_stats``) come back, never an IntEnum member, ``bytes`` or a
``dict``; errors go to ``py4godot.functions.push_error``.

Imports: a script ``res://addons/godot_dtls/python/py4godot/PyPacketPeerDTLS.py`` is loaded as the
module ``addons.godot_dtls.python.PyPacketPeerDTLS`` with the project directory on
``sys.path``, so ``dtls_bridge`` is imported beside it. ``godot_dtls`` comes from the
embedded interpreter: ``addons/py4godot/cpython-<ver>-linux64/python/bin/python3 -m pip
install /path/to/godot-dtls`` (Windows: ``.../python/python.exe``), or a copy of
``python/godot_dtls`` in the project directory.
"""

from __future__ import annotations

from typing import Any, Dict

from py4godot.classes import gdclass
from py4godot.classes.core import Array, Dictionary, PackedByteArray
from py4godot.classes.RefCounted import RefCounted
from py4godot.functions import push_error
from py4godot.signals import SignalArg, signal

from godot_dtls import engine


def _to_bytes(array: Any) -> bytes:
    if not isinstance(array, PackedByteArray):
        raise TypeError(f"expected a PackedByteArray, got {type(array).__name__}")
    if array.size() == 0:  # the view of an empty array would point at nothing
        return b""
    return bytes(array.get_memory_view())  # a live view: copy it now


def _from_bytes(data: bytes) -> PackedByteArray:
    if not data:
        return PackedByteArray.new0()
    return PackedByteArray.from_memory_view(memoryview(data))


def _to_dictionary(values: Dict[str, Any]) -> Dictionary:
    """A dict of plain values (see ``godot_dtls.engine.plain_stats``) as a core Dictionary; lists
    become a core Array (py4godot converts each value by its exact type name)."""
    result = Dictionary.new0()
    for key, value in values.items():
        if isinstance(value, list):
            array = Array.new0()
            for item in value:
                array.append(str(item))
            value = array
        result[key] = value
    return result


RUNTIME = engine.Runtime(
    name="python:py4godot",
    to_bytes=_to_bytes,
    from_bytes=_from_bytes,
    connected_check="is_socket_connected",
    log_error=push_error,
    to_dictionary=_to_dictionary,
)
engine.forward_library_logs(RUNTIME)


def _emit(peer: Any, status: int) -> None:
    peer.status_changed.emit(status)


def _core(peer: Any) -> engine.PeerCore:
    return engine.peer_core(peer, RUNTIME, _emit)


@gdclass
class PyPacketPeerDTLS(RefCounted):
    """Godot's PacketPeerDTLS run by godot_dtls; put_var/get_var live in the facade."""

    status_changed = signal([SignalArg("status", int)])

    def __init__(self) -> None:
        # py4godot calls this with object creation switched off, before it attaches the
        # engine object: the base __init__ only sets up the wrapper, no engine calls here.
        super().__init__()
        self._dtls_core = None

    def connect_to_peer(self, udp, hostname, options=None):
        """``(udp: PacketPeerUDP, hostname: String, options: Dictionary)``; the options keys
        are those of ``godot_dtls.engine.client_options`` (extensions included)."""
        return _core(self).connect_to_peer(udp, hostname, options)

    def accept_connection(self, server_id, udp):
        """Server side: ``server_id`` from PyDTLSServer, ``udp`` from UDPServer."""
        return _core(self).accept_connection(server_id, udp)

    def poll(self):
        return _core(self).poll()

    def get_status(self):
        return _core(self).get_status()

    def disconnect_from_peer(self):
        return _core(self).disconnect_from_peer()

    def put_packet(self, buffer):
        return _core(self).put_packet(buffer)

    def get_packet(self):
        return _core(self).get_packet()

    def get_available_packet_count(self):
        return _core(self).get_available_packet_count()

    def get_packet_error(self):
        return _core(self).get_packet_error()

    def get_last_error_message(self):
        return _core(self).get_last_error_message()

    def get_stats(self):
        """Counters and negotiated parameters (``cipher``, ``version``, ...): a Dictionary."""
        return _core(self).get_stats()

    def is_session_resumed(self):
        return _core(self).is_session_resumed()

    def get_alpn_protocol(self):
        return _core(self).get_alpn_protocol()

    def get_backend(self):
        return RUNTIME.name
