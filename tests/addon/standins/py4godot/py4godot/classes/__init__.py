"""``gdclass`` / ``gdtool``: one registered class per module, named like its file."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

_registry: dict[str, type] = {}
_SIMPLE_TYPES = (int, float, str, bool)


def registered_class(module_name: str) -> type | None:
    return _registry.get(module_name)


def _exported_properties(cls: type) -> list[str]:
    """Class attributes py4godot would export (not ``_x``, not ALL CAPS, simple value)."""
    from .core import core_classes
    from .Object import Object

    names = []
    hints = getattr(cls, "__annotations__", {})
    for name, value in vars(cls).items():
        if name.startswith("_") or name.isupper() or callable(value):
            continue
        if isinstance(value, (*_SIMPLE_TYPES, *core_classes, Object)) or name in hints:
            names.append(name)
    return names


def _register(cls: type, tool: bool, icon: Any) -> type:
    from ..signals import pending_signals

    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None) or cls.__module__.replace(".", "/")
    stem = os.path.splitext(os.path.basename(path))[0]
    if cls.__name__ != stem:
        raise ValueError(
            f"py4godot registers a class only if its name equals the file stem: "
            f"{cls.__name__!r} in {stem}.py"
        )
    if cls.__module__ in _registry:
        raise Exception(f"More than one class was marked as gd_class in {cls.__module__}")
    cls._py4godot_tool = tool
    cls._py4godot_icon = icon
    cls._py4godot_signals = pending_signals.pop(cls.__module__, [])
    cls._py4godot_methods = [
        name
        for name, function in inspect.getmembers(cls, predicate=inspect.isfunction)
        if not getattr(function, "_py4godot_private", False)
        and not function.__module__.startswith(__name__)
    ]
    cls._py4godot_properties = _exported_properties(cls)
    _registry[cls.__module__] = cls
    return cls


def gdclass(cls: type | None = None, icon: Any = None) -> Any:
    if cls is not None:
        return _register(cls, False, icon)
    return lambda cls: _register(cls, False, icon)


def gdtool(cls: type | None = None, icon: Any = None) -> Any:
    if cls is not None:
        return _register(cls, True, icon)
    return lambda cls: _register(cls, True, icon)
