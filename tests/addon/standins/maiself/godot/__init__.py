"""Stand-in for godot-python-extension's ``godot`` package (maiself), tests only.

Modelled on the runtime's source, maiself/godot-python-extension at d01a302 (2026-03-19,
"Implement the buffer protocol"), earlier commits where the behaviour differs (0e6be29,
83661eb) and the prebuilt alpha of branch ``prebuilt-releases`` (095a5db, 2023-11-13);
each behaviour below names the upstream file it comes from. Never shipped. What the
adapter relies on, modelled as the runtime does it (never kinder):

- A String or StringName reaching Python (an argument, a Dictionary key or value, an Array
  item) is a ``godot.String`` / ``godot.StringName``: a pybind class, not a ``str``,
  equal to a ``str`` but hashed by identity. Only PackedStringArray items are ``str``.
- ``Dictionary``: ``key in d`` is always False, no ``__iter__`` (so iteration calls
  ``d[0]``...), ``d[missing]`` reads through a null pointer (a :class:`StandinCrash` here),
  ``get(key, default)`` / ``has`` / ``keys()`` / ``size()`` work; a ``Mapping`` from 0e6be29.
- ``Array`` / ``PackedStringArray``: ``[i]`` bounded by ``len`` (``[-1]`` wrongly raises).
- ``PackedByteArray`` per build (:func:`_configure`): no buffer protocol (2023 alpha), a
  ``__buffer__`` that recurses (0e6be29 to 83661eb), or a real one (d01a302).
- Extension classes are registered only by importing the package named in a
  ``*.pyextension`` file found in the working directory (:func:`load_pyextensions`); an
  exception while importing it aborts Godot (:class:`StandinAbort`).
- ``Engine.get_version_info()`` with a configurable version (:data:`ENGINE_VERSION`).
- ``print``/``printerr``/``push_error``/``push_warning`` record their messages.
- ``PacketPeerUDP`` / ``UDPServer`` with the 4.x surface on real sockets (godot_dtls.net.udp).
- ``_gd_call(obj, name, *args)``: a Variant call as the engine makes it.
"""

from __future__ import annotations

import builtins
import collections.abc
import enum
import importlib
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, NamedTuple

from godot_dtls import Error as _DTLSError
from godot_dtls.api.x509 import CryptoKey as _Key
from godot_dtls.api.x509 import X509Certificate as _Certificate
from godot_dtls.net import PacketPeerUDP as _SocketPeer
from godot_dtls.net import UDPServer as _SocketServer

Error = enum.IntEnum("Error", [(member.name, member.value) for member in _DTLSError])
for _member in _DTLSError:
    globals()[_member.name] = Error(_member.value)


class StandinCrash(BaseException):
    """The engine would crash here (a null dereference); a BaseException so that no
    ``except Exception`` in the code under test can hide it."""


class StandinAbort(BaseException):
    """The runtime calls ``std::abort()`` here (``src/util/exceptions.h``
    CATCH_FATAL_EXCEPTIONS_PRINT_ERRORS_AND_ABORT, d01a302)."""


class CallError(enum.IntEnum):
    CALL_OK = 0
    CALL_ERROR_INVALID_METHOD = 1
    CALL_ERROR_INVALID_ARGUMENT = 2


class CallResult(NamedTuple):
    value: Any
    error: CallError


#: (kind, text) for every print / printerr / push_error / push_warning / engine error.
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


def _engine_error(text: str) -> None:
    messages.append(("engine_error", text))


# --------------------------------------------------------------------------------- builds

#: The 2023-11-13 prebuilt alpha (``prebuilt-releases`` 095a5db): the only binary release.
ALPHA_2023 = "alpha-2023-11"
#: Builds of 0e6be29 (2024-01-07) to 83661eb (2026-03-19).
RECURSING_BUFFER = "0e6be29..83661eb"
#: d01a302 (2026-03-19), master HEAD.
BUFFER_PROTOCOL = "d01a302"
BUILDS = (ALPHA_2023, RECURSING_BUFFER, BUFFER_PROTOCOL)
#: The build modelled; set with :func:`_configure` before importing an adapter (until
#: then nothing of the later builds is there).
BUILD = ALPHA_2023

#: ``(major, minor, patch)`` that ``Engine.get_version_info()`` reports.
ENGINE_VERSION = (4, 3, 0)


# ------------------------------------------------------------------------------ strings


class String:
    """``godot.String``: ``py::class_<String>(module_, "String")`` with constructors and
    ``__str__`` only (``src/variant/string.cpp``, d01a302); not a ``str`` subclass."""

    __slots__ = ("_text",)

    def __init__(self, text: Any = "") -> None:
        self._text = builtins.str(text)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:  # lib/godot/_internal/variant_types.py: repr(str(self))
        return repr(self._text)

    def length(self) -> int:
        return len(self._text)


class StringName:
    """``godot.StringName`` (``src/variant/string_name.cpp``, d01a302): not a ``str``."""

    __slots__ = ("_text",)

    def __init__(self, text: Any = "") -> None:
        self._text = builtins.str(text)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return repr(self._text)


def _string_eq(self: Any, other: Any) -> Any:
    if isinstance(other, (builtins.str, String, StringName)):
        return builtins.str(self) == builtins.str(other)
    return NotImplemented


# The operators are bound after the pybind classes exist (module_machinery.py: bind_variant_type
# → method_bind.bind_variant_operators, which sets them with setattr and registers ``str`` as
# a right operand of ``==``): CPython then keeps the inherited identity ``__hash__``, so
# ``String("a")`` equals ``"a"`` but is not found in a set or dict of ``str``.
for _string_class in (String, StringName):
    _string_class.__eq__ = _string_eq  # type: ignore[method-assign]


# ---------------------------------------------------------------------- Variant conversion


def _to_engine(value: Any) -> Any:
    """A Python value as the engine stores it (a Variant): strings as plain text, lists and
    dicts as Arrays and Dictionaries, enums as ints (``make_copy.h`` casts)."""
    if isinstance(value, String):
        return builtins.str(value)
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, (list, tuple)) or (
        isinstance(value, bytes) and not isinstance(value, PackedByteArray)
    ):
        return Array(value)
    if isinstance(value, dict):
        return Dictionary(value)
    return value


def _to_python(value: Any) -> Any:
    """An engine value as Python receives it with no cast info (``make_copy.h`` Variant
    branch, python_type null): a String is a ``godot.String``, a StringName a copy."""
    if isinstance(value, builtins.str):
        return String(value)
    if isinstance(value, StringName):
        return StringName(builtins.str(value))
    return value


def _bounded_index(length: int, index: int) -> int:
    # lib/godot/_internal/method_bind.py (bind_variant_operators, d01a302), bug included:
    # a negative index becomes ``len - index``, hence IndexError for [-1].
    if index < 0:
        index = length - index
        if index < 0:
            raise IndexError
    if index >= length:
        raise IndexError
    return index


class Array:
    """``godot.Array``: ``[i]`` through the bounded indexed getter, ``len`` / ``size()``;
    no ``__iter__`` (Python then iterates with ``[0]``, ``[1]``... up to IndexError).
    ``Array.get`` is left out: the adapters read arrays without it."""

    def __init__(self, items: Any = None) -> None:
        source = items._items if isinstance(items, Array) else (items or ())
        self._items = [_to_engine(item) for item in source]

    def __len__(self) -> int:
        return len(self._items)

    def size(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        return _to_python(self._items[_bounded_index(len(self._items), index)])

    def __setitem__(self, index: int, value: Any) -> None:
        self._items[_bounded_index(len(self._items), index)] = _to_engine(value)

    def append(self, value: Any) -> None:
        self._items.append(_to_engine(value))


class PackedStringArray:
    """``godot.PackedStringArray``: items are ``str``, the one place maiself casts
    (``method_bind.py``: ``__getitem__ = lambda self, key: str(__getitem__inner(...))``)."""

    def __init__(self, items: Any = None) -> None:
        self._items = [builtins.str(item) for item in items or ()]

    def __len__(self) -> int:
        return len(self._items)

    def size(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> str:
        return self._items[_bounded_index(len(self._items), index)]


class Dictionary:
    """``godot.Dictionary`` (``lib/godot/_internal/variant_types.py``, d01a302)."""

    def __init__(self, items: Any = None) -> None:
        self._items: dict[Any, Any] = {}
        if isinstance(items, Dictionary):
            self._items = dict(items._items)
        elif items is not None:
            for key, value in dict(items).items():
                self._items[_to_engine(key)] = _to_engine(value)

    def get(self, key: Any, default: Any = None) -> Any:
        """Godot's builtin ``Dictionary.get(key, default=null)``: no error when missing."""
        engine_key = _to_engine(key)
        if engine_key in self._items:
            return _to_python(self._items[engine_key])
        return _to_python(_to_engine(default))

    def has(self, key: Any) -> bool:
        return _to_engine(key) in self._items

    def keys(self) -> Array:
        return Array(list(self._items))

    def values(self) -> Array:
        return Array(list(self._items.values()))

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[_to_engine(key)] = _to_engine(value)

    def __getitem__(self, key: Any) -> Any:
        """The keyed getter (``method_bind.py``: ``# TODO: raise KeyError``). A missing key
        reaches Godot's ``VariantKeyedSetGetDictionary::ptr_get``, whose ``NULL_TEST`` is
        an error on debug builds and compiled out on release templates: null dereference."""
        engine_key = _to_engine(key)
        if engine_key not in self._items:
            _engine_error('Parameter "ptr" is null.')
            raise StandinCrash(f"Dictionary[{key!r}]: missing key read through a null pointer")
        return _to_python(self._items[engine_key])

    def __contains__(self, key: Any) -> Any:
        # variant_types.py: ``def __contains__(self, key): self.has(key)`` (no return)
        self.has(key)


class PackedByteArray:
    """``godot.PackedByteArray``, not a bytes-like class: ``len``, bounded ``[i]``,
    ``size()``, ``resize()``, ``hex_encode()`` (an engine method: returns ``str``); its buffer
    protocol depends on the build (:func:`_configure`). Built from None, a PackedByteArray
    or a sequence of ints (``bytes`` included), element by element (``make_copy.h``)."""

    def __init__(self, source: Any = None) -> None:
        if source is None:
            self._data = bytearray()
        elif isinstance(source, PackedByteArray):
            self._data = bytearray(source._data)
        elif isinstance(source, (builtins.str, dict)) or not isinstance(
            source, collections.abc.Sequence
        ):
            raise TypeError(f"cannot convert {type(source).__name__} to PackedByteArray")
        else:
            self._data = bytearray(int(value) for value in source)

    def __len__(self) -> int:
        return len(self._data)

    def size(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> int:
        return self._data[_bounded_index(len(self._data), index)]

    def resize(self, size: int) -> int:
        del self._data[size:]
        self._data.extend(bytes(max(0, size - len(self._data))))
        return 0

    def hex_encode(self) -> str:
        return self._data.hex()

    def __repr__(self) -> str:
        return f"PackedByteArray({bytes(self._data)!r})"


def _standin_bytes(array: PackedByteArray) -> bytes:
    """Test helper, engine side: the contents (what the C++ side reads)."""
    return bytes(array._data)


def _recursing_buffer(self: PackedByteArray, flags: int) -> memoryview:
    # 83661eb lib/godot/_internal/variant_types.py (since 0e6be29), attached with swap_members:
    # ``__buffer__ = lambda self, flags: memoryview(bytes(self))``; bytes(self) asks for the
    # buffer again, so bytes() and memoryview() end in RecursionError.
    return memoryview(bytes(self))


def _copy_buffer(self: PackedByteArray, flags: int) -> memoryview:
    # d01a302 src/variant/buffer_traits.h (variant_get_buffer): a read-only view of a
    # copy-on-write copy, valid whatever happens to the array afterwards.
    return memoryview(bytes(self._data))


def _writable_memoryview(array: PackedByteArray) -> memoryview:
    """d01a302 ``godot.writable_memoryview`` (lib/godot/__init__.py): a live writable view."""
    return memoryview(array._data)


class _PEP688Memoryview(type):
    """``memoryview`` on CPython < 3.12, which ignores a Python-level ``__buffer__``:
    calls it as CPython 3.12 (the interpreter the runtime embeds) does (PEP 688)."""

    def __call__(cls, obj: Any) -> Any:
        buffer = getattr(type(obj), "__buffer__", None)
        if buffer is not None:
            return buffer(obj, 0)
        return _REAL_MEMORYVIEW(obj)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _REAL_MEMORYVIEW)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _REAL_MEMORYVIEW)


_REAL_MEMORYVIEW = builtins.memoryview
_NEEDS_PEP688 = sys.version_info < (3, 12)


class _MemoryviewPolyfill(metaclass=_PEP688Memoryview):
    pass


def _buffer_bytes(self: PackedByteArray) -> bytes:
    # CPython < 3.12: bytes() of an object with a Python-level __buffer__, as in 3.12.
    return bytes(memoryview(self))


def _configure(build: str = BUFFER_PROTOCOL, engine_version: tuple[int, int, int] = (4, 3, 0)):
    """Model ``build`` (one of :data:`BUILDS`) and the Godot version. Call once per load of
    the stand-in, before importing an adapter (which picks its byte conversion at import):
    registering Dictionary as a Mapping cannot be undone."""
    global BUILD, ENGINE_VERSION, _configured
    if build not in BUILDS:
        raise ValueError(f"unknown build {build!r}")
    if _configured:
        raise RuntimeError("the maiself stand-in is configured once per load")
    _configured = True
    BUILD = build
    ENGINE_VERSION = engine_version
    if build == ALPHA_2023:
        # The alpha's embedded variant_types.py has no __buffer__, no Mapping registration
        # and no String.__len__ (len() raises TypeError, an empty String is truthy).
        return
    collections.abc.Mapping.register(Dictionary)  # variant_types.py, since 0e6be29
    Dictionary.items = lambda self: ((key, self[key]) for key in self.keys())  # type: ignore[attr-defined]
    PackedByteArray.__buffer__ = (  # type: ignore[attr-defined]
        _recursing_buffer if build == RECURSING_BUFFER else _copy_buffer
    )
    if _NEEDS_PEP688:
        PackedByteArray.__bytes__ = _buffer_bytes  # type: ignore[attr-defined]
        builtins.memoryview = _MemoryviewPolyfill  # type: ignore[misc]
    if build == BUFFER_PROTOCOL:
        String.__len__ = String.length  # type: ignore[attr-defined]  # variant_types.py, d01a302
        sys.modules[__name__].writable_memoryview = _writable_memoryview  # type: ignore[attr-defined]


_configured = False


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


class _BoundSignal:
    def __init__(self, owner: Object, name: str) -> None:
        self._owner = owner
        self._name = name

    def emit(self, *args: Any) -> None:
        self._owner.emit_signal(self._name, *args)

    def connect(self, callback: Callable[..., Any]) -> Error:
        return self._owner.connect(self._name, callback)


class signal:
    """A class attribute; on an instance, a Signal with ``emit`` and ``connect``
    (registered without argument info: extension_classes.py)."""

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
    "Engine",
}


def _exposed_methods(cls: type) -> list[str]:
    # lib/godot/_internal/exposition.py: every function of the class body; keyword-only
    # parameters are refused.
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
    if name in _ENGINE_CLASSES or name in class_db:
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


def load_pyextensions(working_directory: Path) -> None:
    """SCENE initialisation: import the package each ``*.pyextension`` names.

    ``lib/godot/_internal/__init__.py`` (initialize, d01a302) globs ``pathlib.Path()``, the
    process working directory, and parses the file line by line exactly like this; the
    stand-in takes the directory as an argument instead of changing the process's. The
    import goes through the ``res://`` importer (here: sys.path). ``initialize`` runs inside
    ``CATCH_FATAL_EXCEPTIONS_PRINT_ERRORS_AND_ABORT`` (``src/extension/extension.cpp``), so
    any exception aborts the engine.
    """
    for ext_path in Path(working_directory).glob("*.pyextension"):
        text = ext_path.read_text()
        if "python_path" not in text and "python_package" not in text:
            continue
        for line in text.splitlines():
            if line.startswith("python_package"):
                python_package = line.split("=")[1].strip()[1:-1]
                try:
                    importlib.import_module(python_package)
                except Exception as exc:
                    printerr(traceback.format_exc())
                    note = f"While importing extension package {python_package!r}"
                    raise StandinAbort(note) from exc


# ------------------------------------------------------------------------------ objects


class Object:
    """Object wrapper with engine-side connections. The runtime's ``Object.__new__``
    already binds the engine object (``type_bind.py``), so an ``__init__`` override need
    not call the base one [inferred]: not modelled, the adapters override none."""

    _gd_expose_all_methods = False

    def __init_subclass__(cls, expose_all_methods: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._gd_expose_all_methods = expose_all_methods

    def __init__(self) -> None:
        self.__dict__["_gd_connections"] = {}
        self.__dict__["_gd_script"] = None

    def call(self, name: Any, *args: Any) -> Any:
        return getattr(self, builtins.str(name))(*args)

    def has_method(self, name: Any) -> bool:
        name = builtins.str(name)
        return name in getattr(type(self), "_gd_methods", ()) or callable(
            getattr(type(self), name, None)
        )

    def connect(self, signal_name: Any, callback: Callable[..., Any], flags: int = 0) -> Error:
        self._gd_connections.setdefault(builtins.str(signal_name), []).append(callback)
        return Error.OK

    def emit_signal(self, signal_name: Any, *args: Any) -> Error:
        signal_name = builtins.str(signal_name)
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


class _Engine(Object):
    """The ``Engine`` singleton (``godot.Engine`` binds it lazily: module_machinery.py)."""

    def get_version_info(self) -> Dictionary:
        major, minor, patch = ENGINE_VERSION
        return Dictionary(
            {
                "major": major,
                "minor": minor,
                "patch": patch,
                "hex": (major << 16) | (minor << 8) | patch,
                "status": "stable",
                "build": "standin",
                "string": f"{major}.{minor}.{patch}.stable.standin",
            }
        )


Engine = _Engine()


# ------------------------------------------------------------------------ engine classes


def _text_argument(value: Any) -> str:
    # Engine methods taking a String accept str, String and StringName (implicit casts).
    if not isinstance(value, (builtins.str, String, StringName)):
        raise TypeError(f"expected a String, got {type(value).__name__}")
    return builtins.str(value)


class PacketPeerUDP(RefCounted):
    """Godot 4's PacketPeerUDP on a real socket; engine methods return ``str`` for a String
    (method_bind.py: implicit casts on engine method returns)."""

    def __init__(self, _peer: _SocketPeer | None = None) -> None:
        super().__init__()
        self._sock = _peer if _peer is not None else _SocketPeer()

    def bind(self, port: int, bind_address: Any = "*", recv_buf_size: int = 65536) -> Error:
        return Error(self._sock.bind(port, _text_argument(bind_address), recv_buf_size))

    def is_bound(self) -> bool:
        return self._sock.is_bound()

    def connect_to_host(self, host: Any, port: int) -> Error:
        return Error(self._sock.connect_to_host(_text_argument(host), port))

    def is_socket_connected(self) -> bool:
        return self._sock.is_socket_connected()

    def set_dest_address(self, host: Any, port: int) -> Error:
        return Error(self._sock.set_dest_address(_text_argument(host), port))

    def put_packet(self, buffer: Any) -> Error:
        # A PackedByteArray parameter takes a PackedByteArray or any sequence of ints.
        array = buffer if isinstance(buffer, PackedByteArray) else PackedByteArray(buffer)
        return Error(self._sock.put_packet(bytes(array._data)))

    def get_packet(self) -> PackedByteArray:
        array = PackedByteArray()
        array._data = bytearray(self._sock.get_packet())
        return array

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

    def listen(self, port: int, bind_address: Any = "*") -> Error:
        return Error(self._server.listen(port, _text_argument(bind_address)))

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

    def load_from_string(self, string: Any) -> Error:
        return Error(self._certificate.load_from_string(_text_argument(string)))

    def save_to_string(self) -> str:
        return self._certificate.save_to_string()


class CryptoKey(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        self._key = _Key()

    def load_from_string(self, string_key: Any, public_only: bool = False) -> Error:
        return Error(self._key.load_from_string(_text_argument(string_key), public_only))

    def save_to_string(self, public_only: bool = False) -> str:
        return self._key.save_to_string(public_only)


# ------------------------------------------------------------------------- test helpers


def _gd_new(cls: type) -> Any:
    """``PyX.new()`` for an extension class: ``create_instance_func = cls``
    (extension_classes.py), so ``__init__`` runs."""
    if not getattr(cls, "_gd_extension", False) or class_db.get(cls.__name__) is not cls:
        raise TypeError(f"{cls!r} is not a registered extension class")
    return cls()


def _from_gdscript(value: Any) -> Any:
    """A GDScript value as a script method receives it: a Variant call gives no cast info
    (``src/casting/cast_args.h`` → ``make_copy.h``), so String is ``godot.String``, a
    Dictionary or Array literal an engine container; objects are their one wrapper."""
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("GDScript cannot pass bytes: use a PackedByteArray")
    return _to_python(_to_engine(value))


_CONVERTIBLE = (
    type(None),
    bool,
    int,
    float,
    builtins.str,
    String,
    StringName,
    PackedByteArray,
    PackedStringArray,
    Array,
    Dictionary,
    Object,
)


def _gd_call(obj: Any, name: str, *args: Any) -> CallResult:
    """Call a method of an extension class the way Godot does (Variant call,
    ``src/module/class_method_info.cpp``): an exception prints its traceback and reports
    INVALID_METHOD; the return is converted to a Variant (``make_copy.h``: bytes, list and
    tuple become an Array, dict a Dictionary, an IntEnum an int); a String comes back to
    GDScript, which the test sees as ``str``."""
    if name not in getattr(type(obj), "_gd_methods", ()):
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    converted = [_from_gdscript(arg) for arg in args]
    try:
        result = getattr(obj, name)(*converted)
    except NotImplementedError:
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    except Exception:
        push_error(traceback.format_exc())
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    if not isinstance(result, _CONVERTIBLE) and not isinstance(
        result, (enum.Enum, bytes, list, tuple, dict)
    ):
        push_error(f"cannot convert {type(result).__name__} to a Variant")
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    engine_value = _to_engine(result)
    return CallResult(
        builtins.str(engine_value) if isinstance(engine_value, StringName) else engine_value,
        CallError.CALL_OK,
    )
