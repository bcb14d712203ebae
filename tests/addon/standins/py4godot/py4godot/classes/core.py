"""Core (builtin) types: PackedByteArray, PackedStringArray, Array, Dictionary, StringName."""

from __future__ import annotations

from typing import Any, Iterable, Iterator


class PackedByteArray:
    def __init__(self) -> None:
        self._data = bytearray()

    @staticmethod
    def new0() -> PackedByteArray:
        return PackedByteArray()

    @staticmethod
    def _from_bytes(data: bytes) -> PackedByteArray:
        array = PackedByteArray()
        array._data[:] = data
        return array

    @staticmethod
    def from_list(values: Iterable[int]) -> PackedByteArray:
        return PackedByteArray._from_bytes(bytes(values))

    @staticmethod
    def from_memory_view(view: Any) -> PackedByteArray:
        """A copy of a contiguous buffer (PyObject_GetBuffer in the runtime)."""
        return PackedByteArray._from_bytes(bytes(memoryview(view)))

    def get_memory_view(self) -> memoryview:
        """A live view of the array's memory."""
        return memoryview(self._data)

    def to_list(self) -> list[int]:
        return list(self._data)

    def size(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> int:
        return self._data[index]


_SIMPLE_NAMES = ("NoneType", "bool", "int", "float", "str")


def _variant(value: Any) -> Any:
    """A Python value stored into an Array or Dictionary: converted by its exact type name
    (as py4godot's ``init_from_py_object``); anything else is refused."""
    from .Object import Object

    if type(value).__name__ in _SIMPLE_NAMES or isinstance(value, (*core_classes, Object)):
        return value
    raise TypeError(f"py4godot cannot store a {type(value).__name__} in a Variant")


def _from_python(value: Any) -> Any:
    """Test helper: a GDScript literal's value as it arrives (nested dict/list → core)."""
    if isinstance(value, dict):
        return Dictionary._from_dict(value)
    if isinstance(value, (list, tuple)):
        return Array._from_list(list(value))
    return value


class Array:
    def __init__(self) -> None:
        self._items: list[Any] = []

    @staticmethod
    def new0() -> Array:
        return Array()

    @staticmethod
    def _from_list(items: list[Any]) -> Array:
        array = Array()
        array._items = [_from_python(item) for item in items]
        return array

    def append(self, value: Any) -> None:
        self._items.append(_variant(value))

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))


class PackedStringArray:
    def __init__(self) -> None:
        self._items: list[str] = []

    @staticmethod
    def new0() -> PackedStringArray:
        return PackedStringArray()

    @staticmethod
    def _from_list(items: Iterable[str]) -> PackedStringArray:
        array = PackedStringArray()
        array._items = [str(item) for item in items]
        return array

    def append(self, value: str) -> None:
        assert isinstance(value, str)
        self._items.append(value)

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> str:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))


class Dictionary:
    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}

    @staticmethod
    def new0() -> Dictionary:
        return Dictionary()

    @staticmethod
    def _from_dict(items: dict[Any, Any]) -> Dictionary:
        dictionary = Dictionary()
        dictionary._items = {key: _from_python(value) for key, value in items.items()}
        return dictionary

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[_variant(key)] = _variant(value)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._items.get(key, default)

    def has(self, key: Any) -> bool:
        return key in self._items

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def keys(self) -> Array:
        return Array._from_list(list(self._items))

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)


class StringName:
    def __init__(self, text: str = "") -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text


core_classes = (PackedByteArray, PackedStringArray, Array, Dictionary, StringName)
