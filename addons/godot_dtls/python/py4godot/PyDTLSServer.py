"""DTLSServer for py4godot: declarations only (file stem == class name).

GDScript (the ``PythonDTLSServer`` facade does this): ``var server = RefCounted.new()``,
``server.set_script(load("res://addons/godot_dtls/python/py4godot/PyDTLSServer.py"))``,
``server.setup({"key_pem": ..., "certificate_pem": ...})``; for each UDP peer from a
UDPServer, a pooled ``PyPacketPeerDTLS.py`` script object does
``peer.accept_connection(server.get_server_id(), udp)`` (Python cannot make a new script
object here, so the server is named by an int id). Same runtime rules, imports and
supported versions as ``PyPacketPeerDTLS.py``; the Runtime is described again here, not
imported from it: importing another script's module would run its ``@gdclass`` and
``signal()`` while py4godot registers this one.
"""

from __future__ import annotations

from typing import Any

from py4godot.classes import gdclass
from py4godot.classes.core import PackedByteArray, String, StringName
from py4godot.classes.Engine import Engine
from py4godot.classes.RefCounted import RefCounted
from py4godot.functions import push_error

from godot_dtls import engine

RUNTIME = engine.Runtime(
    name="python:py4godot",
    log_error=push_error,
    string_types=(str, String, StringName),
    containers=engine.READ_BY_GETTERS,
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


def _core(server: Any) -> engine.ServerCore:
    return engine.server_core(server, RUNTIME)


@gdclass
class PyDTLSServer(RefCounted):
    """Holds the server TLS options and the cookie secret; peers are PyPacketPeerDTLS."""

    def __init__(self) -> None:
        # Before the engine object is attached: plain Python state only.
        super().__init__()
        self._dtls_core = None

    def setup(self, options):
        """``{"key_pem": String, "certificate_pem": String}``, plus ``sni``, ``alpn``,
        ``session_resumption``, or mode ``server_psk`` (see ``godot_dtls.engine.server_options``);
        an Error int."""
        return _core(self).setup(options)

    def get_server_id(self):
        return _core(self).get_server_id()

    def recycle(self):
        """Forget the setup before the object serves a new facade (a new server id)."""
        return _core(self).recycle()

    def get_last_error_message(self):
        return _core(self).get_last_error_message()

    def get_backend(self):
        return RUNTIME.name
