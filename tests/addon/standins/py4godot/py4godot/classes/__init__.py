"""``gdclass`` / ``gdtool``: the class named like the file being loaded is the script.

As ``py4godot/pluginscript_api/utils/annotations.pyx`` (d8e17428): while a script file is
executed, ``class_name`` is its file stem; ``@gdclass`` on a class of another name returns
it unregistered, silently; a second matching class raises. :func:`py4godot.load_script`
sets the loading state, as ``exec_class`` does.
"""

from __future__ import annotations

import inspect
from typing import Any

_SIMPLE_TYPES = (int, float, str, bool)
#: res:// path → the registered class, for every script loaded.
_scripts: dict[str, type | None] = {}
#: The file being loaded: {"class_name": stem, "gd_class": class or None}.
_loading: dict[str, Any] = {}


def registered_scripts() -> list[type]:
    return [cls for cls in _scripts.values() if cls is not None]


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

    if cls.__name__ != _loading.get("class_name"):
        return cls
    if _loading.get("gd_class") is not None:
        raise Exception(
            "More than one class was marked as gd_class or gd_tool_class in one file "
            f"({_loading['class_name']}, {_loading['gd_class']}, {cls})"
        )
    cls._py4godot_tool = tool
    cls._py4godot_icon = icon
    cls._py4godot_signals = pending_signals.pop(cls.__module__, [])
    # Stricter than the runtime, which calls any attribute getattr finds
    # (PyScriptInstance.pyx is_overridden): only the class's own functions are callable.
    cls._py4godot_methods = [
        name
        for name, function in inspect.getmembers(cls, predicate=inspect.isfunction)
        if not getattr(function, "_py4godot_private", False)
        and not function.__module__.startswith(__name__)
    ]
    cls._py4godot_properties = _exported_properties(cls)
    _loading["gd_class"] = cls
    return cls


def gdclass(cls: type | None = None, icon: Any = None) -> Any:
    if cls is not None:
        return _register(cls, False, icon)
    return lambda cls: _register(cls, False, icon)


def gdtool(cls: type | None = None, icon: Any = None) -> Any:
    if cls is not None:
        return _register(cls, True, icon)
    return lambda cls: _register(cls, True, icon)
