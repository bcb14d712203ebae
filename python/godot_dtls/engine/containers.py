"""How the glue reads a runtime's Dictionary and Array: only with operations that work there.

Why it exists: the Python runtimes for Godot make ``in``, iteration and ``[]`` on their
engine containers behave in ways that are wrong or dangerous, each differently:

- godot-python-extension (maiself, d01a302): ``key in dictionary`` is always False
  (``Dictionary.__contains__`` returns nothing, ``lib/godot/_internal/variant_types.py``),
  iterating a Dictionary never ends, and ``dictionary[missing]`` reads through a null
  pointer on release export templates (Godot ``variant_setget.cpp``, keyed ``ptr_get``).
- py4godot (4.7-alpha21): ``array[i]`` and iteration over an ``Array`` give ``None``
  (``generation_files/generate_py_classes.py``, ``generate_array_get_item``), and ``in`` /
  iteration over a ``Dictionary`` raise KeyError.
- godot-python 0.50 (Godot 3): its PoolStringArray has no ``size()`` visible from Python.

A :class:`Containers` names the operations one runtime supports; each adapter picks one of
the two below in its :class:`~godot_dtls.engine.runtime.Runtime`. Plain Python ``dict``,
``list`` and ``tuple`` values (tests, scripts calling the glue directly) are read as Python
values by the Runtime, never through these.
"""

from __future__ import annotations

from typing import Any, Callable


class Containers:
    """The four reads the glue makes on a runtime's engine containers.

    ``count(array)`` and ``item(array, index)`` (0 <= index < count) read an Array or a
    Packed*Array; ``value(dictionary, key)`` is the value of ``key`` or None when absent
    (Godot's builtin ``Dictionary.get(key, default)``, which reports no error for a missing
    key); ``keys(dictionary)`` is the engine Array of its keys.
    """

    __slots__ = ("count", "item", "keys", "name", "value")

    def __init__(
        self,
        name: str,
        count: Callable[[Any], int],
        item: Callable[[Any, int], Any],
        value: Callable[[Any, Any], Any],
        keys: Callable[[Any], Any],
    ) -> None:
        self.name = name
        self.count = count
        self.item = item
        self.value = value
        self.keys = keys

    def __repr__(self) -> str:
        return f"<Containers {self.name}>"


def _dictionary_value(dictionary: Any, key: Any) -> Any:
    return dictionary.get(key, None)


def _dictionary_keys(dictionary: Any) -> Any:
    return dictionary.keys()


#: ``len(array)`` and ``array[index]`` inside the bounds: godot-python 0.50 (Pool arrays have
#: no Python-visible ``size()``) and godot-python-extension, whose ``__getitem__`` checks the
#: index against ``len`` before calling the engine's indexed getter
#: (``lib/godot/_internal/method_bind.py``, d01a302; only negative indices are wrong there).
READ_BY_INDEX = Containers(
    "len and [index]",
    count=len,
    item=lambda array, index: array[index],
    value=_dictionary_value,
    keys=_dictionary_keys,
)

#: ``array.size()`` and ``array.get(index)``: py4godot, whose ``Array.__getitem__`` returns
#: None and whose own tests read arrays with ``get`` (``tests/binding/binding/PythonTest.py``,
#: d8e17428); ``get`` is a builtin method of Array and the Packed arrays in every Godot the
#: supported py4godot releases load in (4.4 and newer).
READ_BY_GETTERS = Containers(
    "size() and get(index)",
    count=lambda array: int(array.size()),
    item=lambda array, index: array.get(index),
    value=_dictionary_value,
    keys=_dictionary_keys,
)


def is_engine_dictionary(value: Any) -> bool:
    """A runtime's Dictionary, told by class name: each runtime has its own class."""
    return type(value).__name__ == "Dictionary"


def is_engine_array(value: Any) -> bool:
    """A runtime's Array, typed Array or PackedStringArray (PoolStringArray), by class name.

    A String or a byte array also supports ``[]`` and must not be read as a list of names.
    """
    name = type(value).__name__
    return (
        name == "Array" or name.startswith("Array[") or name.endswith(("StringArray", "TypedArray"))
    )
