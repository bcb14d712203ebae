"""godot-python 0.50 (Godot 3.2+): the runtime description and the exposed methods.

The script modules beside this one (``packet_peer_dtls.py``, ``dtls_server.py``) hold only
the exposed classes, because godot-python runs them again at each load (see
``exposure``); their methods are the mixins below, each one line into
:mod:`godot_dtls.engine`. Runtime rules followed (measured in Godot 3.2.3):

- ``@exposed`` replaces ``__init__``: state is made on first use by ``engine.peer_core``.
- Strings arrive as ``GDString`` (``GDString == str`` is False): ``str()`` them.
- Every engine object that reaches Python through a Variant (an argument, or an item of
  an Array or Dictionary) is a new wrapper that releases a reference it never took:
  ``reference()`` it once (``RUNTIME.retain``), or the caller's object is freed under it.
- ``bytes`` returned become null: byte arrays go back as ``PoolByteArray``, copied with
  one ``memmove`` through ``raw_access()`` (iterating costs 30 µs per 1200 bytes).
- ``emit_signal`` is vararg, hence unbound: ``self.call("emit_signal", ...)``.
- There is no ``push_error`` binding and ``print`` goes to Godot's output: errors are
  printed there, and kept for ``get_last_error_message()``.
- A method named like a native one (``connect``, ``get``, ``set``, ``call``, ...) would
  shadow it for every GDScript caller: the names below clash with none.

Imports: ``res://`` stays on ``python_script/path`` (the default) and ``godot_dtls`` comes
from ``res://lib`` or the embedded interpreter's site-packages.
"""

from __future__ import annotations

import base64
import ctypes
import sys
from typing import Any

from godot import Array, Dictionary, GDString, Marshalls, PoolByteArray, Reference

from godot_dtls import engine

__all__ = ["RUNTIME", "PeerMethods", "ServerMethods"]

#: Object::NOTIFICATION_PREDELETE: the engine is about to free the object.
_NOTIFICATION_PREDELETE = 1
#: The encoding of null in Godot's Variant format (a header with type 0).
_NULL_VARIANT = b"\0\0\0\0"


#: ``PoolByteArray.raw_access`` without its ``contextmanager`` wrapper: the generator that
#: holds the engine's write access, run to its end by hand. Every packet crosses here twice
#: each way, and the ``with`` form costs 1.5 µs a conversion against 0.6: the wrapper's
#: three Python calls, and ``close()`` raising GeneratorExit into the Cython generator.
#: Exhausting the generator runs its ``finally`` (the access ends); if the copy raises, the
#: generator is closed when it is dropped, as the ``with`` form would.
_raw_access = getattr(PoolByteArray.raw_access, "__wrapped__", None)
_string_at = ctypes.string_at
_memmove = ctypes.memmove


def _to_bytes(pool: Any) -> bytes:
    """PoolByteArray → bytes with one memcpy."""
    if not isinstance(pool, PoolByteArray):
        raise TypeError(f"expected a PoolByteArray, got {type(pool).__name__}")
    size = len(pool)
    if size == 0:
        return b""
    if _raw_access is None:
        with pool.raw_access() as access:
            return _string_at(access.get_address(), size)
    accessor = _raw_access(pool)
    data = _string_at(next(accessor).get_address(), size)
    for _ in accessor:
        pass
    return data


def _from_bytes(data: bytes) -> PoolByteArray:
    """bytes → PoolByteArray with one memcpy."""
    pool = PoolByteArray()
    size = len(data)
    if size:
        pool.resize(size)
        if _raw_access is None:
            with pool.raw_access() as access:
                _memmove(access.get_address(), data, size)
            return pool
        accessor = _raw_access(pool)
        _memmove(next(accessor).get_address(), data, size)
        for _ in accessor:
            pass
    return pool


def _to_dictionary(values: dict[str, Any]) -> Dictionary:
    """Plain values (see ``engine.plain_stats``) as a Dictionary of GDString keys."""
    result = Dictionary()
    for key, value in values.items():
        if isinstance(value, list):
            value = Array([GDString(str(item)) for item in value])
        elif isinstance(value, str):
            value = GDString(value)
        result[GDString(key)] = value
    return result


def _retain(value: Any) -> None:
    if isinstance(value, Reference):
        value.reference()


def _print_error(message: str) -> None:
    print(message, file=sys.stderr)


def _encode_variant(value: Any, full_objects: bool) -> bytes:
    """Godot 3's Variant bytes, made by the engine itself (``var2bytes``'s encoder)."""
    if value is None:
        return _NULL_VARIANT  # Marshalls refuses None
    return base64.b64decode(str(Marshalls.variant_to_base64(value, full_objects)))


def _decode_variant(data: bytes, allow_objects: bool) -> Any:
    """The engine's decoder; a null result from anything but a null Variant is an error."""
    value = Marshalls.base64_to_variant(GDString(base64.b64encode(data).decode()), allow_objects)
    if value is None and data[:4] != _NULL_VARIANT:
        raise ValueError("the engine could not decode these bytes as a Godot 3 Variant")
    return value


RUNTIME = engine.Runtime(
    name="python:godot-python",
    to_bytes=_to_bytes,
    from_bytes=_from_bytes,
    connected_check="is_connected_to_host",
    log_error=_print_error,
    string_types=(str, GDString),
    retain=_retain,
    inert_types=(PoolByteArray,),
    to_dictionary=_to_dictionary,
    to_array=Array,
    variant_codec=engine.EngineVariants(_encode_variant, _decode_variant),
)
engine.forward_library_logs(RUNTIME)


def _emit(peer: Any, status: int) -> None:
    peer.call("emit_signal", "status_changed", status)


def _peer(owner: Any) -> engine.PeerCore:
    try:
        return owner._dtls_core  # every call after the first: one attribute read
    except AttributeError:
        return engine.peer_core(owner, RUNTIME, _emit)


def _server(owner: Any) -> engine.ServerCore:
    return engine.server_core(owner, RUNTIME)


class PeerMethods:
    """PacketPeerDTLS's methods for Godot 3 scripts, plus the extensions.

    Every method takes ``*extra``: godot-python passes whatever arguments a script gives,
    and a Python arity error would abort the calling GDScript function; extra (or missing)
    arguments reach the core instead, which answers ERR_INVALID_PARAMETER.
    """

    # Read by GDScript as ``peer.STATUS_CONNECTED`` (instance get falls back to getattr).
    STATUS_DISCONNECTED = 0
    STATUS_HANDSHAKING = 1
    STATUS_CONNECTED = 2
    STATUS_ERROR = 3
    STATUS_ERROR_HOSTNAME_MISMATCH = 4

    def connect_to_peer(
        self, udp=None, validate_certs=True, for_hostname=None, valid_certificate=None, *extra
    ):
        """Godot 3's ``(udp, validate_certs := true, for_hostname := "", valid_certificate
        := null)``, or ``(udp, hostname: String, options: Dictionary)`` for the
        extensions (see ``godot_dtls.engine.client_options``)."""
        core = _peer(self)
        return core.connect_to_peer_any(
            udp, validate_certs, for_hostname, valid_certificate, *extra
        )

    def accept_connection(self, server_id=None, udp=None, *extra):
        """Server side: ``udp`` from UDPServer.take_connection() through the PyDTLSServer
        ``server_id``. HANDSHAKING, or ERROR after the cookie exchange (drop it)."""
        return _peer(self).accept_connection(server_id, udp, *extra)

    def poll(self, *extra):
        return _peer(self).poll(*extra)

    def poll_and_drain(self, *extra):
        """``poll()``, then ``[status, packet, ...]``: every packet received, in one call."""
        return _peer(self).poll_and_drain(*extra)

    def get_status(self, *extra):
        return _peer(self).get_status(*extra)

    def disconnect_from_peer(self, *extra):
        return _peer(self).disconnect_from_peer(*extra)

    def put_packet(self, buffer=None, *extra):
        return _peer(self).put_packet(buffer, *extra)

    def get_packet(self, *extra):
        return _peer(self).get_packet(*extra)

    def get_available_packet_count(self, *extra):
        return _peer(self).get_available_packet_count(*extra)

    def get_packet_error(self, *extra):
        return _peer(self).get_packet_error(*extra)

    def put_var(self, value=None, full_objects=False, *extra):
        """Godot 3's Variant encoding, so a native Godot 3 peer's ``get_var`` agrees."""
        return _peer(self).put_var(value, full_objects, *extra)

    def get_var(self, allow_objects=False, *extra):
        return _peer(self).get_var(allow_objects, *extra)

    def get_last_error_message(self, *extra):
        return _peer(self).get_last_error_message(*extra)

    def get_stats(self, *extra):
        """Counters and negotiated parameters (``cipher``, ``version``, ...): a Dictionary."""
        return _peer(self).get_stats(*extra)

    def is_session_resumed(self, *extra):
        return _peer(self).is_session_resumed(*extra)

    def get_alpn_protocol(self, *extra):
        return _peer(self).get_alpn_protocol(*extra)

    def get_backend(self, *extra):
        return RUNTIME.name

    def _notification(self, what):
        if what == _NOTIFICATION_PREDELETE:
            core = self.__dict__.pop("_dtls_core", None)
            if core is not None:
                core.release()


class ServerMethods:
    """DTLSServer's part: the server options and the cookie secret. Peers are
    PyPacketPeerDTLS objects that ``accept_connection(get_server_id(), udp)``; an id, not
    the object, because an object passed back in arrives as a new wrapper of its native
    class, without its Python state."""

    def setup(self, options=None, *extra):
        """``{"key_pem": String, "certificate_pem": String}`` (or engine X509Certificate /
        CryptoKey objects), plus ``sni``, ``alpn``, ``session_resumption``, or mode
        ``server_psk`` (see ``godot_dtls.engine.server_options``); an Error int."""
        return _server(self).setup(options, *extra)

    def get_server_id(self, *extra):
        return _server(self).get_server_id(*extra)

    def get_last_error_message(self, *extra):
        return _server(self).get_last_error_message(*extra)

    def get_backend(self, *extra):
        return RUNTIME.name
