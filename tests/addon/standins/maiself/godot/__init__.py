"""Stand-in for godot-python-extension's ``godot`` package (maiself, Godot 4.2+), tests only.

Written from the runtime's documented API (shared/spec/python-runtimes.md §2 and its
"Stand-in contract" table), never shipped. What it models, because the adapter must cope
with it:

- ``register_extension_class``: a new ClassDB name (not an engine class's), methods from
  ``expose_all_methods=True`` (no keyword-only parameters), ``constant()`` values and
  ``expose``d enums as class constants, ``signal()`` members; ``__init__`` runs on ``new()``
  for extension classes, never for script classes (``expose_script_class``).
- Strings are ``str``; byte arrays are ``PackedByteArray`` with the buffer protocol (a
  ``bytearray`` subclass here, because Python classes only gain ``__buffer__`` in 3.12);
  ``Array`` / ``Dictionary`` / ``PackedStringArray`` are not list / dict, and their
  contents are Variants too (a Dictionary's nested list is an Array); ``Error`` is an
  IntEnum.
- ``print``/``printerr``/``push_error``/``push_warning`` record their messages.
- ``PacketPeerUDP`` / ``UDPServer`` with the 4.x surface on real sockets (godot_dtls.net.udp).
- ``_gd_call(obj, name, *args)``: a call as the engine makes it (exception → push_error and
  a call error; ``bytes``/list/tuple returned become an Array, dict a Dictionary).
"""

from __future__ import annotations

import builtins
import enum
import inspect
import traceback
from typing import Any, Callable, Iterator, NamedTuple

from godot_dtls import Error as _DTLSError
from godot_dtls.api.x509 import CryptoKey as _Key
from godot_dtls.api.x509 import X509Certificate as _Certificate
from godot_dtls.net import PacketPeerUDP as _SocketPeer
from godot_dtls.net import UDPServer as _SocketServer

Error = enum.IntEnum("Error", [(member.name, member.value) for member in _DTLSError])
for _member in _DTLSError:
    globals()[_member.name] = Error(_member.value)


class CallError(enum.IntEnum):
    CALL_OK = 0
    CALL_ERROR_INVALID_METHOD = 1
    CALL_ERROR_INVALID_ARGUMENT = 2


class CallResult(NamedTuple):
    value: Any
    error: CallError


#: (kind, text) for every print / printerr / push_error / push_warning.
messages: list[tuple[str, str]] = []


def print(*args: Any) -> None:
    messages.append(("print", "".join(builtins.str(a) for a in args)))


def printerr(*args: Any) -> None:
    messages.append(("printerr", "".join(builtins.str(a) for a in args)))


def push_error(*args: Any) -> None:
    messages.append(("push_error", "".join(builtins.str(a) for a in args)))


def push_warning(*args: Any) -> None:
    messages.append(("push_warning", "".join(builtins.str(a) for a in args)))


def errors() -> list[str]:
    """Test helper: the push_error messages so far."""
    return [text for kind, text in messages if kind == "push_error"]


# ------------------------------------------------------------------------ builtin types


class PackedByteArray(bytearray):
    """PackedByteArray: from None, a PackedByteArray or a sequence of ints (bytes ok)."""

    def __init__(self, source: Any = None) -> None:
        if source is None:
            super().__init__()
        elif isinstance(source, (bytes, bytearray, memoryview, PackedByteArray)):
            super().__init__(source)
        elif isinstance(source, (str, dict)) or not hasattr(source, "__iter__"):
            raise TypeError(f"cannot convert {type(source).__name__} to PackedByteArray")
        else:
            super().__init__(list(source))

    def size(self) -> int:
        return len(self)

    def hex_encode(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"PackedByteArray({bytes(self)!r})"


class Array:
    """Array: from None or any iterable; items converted as Variants (a nested list becomes
    an Array, a dict a Dictionary), as the runtime converts them."""

    def __init__(self, items: Any = None) -> None:
        self._items = [_to_variant(item) for item in items or ()]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]

    def size(self) -> int:
        return len(self._items)


class Dictionary:
    """Dictionary: empty, or a copy of a mapping with its values converted as Variants."""

    def __init__(self, items: Any = None) -> None:
        source = dict(items or {})
        self._items: dict[Any, Any] = {key: _to_variant(value) for key, value in source.items()}

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._items.get(key, default)

    def has(self, key: Any) -> bool:
        return key in self._items

    def keys(self) -> Array:
        return Array(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def size(self) -> int:
        return len(self._items)


class PackedStringArray:
    """PackedStringArray: from None or an iterable of str; ``len``, ``[i]``, iteration."""

    def __init__(self, items: Any = None) -> None:
        self._items = [str(item) for item in items or ()]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __getitem__(self, index: int) -> str:
        return self._items[index]

    def size(self) -> int:
        return len(self._items)


# ------------------------------------------------------------------------ declarations


class IntConstant(int):
    name = ""


def constant(value: int) -> IntConstant:
    return IntConstant(value)


def expose(obj: Any = None, **kwargs: Any) -> Any:
    """Marks a nested enum for registration (other uses are not modelled)."""
    if isinstance(obj, type) and issubclass(obj, enum.Enum):
        return obj
    raise NotImplementedError("the stand-in exposes enums only")


def method(func: Callable[..., Any]) -> Callable[..., Any]:
    func._gd_method = True  # type: ignore[attr-defined]
    return func


class property:
    """``godot.property(default=...)`` / ``default_factory=``: a lazy per-instance value."""

    def __init__(self, default: Any = None, default_factory: Any = None) -> None:
        self.default = default
        self.default_factory = default_factory
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        values = instance.__dict__.setdefault("_gd_properties", {})
        if self.name not in values:
            factory = self.default_factory
            values[self.name] = factory() if factory is not None else self.default
        return values[self.name]

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__.setdefault("_gd_properties", {})[self.name] = value


class _BoundSignal:
    def __init__(self, owner: Object, name: str) -> None:
        self._owner = owner
        self._name = name

    def emit(self, *args: Any) -> None:
        self._owner.emit_signal(self._name, *args)

    def connect(self, callback: Callable[..., Any]) -> Error:
        return self._owner.connect(self._name, callback)


class signal:
    """A class attribute; on an instance, a Signal with ``emit`` and ``connect``."""

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        bound = _BoundSignal(instance, self.name)
        instance.__dict__[self.name] = bound  # like functools.cached_property
        return bound


#: ClassDB: registered extension classes by name.
class_db: dict[str, type] = {}
_ENGINE_CLASSES = {
    "Object",
    "RefCounted",
    "PacketPeer",
    "PacketPeerDTLS",
    "DTLSServer",
    "PacketPeerUDP",
    "UDPServer",
    "X509Certificate",
    "CryptoKey",
    "TLSOptions",
}
_script_classes: dict[str, type] = {}


def _exposed_methods(cls: type) -> list[str]:
    names = []
    for name, value in vars(cls).items():
        function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if name.startswith("__") or not inspect.isfunction(function):
            continue
        if not (cls._gd_expose_all_methods or getattr(function, "_gd_method", False)):
            continue
        parameters = inspect.signature(function).parameters.values()
        if any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters):
            raise TypeError("cannot bind method with keyword only arguments")
        names.append(name)
    return names


def register_extension_class(cls: type) -> type:
    if not (isinstance(cls, type) and issubclass(cls, Object)):
        raise TypeError(f"{cls!r} must derive from godot.Object")
    name = cls.__name__
    if name in _ENGINE_CLASSES or class_db.get(name, cls) is not cls:
        raise ValueError(f"class {name!r} already exists in ClassDB")
    constants: dict[str, int] = {}
    signals: list[str] = []
    for key, value in vars(cls).items():
        if isinstance(value, type) and issubclass(value, enum.Enum):
            constants.update({member.name: int(member.value) for member in value})
        elif isinstance(value, IntConstant):
            constants[key] = int(value)
        elif isinstance(value, signal):
            signals.append(key)
    cls._gd_extension = True
    cls._gd_constants = constants
    cls._gd_signals = signals
    cls._gd_methods = _exposed_methods(cls)
    class_db[name] = cls
    return cls


def expose_script_class(
    cls: type | None = None,
    *,
    name: str | None = None,
    as_global: bool = False,
    icon: Any = None,
    tool: bool = False,
) -> Any:
    def decorate(cls: type) -> type:
        if cls.__module__ in _script_classes:
            raise ValueError("only one script class per module")
        cls._gd_script_class = True
        cls._gd_signals = [k for k, v in vars(cls).items() if isinstance(v, signal)]
        cls._gd_methods = _exposed_methods(cls)
        _script_classes[cls.__module__] = cls
        return cls

    return decorate(cls) if cls is not None else decorate


# ------------------------------------------------------------------------------ objects


class _ObjectType(type):
    """pybind11's metaclass rule: an overriding ``__init__`` must call the base one (the
    base ``__init__`` is what makes or binds the engine object)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__call__(*args, **kwargs)
        if not instance.__dict__.get("_gd_initialised"):
            raise TypeError(f"{cls.__name__}.__init__() must be called when overriding __init__")
        return instance


class Object(metaclass=_ObjectType):
    """Object wrapper with engine-side connections."""

    _gd_expose_all_methods = False

    def __init_subclass__(cls, expose_all_methods: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._gd_expose_all_methods = expose_all_methods

    def __init__(self) -> None:
        self.__dict__["_gd_initialised"] = True
        self.__dict__["_gd_connections"] = {}
        self.__dict__["_gd_script"] = None

    def call(self, name: str, *args: Any) -> Any:
        return getattr(self, name)(*args)

    def has_method(self, name: str) -> bool:
        return name in getattr(type(self), "_gd_methods", ()) or callable(
            getattr(type(self), name, None)
        )

    def connect(self, signal_name: str, callback: Callable[..., Any], flags: int = 0) -> Error:
        self._gd_connections.setdefault(signal_name, []).append(callback)
        return Error.OK

    def emit_signal(self, signal_name: str, *args: Any) -> Error:
        if signal_name not in getattr(type(self), "_gd_signals", ()):
            push_error(f"emit_signal: no signal {signal_name!r} on {type(self).__name__}")
            return Error.ERR_UNAVAILABLE
        for callback in list(self._gd_connections.get(signal_name, ())):
            callback(*args)
        return Error.OK

    def set_script(self, script: Any) -> None:
        self._gd_script = script


class RefCounted(Object):
    pass


# ------------------------------------------------------------------------ engine classes


class PacketPeerUDP(RefCounted):
    """Godot 4's PacketPeerUDP on a real socket."""

    def __init__(self, _peer: _SocketPeer | None = None) -> None:
        super().__init__()
        self._sock = _peer if _peer is not None else _SocketPeer()

    def bind(self, port: int, bind_address: str = "*", recv_buf_size: int = 65536) -> Error:
        return Error(self._sock.bind(port, bind_address, recv_buf_size))

    def is_bound(self) -> bool:
        return self._sock.is_bound()

    def connect_to_host(self, host: str, port: int) -> Error:
        return Error(self._sock.connect_to_host(host, port))

    def is_socket_connected(self) -> bool:
        return self._sock.is_socket_connected()

    def set_dest_address(self, host: str, port: int) -> Error:
        return Error(self._sock.set_dest_address(host, port))

    def put_packet(self, buffer: Any) -> Error:
        if not isinstance(buffer, (bytes, bytearray)):
            raise TypeError(f"put_packet needs a PackedByteArray, got {type(buffer).__name__}")
        return Error(self._sock.put_packet(bytes(buffer)))

    def get_packet(self) -> PackedByteArray:
        return PackedByteArray(self._sock.get_packet())

    def get_available_packet_count(self) -> int:
        return self._sock.get_available_packet_count()

    def get_packet_error(self) -> Error:
        return Error(self._sock.get_packet_error())

    def get_packet_ip(self) -> str:
        return self._sock.get_packet_ip()

    def get_packet_port(self) -> int:
        return self._sock.get_packet_port()

    def wait(self) -> Error:
        return Error(self._sock.wait())

    def close(self) -> None:
        self._sock.close()


class UDPServer(RefCounted):
    """Godot 4's UDPServer on a real socket."""

    def __init__(self) -> None:
        super().__init__()
        self._server = _SocketServer()

    def listen(self, port: int, bind_address: str = "*") -> Error:
        return Error(self._server.listen(port, bind_address))

    def poll(self) -> Error:
        return Error(self._server.poll())

    def is_connection_available(self) -> bool:
        return self._server.is_connection_available()

    def take_connection(self) -> PacketPeerUDP | None:
        peer = self._server.take_connection()
        return None if peer is None else PacketPeerUDP(peer)

    def get_local_port(self) -> int:
        return self._server.get_local_port()

    def is_listening(self) -> bool:
        return self._server.is_listening()

    def stop(self) -> None:
        self._server.stop()


class X509Certificate(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        self._certificate = _Certificate()

    def load_from_string(self, string: str) -> Error:
        return Error(self._certificate.load_from_string(string))

    def save_to_string(self) -> str:
        return self._certificate.save_to_string()


class CryptoKey(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        self._key = _Key()

    def load_from_string(self, string_key: str, public_only: bool = False) -> Error:
        return Error(self._key.load_from_string(string_key, public_only))

    def save_to_string(self, public_only: bool = False) -> str:
        return self._key.save_to_string(public_only)


class TLSOptions(RefCounted):
    """Only the static constructors; the adapters take PEM strings instead."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = ""
        self.trusted_chain: Any = None
        self.common_name_override = ""
        self.key: Any = None
        self.certificate: Any = None

    @classmethod
    def client(cls, trusted_chain: Any = None, common_name_override: str = "") -> TLSOptions:
        options = cls()
        options.mode = "client"
        options.trusted_chain = trusted_chain
        options.common_name_override = common_name_override
        return options

    @classmethod
    def client_unsafe(cls, trusted_chain: Any = None) -> TLSOptions:
        options = cls()
        options.mode = "client_unsafe"
        options.trusted_chain = trusted_chain
        return options

    @classmethod
    def server(cls, key: Any, certificate: Any) -> TLSOptions:
        options = cls()
        options.mode = "server"
        options.key = key
        options.certificate = certificate
        return options


# ------------------------------------------------------------------------- test helpers


def _gd_new(cls: type) -> Any:
    """``PyX.new()`` for an extension class (``__init__`` runs); a script class attached
    with ``set_script`` gets no ``__init__``."""
    if getattr(cls, "_gd_extension", False):
        return cls()
    if getattr(cls, "_gd_script_class", False):
        instance = cls.__new__(cls)
        Object.__init__(instance)  # the existing engine object, bound without cls.__init__
        return instance
    raise TypeError(f"{cls!r} is neither a registered extension class nor a script class")


def _to_variant(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, (bytes, list, tuple)) and not isinstance(value, PackedByteArray):
        return Array(value)
    if isinstance(value, dict):
        return Dictionary(value)
    return value


_CONVERTIBLE = (
    type(None),
    bool,
    int,
    float,
    str,
    PackedByteArray,
    PackedStringArray,
    Array,
    Dictionary,
    Object,
)


def _unconvertible(value: Any) -> Any | None:
    """The first value inside ``value`` (itself, or nested in an Array or Dictionary) that
    no Variant can hold, or None when all convert."""
    if not isinstance(value, _CONVERTIBLE):
        return value
    if isinstance(value, Dictionary):
        nested: Any = [*value._items.keys(), *value._items.values()]
    elif isinstance(value, Array):
        nested = value._items
    else:
        return None
    for item in nested:
        bad = _unconvertible(item)
        if bad is not None:
            return bad
    return None


def _gd_call(obj: Any, name: str, *args: Any) -> CallResult:
    """Call a method of an extension/script class the way Godot does (Variant call)."""
    if name not in getattr(type(obj), "_gd_methods", ()):
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    converted = []
    for arg in args:
        if isinstance(arg, (bytes, bytearray)) and not isinstance(arg, PackedByteArray):
            raise TypeError("GDScript cannot pass bytes: use a PackedByteArray")
        converted.append(_to_variant(arg))
    try:
        result = getattr(obj, name)(*converted)
    except NotImplementedError:
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    except Exception:
        push_error(traceback.format_exc())
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    result = _to_variant(result)
    bad = _unconvertible(result)
    if bad is not None:
        push_error(f"cannot convert {type(bad).__name__} to a Variant")
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    return CallResult(result, CallError.CALL_OK)
