"""Core (builtin) types: PackedByteArray, Array, Dictionary, StringName."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List


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

    def to_list(self) -> List[int]:
        return list(self._data)

    def size(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> int:
        return self._data[index]


class Array:
    def __init__(self) -> None:
        self._items: List[Any] = []

    @staticmethod
    def new0() -> Array:
        return Array()

    @staticmethod
    def _from_list(items: List[Any]) -> Array:
        array = Array()
        array._items = list(items)
        return array

    def size(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]


class Dictionary:
    def __init__(self) -> None:
        self._items: Dict[Any, Any] = {}

    @staticmethod
    def new0() -> Dictionary:
        return Dictionary()

    @staticmethod
    def _from_dict(items: Dict[Any, Any]) -> Dictionary:
        dictionary = Dictionary()
        dictionary._items = dict(items)
        return dictionary

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


core_classes = (PackedByteArray, Array, Dictionary, StringName)
