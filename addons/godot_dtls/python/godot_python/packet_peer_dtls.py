"""PacketPeerDTLS for godot-python 0.50 ("pythonscript", Godot 3.2+): declarations only.

GDScript: ``var peer = load(PATH).new()`` (PATH: this file's ``res://`` path), then
the Godot 4 call ``peer.connect_to_peer(udp, "host", {"mode": "client", ...})`` or Godot 3's
``peer.connect_to_peer(udp, true, "host", x509_certificate)``; ``peer.poll()`` every frame.
The options Dictionary also takes the extensions (``pinned_spki_sha256``, ``crls_pem``,
``alpn``, ``session_resumption``, mode ``client_psk``, ...: see
``godot_dtls.engine.client_options``);
``get_stats()``, ``is_session_resumed()`` and ``get_alpn_protocol()`` report on them.
The server side is ``gp_dtls_server.py`` (godot-python allows one exposed class per module).

Runtime rules this module follows (see shared/spec/python-runtimes.md §1): ``@exposed``
replaces ``__init__``, so state is made lazily by ``godot_dtls.engine.peer_core``; Strings arrive
as ``GDString``; ``bytes`` returned would reach GDScript as null, so byte arrays go back as
``PoolByteArray``; an engine Reference received as an argument must be ``reference()``d once;
``emit_signal`` is vararg, hence ``self.call("emit_signal", ...)``; there is no push_error
binding, so errors are printed to stderr, which godot-python hands to Godot's output.

Imports: ``res://`` must stay on ``python_script/path`` (it is by default), this file is the
module ``addons.godot_dtls.python.godot_python.packet_peer_dtls``; it imports
``godot_dtls.engine``.
``godot_dtls`` comes from ``res://lib`` (copy ``python/godot_dtls`` there) or from the
embedded interpreter's site-packages: ``addons/pythonscript/x11-64/bin/python3 -m ensurepip``
then ``... -m pip install /path/to/godot-dtls`` (cp38 or abi3 wheels of pyOpenSSL and
cryptography; Windows: ``windows-64/python.exe``).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Dict

from godot import Array, Dictionary, GDString, PoolByteArray, Reference, exposed, signal

from godot_dtls import engine


def _to_bytes(pool: Any) -> bytes:
    """PoolByteArray → bytes with one memcpy (``bytes(pool)`` would iterate per byte)."""
    if not isinstance(pool, PoolByteArray):
        raise TypeError(f"expected a PoolByteArray, got {type(pool).__name__}")
    size = len(pool)
    if size == 0:
        return b""
    with pool.raw_access() as access:
        return ctypes.string_at(access.get_address(), size)


def _from_bytes(data: bytes) -> PoolByteArray:
    """bytes → PoolByteArray with one memcpy (``PoolByteArray(data)`` appends per byte)."""
    pool = PoolByteArray()
    if data:
        pool.resize(len(data))
        with pool.raw_access() as access:
            ctypes.memmove(access.get_address(), data, len(data))
    return pool


def _to_dictionary(values: Dict[str, Any]) -> Dictionary:
    """A dict of plain values (see ``godot_dtls.engine.plain_stats``) as a Godot Dictionary, with
    every String a GDString and every list an Array of them."""
    result = Dictionary()
    for key, value in values.items():
        if isinstance(value, list):
            value = Array([GDString(str(item)) for item in value])
        elif isinstance(value, str):
            value = GDString(value)
        result[GDString(key)] = value
    return result


def _print_error(message: str) -> None:
    print(message, file=sys.stderr)


def _retain(value: Any) -> None:
    # The wrapper of a Reference argument releases a reference it never took: take one.
    if isinstance(value, Reference):
        value.reference()


RUNTIME = engine.Runtime(
    name="python:godot-python",
    to_bytes=_to_bytes,
    from_bytes=_from_bytes,
    connected_check="is_connected_to_host",
    log_error=_print_error,
    string_types=(str, GDString),
    retain=_retain,
    to_dictionary=_to_dictionary,
)
engine.forward_library_logs(RUNTIME)


def _emit(peer: Any, status: int) -> None:
    peer.call("emit_signal", "status_changed", status)


def _core(peer: Any) -> engine.PeerCore:
    return engine.peer_core(peer, RUNTIME, _emit)


@exposed
class PyPacketPeerDTLS(Reference):
    """Godot's PacketPeerDTLS for Godot 3 scripts; put_var/get_var live in the facade."""

    status_changed = signal("status_changed")

    # Read by GDScript as ``peer.STATUS_CONNECTED`` (instance get falls back to getattr).
    STATUS_DISCONNECTED = 0
    STATUS_HANDSHAKING = 1
    STATUS_CONNECTED = 2
    STATUS_ERROR = 3
    STATUS_ERROR_HOSTNAME_MISMATCH = 4

    def connect_to_peer(self, udp=None, hostname=True, options=None, valid_certificate=None):
        """``(udp, hostname: String, options: Dictionary)`` or Godot 3's
        ``(udp, validate_certs := true, for_hostname := "", valid_certificate := null)``."""
        return _core(self).connect_to_peer_any(udp, hostname, options, valid_certificate)

    def accept_connection(self, server_id, udp):
        """Server side: ``server_id`` from PyDTLSServer.get_server_id(), ``udp`` from
        UDPServer.take_connection(). Status HANDSHAKING, or ERROR after the cookie exchange."""
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
