"""Stand-in for godot-python 0.50's ``godot`` module (Godot 3.2), for the adapter tests only.

Written from the runtime's documented API (shared/spec/python-runtimes.md §1 and its
"Stand-in contract" table), never shipped. What it models, because the adapter must cope
with it:

- ``@exposed``: one class per module, a Godot base class required, ``__init__`` replaced by
  a no-op; script signals declared with ``signal()``; no ``emit_signal`` attribute, only
  ``call("emit_signal", ...)``.
- Engine objects are a native state (``_Native``: reference count, connections, payload)
  behind Python wrappers. A Reference handed to a script method arrives as a *new* wrapper
  that took no reference but releases one when it dies (the 0.50 refcount hazard): an
  adapter that forgets ``reference()`` frees the caller's object.
- Boundary types: ``GDString`` (not ``str``, equal only to GDString), ``PoolByteArray`` (no
  ``size()``, ctypes-backed ``raw_access()``), ``PoolStringArray``, ``Array``,
  ``Dictionary`` (contents converted like arguments), ``Error`` IntFlag.
- ``PacketPeerUDP`` / ``UDPServer`` with the 3.2 surface, backed by real sockets
  (godot_dtls.net.udp); ``X509Certificate`` / ``CryptoKey`` with 3.2's ``load``/``save`` only.
- ``_gd_call(obj, name, *args)``: a call as the engine makes it (argument conversion, the
  exception → call-error rules, return conversion with "Cannot convert" → null).
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import inspect
import traceback
import warnings
from typing import Any, Iterator, NamedTuple

from godot_dtls import Error as _DTLSError
from godot_dtls.api.x509 import CryptoKey as _Key
from godot_dtls.api.x509 import X509Certificate as _Certificate
from godot_dtls.net.udp import PacketPeerUDP as _SocketPeer
from godot_dtls.net.udp import UDPServer as _SocketServer

Error = enum.IntFlag("Error", [(member.name, member.value) for member in _DTLSError])
for _member in _DTLSError:
    globals()[_member.name] = _member.value


class CallError(enum.IntEnum):
    """Godot's Variant::CallError::Error."""

    CALL_OK = 0
    CALL_ERROR_INVALID_METHOD = 1
    CALL_ERROR_INVALID_ARGUMENT = 2


class CallResult(NamedTuple):
    value: Any
    error: CallError


#: "Cannot convert" warnings of return values (each also a Python warning).
conversion_warnings: list[str] = []
#: module name → its exposed class (``get_exposed_class`` in the runtime).
exposed_classes: dict[str, type] = {}


# ------------------------------------------------------------------------ builtin types


class GDString:
    """Godot String: ``str(x)`` converts; never equal to a ``str``."""

    __slots__ = ("_text",)

    def __init__(self, pystr: str | None = None) -> None:
        if pystr is not None and not isinstance(pystr, str):
            raise TypeError("GDString() takes a str")
        self._text = pystr or ""

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<GDString({self._text!r})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GDString) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


class _WriteAccess:
    def __init__(self, array: PoolByteArray) -> None:
        self._array = array

    def get_address(self) -> int:
        return ctypes.addressof(self._array._buffer)

    def __getitem__(self, index: int) -> int:
        return int(self._array._buffer[index])

    def __setitem__(self, index: int, value: int) -> None:
        self._array._buffer[index] = value


class PoolByteArray:
    """PoolByteArray: built from None, a PoolByteArray, an Array or any iterable of ints."""

    __slots__ = ("_buffer", "_size")

    def __init__(self, other: Any = None) -> None:
        self._buffer: Any = (ctypes.c_ubyte * 0)()
        self._size = 0
        if other is None:
            return
        source = other._items if isinstance(other, Array) else other
        for item in source:  # one append per item, as the runtime does
            self.append(item)

    def append(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an integer is required, got {type(value).__name__}")
        if not 0 <= value <= 255:
            raise OverflowError("value too large to convert to uint8_t")
        self.resize(self._size + 1)
        self._buffer[self._size - 1] = value

    push_back = append

    def resize(self, size: int) -> None:
        buffer = (ctypes.c_ubyte * size)()
        ctypes.memmove(buffer, self._buffer, min(size, self._size))
        self._buffer = buffer
        self._size = size

    @contextlib.contextmanager
    def raw_access(self) -> Iterator[_WriteAccess]:
        yield _WriteAccess(self)

    def copy(self) -> PoolByteArray:
        return _pool(_pool_bytes(self))

    def invert(self) -> None:
        data = _pool_bytes(self)[::-1]
        ctypes.memmove(self._buffer, data, len(data))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        for index in range(self._size):
            yield int(self._buffer[index])

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return _pool(_pool_bytes(self)[index])
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("list index out of range")
        return int(self._buffer[index])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PoolByteArray) and _pool_bytes(other) == _pool_bytes(self)

    def __add__(self, other: PoolByteArray) -> PoolByteArray:
        return _pool(_pool_bytes(self) + _pool_bytes(other))

    def __iadd__(self, other: PoolByteArray) -> PoolByteArray:
        data = _pool_bytes(other)
        start = self._size
        self.resize(start + len(data))
        ctypes.memmove(ctypes.addressof(self._buffer) + start, data, len(data))
        return self

    def __repr__(self) -> str:
        return f"<PoolByteArray({list(self)!r})>"

    __hash__ = None  # type: ignore[assignment]


def _pool_bytes(array: PoolByteArray) -> bytes:
    """Engine-side copy of the contents (what the C++ side reads), for the stand-in itself."""
    return ctypes.string_at(ctypes.addressof(array._buffer), array._size)


def _pool(data: bytes) -> PoolByteArray:
    """Engine-side construction of a PoolByteArray (a C++ copy, not per-byte appends)."""
    array = PoolByteArray()
    array.resize(len(data))
    ctypes.memmove(array._buffer, data, len(data))
    return array


class Array:
    """Godot Array; items converted like call arguments (str → GDString)."""

    def __init__(self, iterable: Any = None) -> None:
        self._items = [_to_variant(item) for item in iterable or ()]

    def append(self, item: Any) -> None:
        self._items.append(_to_variant(item))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Array) and other._items == self._items

    __hash__ = None  # type: ignore[assignment]


class PoolStringArray:
    """PoolStringArray: from an iterable of str/GDString, items read back as GDString; no
    ``size()`` (like PoolByteArray)."""

    def __init__(self, iterable: Any = None) -> None:
        self._items = [GDString(str(item)) for item in iterable or ()]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[GDString]:
        return iter(list(self._items))

    def __getitem__(self, index: int) -> GDString:
        return self._items[index]

    __hash__ = None  # type: ignore[assignment]


class Dictionary:
    """Godot Dictionary; keys and values converted like call arguments (str → GDString)."""

    def __init__(self, iterable: Any = None) -> None:
        self._items: dict[Any, Any] = {}
        if iterable is not None:
            pairs = iterable.items() if hasattr(iterable, "items") else iterable
            for key, value in pairs:
                self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[_to_variant(key)] = _to_variant(value)

    def __getitem__(self, key: Any) -> Any:
        return self._items[_to_variant(key)]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._items.get(_to_variant(key), default)

    def __contains__(self, key: Any) -> bool:
        return _to_variant(key) in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def keys(self) -> Array:
        # Godot's Dictionary.keys() returns an Array (godot-python 0.50
        # generation/builtins_templates/dictionary.tmpl.pxi: render_method("keys")).
        return Array(list(self._items))

    def items(self) -> Any:
        return self._items.items()

    __hash__ = None  # type: ignore[assignment]


def _to_variant(value: Any) -> Any:
    """A Python value as Godot stores it (what comes back when it is read again)."""
    if isinstance(value, str):
        return GDString(value)
    if isinstance(value, (list, tuple)):
        return Array(value)
    if isinstance(value, dict):
        return Dictionary(value)
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("bytes cannot be stored in a Variant (use a PoolByteArray)")
    if not isinstance(value, _CONVERTIBLE):
        raise TypeError(f"Cannot convert `{value!r}` to Godot's Variant")
    return value


# ------------------------------------------------------------------------------ objects


class _Native:
    """The engine-side object every wrapper of it points at."""

    def __init__(self, class_name: str, payload: Any = None) -> None:
        self.class_name = class_name
        self.payload = payload
        self.refcount = 0
        self.freed = False
        self.connections: dict[str, list[Any]] = {}

    def unreference(self) -> bool:
        self.refcount -= 1
        if self.refcount <= 0 and not self.freed:
            self.freed = True
            close = getattr(self.payload, "close", None)
            if callable(close):
                close()
        return self.freed


class Object:
    """Godot Object wrapper: ``call``/``callv`` reach script methods and built-ins."""

    def __init__(self) -> None:
        self._gd_native = _Native(type(self).__name__)
        self._gd_releases = False

    @classmethod
    def new(cls) -> Object:
        return cls()

    def _gd_state(self) -> _Native:
        native = self.__dict__.get("_gd_native")
        if native is None or native.freed:
            raise RuntimeError(f"{type(self).__name__}: the Godot object was freed")
        return native

    def call(self, method: str, *args: Any) -> Any:
        return self.callv(method, Array(args))

    def callv(self, method: Any, args: Array) -> Any:
        native = self._gd_state()
        name = str(method)
        values = list(args)
        if name == "emit_signal":
            return self._gd_emit(native, str(values[0]), values[1:])
        return getattr(self, name)(*values)

    def _gd_emit(self, native: _Native, signal_name: str, args: list[Any]) -> Any:
        if signal_name not in getattr(type(self), "_gd_signals", {}):
            raise RuntimeError(f"emit_signal: no signal {signal_name!r} on {type(self).__name__}")
        for target, method in list(native.connections.get(signal_name, ())):
            target.callv(method, Array(args))
        return None

    def connect(
        self, signal: Any, target: Object, method: Any, binds: Any = None, flags: int = 0
    ) -> Error:
        native = self._gd_state()
        native.connections.setdefault(str(signal), []).append((target, str(method)))
        return Error.OK

    def has_method(self, method: Any) -> bool:
        return callable(getattr(self, str(method), None))

    def __eq__(self, other: object) -> bool:  # pointer equality, as in the runtime
        return isinstance(other, Object) and other.__dict__.get("_gd_native") is self.__dict__.get(
            "_gd_native"
        )

    def __hash__(self) -> int:
        return id(self.__dict__.get("_gd_native"))


class Reference(Object):
    """Reference: ``Reference()`` creates one with a count of 1 owned by the wrapper."""

    def __init__(self) -> None:
        super().__init__()
        self._gd_native.refcount = 1
        self._gd_releases = True

    @classmethod
    def new(cls) -> Object:
        raise RuntimeError(f"Refcounted Godot object must be created with `{cls.__name__}()`")

    def reference(self) -> bool:
        self._gd_state().refcount += 1
        return True

    def unreference(self) -> bool:
        return self._gd_state().unreference()

    def get_reference_count(self) -> int:
        return self._gd_state().refcount

    def __del__(self) -> None:
        native = self.__dict__.get("_gd_native")
        if native is not None and self.__dict__.get("_gd_releases"):
            native.unreference()


def _wrap(native: _Native, cls: type) -> Any:
    """A new wrapper of ``native`` that took no reference but releases one when it dies."""
    wrapper = cls.__new__(cls)
    wrapper._gd_native = native
    wrapper._gd_releases = True
    return wrapper


def _native_class(obj: Object) -> type:
    for cls in type(obj).__mro__:
        if cls.__module__ == __name__ and not getattr(cls, "_gd_exposed", False):
            return cls
    return Object


# ------------------------------------------------------------------------ declarations


class _SignalField:
    def __init__(self, name: str | None) -> None:
        self.name = name


def signal(name: str | None = None) -> _SignalField:
    if name is not None and not isinstance(name, str):
        raise ValueError("`name` must be a str")
    return _SignalField(name)


class _ExportedField:
    def __init__(self, type_: Any, default: Any, **hints: Any) -> None:
        self.type = type_
        self.default = default
        self.hints = hints


def export(type: Any, default: Any = None, **hints: Any) -> _ExportedField:
    return _ExportedField(type, default, **hints)


def exposed(cls: type | None = None, tool: bool = False) -> Any:
    """One class per module, a Godot base, ``__init__`` replaced by a no-op."""

    def wrapper(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, Object)):
            raise ValueError(f"{cls!r} must inherit from a Godot class to be marked as @exposed")
        existing = exposed_classes.get(cls.__module__)
        if existing is not None:
            raise ValueError(
                f"Only a single class can be marked as @exposed per module (already got "
                f"{existing!r})"
            )
        cls.__init__ = lambda self: None  # type: ignore[misc]
        signals: dict[str, _SignalField] = {}
        exported: dict[str, _ExportedField] = {}
        for base in cls.__mro__[1:]:
            signals.update(getattr(base, "_gd_signals", {}))
        for key, value in list(vars(cls).items()):
            if isinstance(value, _ExportedField):
                exported[key] = value
                setattr(cls, key, value.default)
            elif isinstance(value, _SignalField):
                value.name = value.name or key
                signals[value.name] = value
        cls._gd_exposed = True
        cls._gd_tool = tool
        cls._gd_signals = signals
        cls._gd_exported = exported
        cls._gd_methods = sorted(
            name
            for name in dir(cls)
            if not name.startswith("__")
            and inspect.isfunction(getattr(cls, name))
            and getattr(cls, name).__module__ != __name__
        )
        exposed_classes[cls.__module__] = cls
        return cls

    return wrapper(cls) if cls is not None else wrapper


# ------------------------------------------------------------------------ engine classes


class PacketPeerUDP(Reference):
    """Godot 3.2's PacketPeerUDP on a real socket."""

    def __init__(self) -> None:
        super().__init__()
        self._gd_native.payload = _SocketPeer()

    def _sock(self) -> _SocketPeer:
        return self._gd_state().payload

    def listen(self, port: int, bind_address: Any = "*", recv_buf_size: int = 65536) -> Error:
        return Error(self._sock().bind(int(port), str(bind_address), int(recv_buf_size)))

    def is_listening(self) -> bool:
        return self._sock().is_bound()

    def connect_to_host(self, host: Any, port: int) -> Error:
        return Error(self._sock().connect_to_host(str(host), int(port)))

    def is_connected_to_host(self) -> bool:
        return self._sock().is_socket_connected()

    def set_dest_address(self, host: Any, port: int) -> Error:
        return Error(self._sock().set_dest_address(str(host), int(port)))

    def put_packet(self, buffer: PoolByteArray) -> Error:
        if not isinstance(buffer, PoolByteArray):
            raise TypeError(
                "Argument 'buffer' has incorrect type (expected godot.pool_arrays."
                f"PoolByteArray, got {type(buffer).__name__})"
            )
        return Error(self._sock().put_packet(_pool_bytes(buffer)))

    def get_packet(self) -> PoolByteArray:
        return _pool(self._sock().get_packet())

    def get_available_packet_count(self) -> int:
        return self._sock().get_available_packet_count()

    def get_packet_error(self) -> Error:
        return Error(self._sock().get_packet_error())

    def get_packet_ip(self) -> GDString:
        return GDString(self._sock().get_packet_ip())

    def get_packet_port(self) -> int:
        return self._sock().get_packet_port()

    def wait(self) -> Error:
        return Error(self._sock().wait())

    def close(self) -> None:
        self._sock().close()


class UDPServer(Reference):
    """Godot 3.2's UDPServer (no get_local_port before 3.3: tests use ``_local_port``)."""

    def __init__(self) -> None:
        super().__init__()
        self._gd_native.payload = _SocketServer()

    def _server(self) -> _SocketServer:
        return self._gd_state().payload

    def listen(self, port: int, bind_address: Any = "*") -> Error:
        return Error(self._server().listen(int(port), str(bind_address)))

    def poll(self) -> Error:
        return Error(self._server().poll())

    def is_connection_available(self) -> bool:
        return self._server().is_connection_available()

    def take_connection(self) -> PacketPeerUDP | None:
        peer = self._server().take_connection()
        if peer is None:
            return None
        wrapper = _wrap(_Native("PacketPeerUDP", peer), PacketPeerUDP)
        wrapper._gd_native.refcount = 1  # the returned Ref<PacketPeerUDP>
        return wrapper

    def is_listening(self) -> bool:
        return self._server().is_listening()

    def stop(self) -> None:
        self._server().stop()

    def _local_port(self) -> int:
        """Test helper only: the OS-chosen port."""
        return self._server().get_local_port()


class X509Certificate(Reference):
    """Godot 3.2's X509Certificate: ``load`` and ``save`` only."""

    def __init__(self) -> None:
        super().__init__()
        self._gd_native.payload = _Certificate()

    def load(self, path: Any) -> Error:
        return Error(self._gd_state().payload.load(str(path)))

    def save(self, path: Any) -> Error:
        return Error(self._gd_state().payload.save(str(path)))


class CryptoKey(Reference):
    """Godot 3.2's CryptoKey: ``load`` and ``save`` only."""

    def __init__(self) -> None:
        super().__init__()
        self._gd_native.payload = _Key()

    def load(self, path: Any) -> Error:
        return Error(self._gd_state().payload.load(str(path)))

    def save(self, path: Any) -> Error:
        return Error(self._gd_state().payload.save(str(path)))


# ------------------------------------------------------------------------- test helpers

_CONVERTIBLE = (
    type(None),
    bool,
    int,
    float,
    GDString,
    PoolByteArray,
    PoolStringArray,
    Array,
    Dictionary,
    Object,
)


def _gd_new(cls: type) -> Any:
    """``load("res://....py").new()``: the engine instantiates the exposed class
    (its no-op ``__init__``) and attaches the engine object."""
    if not getattr(cls, "_gd_exposed", False):
        raise TypeError(f"{cls!r} is not an @exposed class")
    instance = cls()
    instance._gd_native = _Native(_native_class(instance).__name__)
    instance._gd_native.refcount = 1  # held by the script's caller
    instance._gd_releases = False
    return instance


def _cross(value: Any) -> Any:
    """An argument as a script method receives it."""
    if isinstance(value, Reference) and not getattr(type(value), "_gd_exposed", False):
        return _wrap(value._gd_state(), type(value))
    if isinstance(value, Object) and getattr(type(value), "_gd_exposed", False):
        return _wrap(value._gd_state(), _native_class(value))
    return _to_variant(value)


def _gd_call(obj: Any, name: str, *args: Any) -> CallResult:
    """Call a script method the way Godot does (pythonscript_instance_call_method)."""
    try:
        method = getattr(obj, name)
    except AttributeError:
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    crossed = [_cross(arg) for arg in args]
    try:
        result = method(*crossed)
    except NotImplementedError:
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    except TypeError:
        traceback.print_exc()
        return CallResult(None, CallError.CALL_ERROR_INVALID_ARGUMENT)
    except Exception:
        traceback.print_exc()
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    finally:
        del crossed  # the argument wrappers die here unless the method kept them
    if isinstance(result, str):
        return CallResult(GDString(result), CallError.CALL_OK)
    if not isinstance(result, _CONVERTIBLE):
        message = f"Cannot convert `{result!r}` to Godot's Variant"
        conversion_warnings.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return CallResult(None, CallError.CALL_OK)
    return CallResult(result, CallError.CALL_OK)
