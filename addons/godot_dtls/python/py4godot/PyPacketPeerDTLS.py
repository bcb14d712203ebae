"""PacketPeerDTLS for py4godot: declarations only (file stem == class name).

GDScript (the ``PythonPacketPeerDTLS`` facade does this): ``var peer = RefCounted.new()``,
``peer.set_script(load("res://addons/godot_dtls/python/py4godot/PyPacketPeerDTLS.py"))``
(keep ``peer`` untyped), ``peer.connect_to_peer(udp, "host", {"mode": "client", ...})``,
``peer.poll()`` every frame; server side ``peer.accept_connection(server_id, udp)`` with a
``PyDTLSServer.py`` script object's ``get_server_id()``.

Where this file lives, and why it imports only absolute names: py4godot executes a script
``res://a/b/C.py`` from the relative file ``a/b/C.py`` as the module named by
``"a.b.C".replace(".py", "")`` (``py4godot/pluginscript_api/utils/annotations.pyx``,
d8e17428), which also eats the start of every folder name beginning with "py": this file
runs as ``addons.godot_dtlsthon4godot.PyPacketPeerDTLS``, in a package that does not exist.
No relative import can work under that name, whatever the folder; absolute imports of
``py4godot`` and of the installed ``godot_dtls`` work from any folder. The folder
``addons/godot_dtls/python/py4godot/`` is kept for that reason, beside the other runtimes'
adapters, and the facade looks the scripts up there. In an export the file must exist on
disk at that same relative path (py4godot reads scripts from disk, not from the pack).
``godot_dtls`` comes from py4godot's interpreter:
``addons/py4godot/cpython-<ver>-linux64/python/bin/python3 -m pip install /path/to/godot-dtls``
(Windows: ``.../python/python.exe``).

What the runtime does, and what this module does about it (py4godot d8e17428; the
addon README's type probe table has the lines):

- A String argument is ``str``, a StringName a ``core.StringName``, a PackedStringArray
  item read with ``[i]`` a ``core.String``: the Runtime lists all three, and
  ``godot_dtls.engine`` turns each into ``str`` as it arrives.
- ``Array[i]`` and iteration give None and ``key in dictionary`` raises KeyError: arrays
  and dictionaries are read with ``size()`` / ``get(i)`` and ``get(key)`` / ``keys()``
  (``READ_BY_GETTERS``).
- An engine object passed in holds no reference (``cast_without_reference``), so the UDP
  peer a script drops would be freed under the connection: the glue holds it in an
  adapter-owned ``Array`` (a Variant reference) while the connection uses it, and clears
  that Array when the connection lets it go.
- ``PackedByteArray.from_memory_view`` never releases the buffer it reads (a leak per
  datagram): bytes are copied into a resized array through ``get_memory_view()`` instead.
- Script objects are never freed (``instantiated_classes`` in
  ``script_extension_helpers.pyx``): the facades keep these objects in a pool and call
  ``recycle()`` before reusing one, so a cookie exchange or a reconnect makes none.
- ``__init__`` runs before the engine object is attached: plain Python state only.
- Exceptions are logged and hidden from GDScript (null, no call error), so every method
  returns an int Error; returns are dispatched on the exact type name, so only
  ``int``/``bool``/``str`` and core types come back, never an IntEnum, ``bytes`` or ``dict``;
  errors go to ``py4godot.functions.push_error``.
- Supported: py4godot 4.5-alpha8 and newer (``get_memory_view`` arrived there), in the
  Godot its ``.gdextension`` requires and never below Godot 4.3; checked at load, and an
  unsupported one makes this script fail to load with one error saying why.
"""

from __future__ import annotations

from typing import Any, Callable

from py4godot.classes import gdclass
from py4godot.classes.core import Array, Dictionary, PackedByteArray, String, StringName
from py4godot.classes.Engine import Engine
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
    array = PackedByteArray.new0()
    if data:
        array.resize(len(data))
        view = array.get_memory_view()  # live and writable; ``array`` stays referenced here
        view[:] = data
        view.release()
    return array


def _to_dictionary(values: dict[str, Any]) -> Dictionary:
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


def _keep_alive(engine_object: Any) -> Callable[[], Any]:
    """A Variant in an Array of our own holds a real reference; ``clear`` gives it back."""
    holder = Array.new0()
    holder.append(engine_object)
    return holder.clear


RUNTIME = engine.Runtime(
    name="python:py4godot",
    to_bytes=_to_bytes,
    from_bytes=_from_bytes,
    connected_check="is_socket_connected",
    log_error=push_error,
    to_dictionary=_to_dictionary,
    string_types=(str, String, StringName),
    containers=engine.READ_BY_GETTERS,
    keep_alive=_keep_alive,
)


engine.check_runtime(
    RUNTIME,
    lambda: Engine.instance().get_version_info(),
    [
        (
            hasattr(PackedByteArray, "get_memory_view"),
            "godot-dtls needs py4godot 4.5-alpha8 or newer (PackedByteArray."
            "get_memory_view); this release lacks it: the Python backend stays off",
        )
    ],
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

    def recycle(self):
        """Close and forget the connection before the object serves a new facade."""
        return _core(self).recycle()

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
