"""Core (builtin) types as py4godot 4.7-alpha21 (d8e17428) generates them.

The ``core`` module is generated at build time by
``generation_files/generate_py_classes.py`` (Python side) and
``generation_files/generate_classes_cpp.py`` (C++ side); each class below names the
generator function it follows. Engine-side values are plain Python here (a String is a
``str``, a held object an :class:`_Held`); what Python gets back when reading them is
what the runtime returns.
"""

from __future__ import annotations

from typing import Any, Iterable


def _engine_error(text: str) -> None:
    from ..functions import messages

    messages.append(("engine_error", text))


class String:
    """``core.String``: a generated class, not a ``str`` subclass; ``__str__`` converts
    (``generate_str_method``)."""

    def __init__(self, text: str = "") -> None:
        self._text = str(text)

    def __str__(self) -> str:
        return self._text


class StringName:
    """``core.StringName``: what a StringName argument arrives as; ``__str__`` converts."""

    def __init__(self, text: str = "") -> None:
        self._text = str(text)

    def __str__(self) -> str:
        return self._text


class _Held:
    """An Object stored in a Variant (an Array item, a Dictionary value): the Variant holds
    a real reference on a RefCounted object (Godot's ``Variant(Object*)``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        if engine.refcounted:
            engine.reference()

    def release(self) -> None:
        if self.engine.refcounted:
            self.engine.unreference()


_SIMPLE_NAMES = ("NoneType", "bool", "int", "float", "str")


def _to_engine(value: Any) -> Any:
    """A Python value stored into a Variant, converted by its exact type name (as
    ``Variant::init_from_py_object``, ``py4godot/cppcore/Variant.cpp``); anything else is
    refused."""
    from .Object import Object

    if type(value).__name__ in _SIMPLE_NAMES:
        return value
    if isinstance(value, String):
        return str(value)
    if isinstance(value, Object):
        return _Held(value._live())
    if isinstance(value, core_classes):
        return value
    raise TypeError(f"py4godot cannot store a {type(value).__name__} in a Variant")


def _to_python(value: Any) -> Any:
    """A Variant read back (``get_converted_value(true)``): String → ``str``, StringName →
    ``core.StringName``, an Object → a new wrapper of its class holding no reference."""
    from .Object import Object

    if isinstance(value, StringName):
        return StringName(str(value))
    if isinstance(value, _Held):
        wrapper = Object.__new__(_class_named(value.engine.class_name))
        wrapper.__dict__["casted_from"] = 1
        wrapper.__dict__["_engine"] = value.engine
        return wrapper
    return value


def _class_named(name: str) -> type:
    import importlib

    from .Object import Object

    try:
        return getattr(importlib.import_module(f"{__package__}.{name}"), name)
    except (ImportError, AttributeError):
        return Object


def _from_gdscript(value: Any) -> Any:
    """Test helper: a GDScript value inside a literal, engine side (nested dict/list →
    core containers, objects held)."""
    if isinstance(value, dict):
        return Dictionary._from_gdscript(value)
    if isinstance(value, (list, tuple)):
        return Array._from_gdscript(list(value))
    return _to_engine(value)


def _index_check(size: int, index: int) -> int:
    # generate_index_check: IndexError out of range, negative indices counted from the end
    if index >= size or index < -size:
        raise IndexError(f"index '{index}' out of range")
    return index + size if index < 0 else index


class PackedByteArray:
    """``core.PackedByteArray`` (``generate_special_methods_packed_array``): no buffer
    protocol; ``get_memory_view()`` is a live writable view (``view.obj = NULL``: it does
    not keep the array alive, which Python cannot model), ``from_memory_view()`` never
    releases the buffer it gets (``PyObject_GetBuffer`` without ``PyBuffer_Release``,
    generate_classes_cpp.py), ``resize`` is the engine's builtin method."""

    def __init__(self) -> None:
        self._data = bytearray()

    @staticmethod
    def new0() -> PackedByteArray:
        return PackedByteArray()

    @staticmethod
    def _engine_copy(data: bytes) -> PackedByteArray:
        array = PackedByteArray()
        array._data[:] = data
        return array

    @staticmethod
    def from_list(values: Iterable[int]) -> PackedByteArray:
        return PackedByteArray._engine_copy(bytes(values))  # one push_back per value

    @staticmethod
    def from_memory_view(view: Any) -> PackedByteArray:
        exported = memoryview(view)
        leaked_buffers.append(exported)  # the export is never released: a leak per call
        return PackedByteArray._engine_copy(bytes(exported))

    def get_memory_view(self) -> memoryview:
        if not self._data:
            # packed_byte_array_operator_index(p, 0) on an empty array [inferred]
            _engine_error("Index p_index = 0 is out of bounds (size() = 0).")
            return memoryview(bytearray())
        return memoryview(self._data)

    def to_list(self) -> list[int]:
        return list(self.get_memory_view())

    def resize(self, size: int) -> int:
        del self._data[size:]
        self._data.extend(bytes(max(0, size - len(self._data))))
        return 0

    def size(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> int:
        return self._data[_index_check(len(self._data), index)]


#: Every buffer export ``from_memory_view`` took and never gave back.
leaked_buffers: list[memoryview] = []


class Array:
    """``core.Array`` (``generate_array_get_item``, ``generate_iter_array``,
    ``generate_next_array``): ``[i]`` checks the index and returns None (the generator
    returns before building a value for ``Array``), iteration yields None ``size()`` times
    with the position stored on the array itself; ``get(i)`` is the builtin method and
    returns the value. ``append`` stores by exact type name; ``clear`` drops what it held."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._index = 0

    @staticmethod
    def new0() -> Array:
        return Array()

    @staticmethod
    def _from_gdscript(items: list[Any]) -> Array:
        array = Array()
        array._items = [_from_gdscript(item) for item in items]
        return array

    def append(self, value: Any) -> None:
        self._items.append(_to_engine(value))

    push_back = append

    def get(self, index: int) -> Any:
        if not 0 <= index < len(self._items):
            _engine_error(f"Index p_index = {index} is out of bounds (size = {len(self._items)}).")
            return None
        return _to_python(self._items[index])

    def clear(self) -> None:
        items, self._items = self._items, []
        for item in items:
            if isinstance(item, _Held):
                item.release()

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        _index_check(len(self._items), index)
        return None

    def __iter__(self) -> Array:
        self._index = 0
        return self

    def __next__(self) -> Any:
        if self._index >= self.size():
            raise StopIteration()
        value = self[self._index]
        self._index += 1
        return value


class PackedStringArray:
    """``core.PackedStringArray``: ``[i]`` and iteration give a ``core.String``
    (``generate_array_get_item``: ``String.construct_without_init()``); ``get(i)`` returns
    ``str`` (``generate_return_statement``: ``gd_string_to_py_string``)."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index = 0

    @staticmethod
    def new0() -> PackedStringArray:
        return PackedStringArray()

    @staticmethod
    def _from_gdscript(items: Iterable[str]) -> PackedStringArray:
        array = PackedStringArray()
        array._items = [str(item) for item in items]
        return array

    def append(self, value: Any) -> None:
        assert isinstance(value, (str, String)), "value must be str or String"
        self._items.append(str(value))

    def get(self, index: int) -> Any:
        if not 0 <= index < len(self._items):
            _engine_error(f"Index p_index = {index} is out of bounds (size = {len(self._items)}).")
            return ""
        return self._items[index]

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> String:
        return String(self._items[_index_check(len(self._items), index)])

    def __iter__(self) -> PackedStringArray:
        self._index = 0
        return self

    def __next__(self) -> String:
        if self._index >= self.size():
            raise StopIteration()
        value = self[self._index]
        self._index += 1
        return value


class Dictionary:
    """``core.Dictionary`` (``generate_special_methods_dictionary``): only
    ``__setitem__``, ``__getitem__`` (KeyError when missing) and ``__len__``; no
    ``__contains__`` or ``__iter__``, so ``key in d`` and ``for k in d`` call ``d[0]`` and
    raise KeyError. The builtin methods ``get(key, default)``, ``has``, ``keys()``,
    ``values()`` and ``size()`` work; ``keys()`` is a ``core.Array``."""

    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}

    @staticmethod
    def new0() -> Dictionary:
        return Dictionary()

    @staticmethod
    def _from_gdscript(items: dict[Any, Any]) -> Dictionary:
        dictionary = Dictionary()
        dictionary._items = {
            _from_gdscript(key): _from_gdscript(value) for key, value in items.items()
        }
        return dictionary

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[_to_engine(key)] = _to_engine(value)

    def __getitem__(self, key: Any) -> Any:
        if not self.has(key):
            raise KeyError(f"Key '{key}' not found")
        return _to_python(self._items[_to_engine(key)])

    def get(self, key: Any, default: Any = None) -> Any:
        engine_key = _to_engine(key)
        if engine_key in self._items:
            return _to_python(self._items[engine_key])
        return default

    def has(self, key: Any) -> bool:
        return _to_engine(key) in self._items

    def keys(self) -> Array:
        array = Array()
        array._items = list(self._items)
        return array

    def values(self) -> Array:
        array = Array()
        array._items = list(self._items.values())
        return array

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)


core_classes = (PackedByteArray, PackedStringArray, Array, Dictionary, String, StringName)
