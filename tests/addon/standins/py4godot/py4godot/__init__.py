"""Stand-in for py4godot (Godot 4.3+), for the adapter tests only; never shipped.

Written from the runtime's documented API (shared/spec/python-runtimes.md §3 and its
"Stand-in contract" table). What it models, because the adapter must cope with it:

- ``@gdclass``: one class per module whose name must equal the file stem; every function
  is a script method unless ``@private``; class attributes that are neither ``_private``
  nor ALL CAPS and hold a simple value become exported properties.
- ``__init__`` runs before the engine object is attached (``cls()`` with object creation
  switched off, so ``super().__init__()`` makes none): engine calls in it fail.
- Signals from ``signal([SignalArg(...)])`` (name read from the assignment line) become
  instance attributes with ``emit`` once attached.
- ``PackedByteArray`` with ``get_memory_view()`` / ``from_memory_view()``; engine methods
  ``assert isinstance`` their arguments and return plain ints for enums.
- Core ``Array`` / ``Dictionary`` / ``PackedStringArray`` (nested in arguments too); a value
  stored with ``Array.append`` or ``dictionary[key] = value`` is converted by its exact type
  name, so only None/bool/int/float/str, core types and Objects can be stored.
- ``_gd_call(obj, name, *args)``: a call as the engine makes it: an exception is logged with
  ``print_error`` and the caller gets null with *no* call error; a return value is
  accepted only if its exact type is None/bool/int/float/str, a core type or an Object.
"""

from __future__ import annotations

import enum
import traceback
from typing import Any, NamedTuple


class CallError(enum.IntEnum):
    CALL_OK = 0
    CALL_ERROR_INVALID_METHOD = 1


class CallResult(NamedTuple):
    value: Any
    error: CallError


_SIMPLE = (type(None), bool, int, float, str)


def _gd_new(cls: type) -> Any:
    """``RefCounted.new()`` + ``set_script(load(...))``, as py4godot's instantiate_class:
    ``cls()`` with object creation switched off, then the engine object is attached."""
    from .classes import Object as object_module
    from .classes import registered_class
    from .classes.Object import Object, _BoundSignal

    if registered_class(cls.__module__) is not cls:
        raise TypeError(f"{cls!r} is not a registered @gdclass")
    object_module.should_create_object = False
    try:
        instance = cls()
    finally:
        object_module.should_create_object = True
    Object._attach(instance)
    for name, arguments in cls._py4godot_signals:
        instance.__dict__[name] = _BoundSignal(instance, name, len(arguments))
    return instance


def _gd_call(obj: Any, name: str, *args: Any) -> CallResult:
    """Call a script method as py4godot's call bridge does."""
    from .classes.core import _from_python, core_classes
    from .classes.Object import Object
    from .utils.print_tools import print_error

    if name not in getattr(type(obj), "_py4godot_methods", ()):
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    converted = []
    for arg in args:
        if isinstance(arg, (bytes, bytearray)):
            raise TypeError("GDScript cannot pass bytes: use a PackedByteArray")
        converted.append(_from_python(arg))
    try:
        result = getattr(obj, name)(*converted)
    except Exception:
        print_error(traceback.format_exc())
        return CallResult(None, CallError.CALL_OK)
    if type(result) in _SIMPLE or isinstance(result, (*core_classes, Object)):
        return CallResult(result, CallError.CALL_OK)
    raise TypeError(f"py4godot cannot return a {type(result).__name__} to Godot")
