"""Stand-in for py4godot, for the adapter tests only; never shipped.

Modelled on niklas2902/py4godot at d8e17428 (tag 4.7-alpha21); each behaviour names the
upstream file it comes from. What the adapters rely on, modelled as the runtime does it:

- :func:`load_script`: a script ``res://a/b.py`` is executed from the relative file
  ``a/b.py`` as module ``a.b`` computed with ``.replace(".py", "")``, which also eats
  ``.py`` at the start of a folder name (``annotations.pyx`` exec_class / load_module);
  the working directory is on ``sys.path``; an exception is logged and leaves no class.
- :func:`_gd_new`: ``instantiate_class`` (``script_extension_helpers.pyx``): ``cls()``
  with object creation off, then the engine object is attached; a failed script gives a
  plain ``Object``; every instance is appended to :data:`instantiated_classes` and never
  removed (the instance free callback is empty: ``script_instance/instance.h``).
- :func:`_gd_call`: ``instance_call`` (``PyScriptInstance.pyx``): String arguments are
  ``str``, objects new wrappers holding no reference; an exception is logged with
  ``print_error`` and GDScript gets null with *no* call error; a return value is
  converted by its exact type name.
- :func:`_gd_drop`: GDScript lets go of its reference; a RefCounted object is freed at
  zero and any later use through a wrapper raises :class:`StandinUseAfterFree`.
- ``classes.core``: Array, Dictionary, PackedStringArray, PackedByteArray as generated.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NamedTuple

#: script_extension_helpers.pyx: every script instance ever made, never removed.
instantiated_classes: list[Any] = []
#: Every use of a freed engine object (the runtime would crash).
use_after_free: list[str] = []


class StandinUseAfterFree(BaseException):
    """A call through a wrapper whose engine object was freed: a crash in the runtime; a
    BaseException so that no ``except Exception`` in the code under test can hide it."""


class CallError(enum.IntEnum):
    CALL_OK = 0
    CALL_ERROR_INVALID_METHOD = 1


class CallResult(NamedTuple):
    value: Any
    error: CallError


_SIMPLE = (type(None), bool, int, float, str)


def script_module_name(res_path: str) -> str:
    """annotations.pyx exec_class: the module name py4godot gives a script."""
    return res_path.replace("res://", "").replace("/", ".").replace(".py", "").replace("\\", ".")


def load_script(res_path: str, project_dir: Path) -> type | None:
    """Load a script as the editor or a game does (the working directory is the project
    folder, and on ``sys.path``): the class registered by ``@gdclass``, or None when the
    file raised (the error is logged) or has no class named like the file."""
    from .classes import _loading, _scripts
    from .utils.print_tools import print_error

    class_name = res_path.split("/")[-1].replace(".py", "")
    module_name = script_module_name(res_path)
    file_to_load = res_path.replace("res://", "")
    if str(project_dir) not in sys.path:
        sys.path.append(str(project_dir))
    _loading.clear()
    _loading.update(class_name=class_name, gd_class=None)
    previous = os.getcwd()
    os.chdir(project_dir)
    try:
        sys.modules.pop(module_name, None)
        spec = importlib.util.spec_from_file_location(module_name, file_to_load)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"Cannot find the module file: {file_to_load}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    except Exception:
        print_error(f"exec_class: Exception happened: {traceback.format_exc()}")
        _loading["gd_class"] = None
    finally:
        os.chdir(previous)
    _scripts[res_path] = _loading["gd_class"]
    return _loading["gd_class"]


def _gd_new(cls: type | None) -> Any:
    """``RefCounted.new()`` + ``set_script(load(...))``, as ``instantiate_class``."""
    from .classes import Object as object_module
    from .classes import registered_scripts
    from .classes.Object import Object, _BoundSignal

    if cls is None:
        instance: Any = Object()
    else:
        if cls not in registered_scripts():
            raise TypeError(f"{cls!r} is not a loaded script class")
        object_module.should_create_object = False
        try:
            instance = cls()
        finally:
            object_module.should_create_object = True
        Object._attach(instance)
        for name, arguments in cls._py4godot_signals:
            instance.__dict__[name] = _BoundSignal(instance, name, len(arguments))
    instantiated_classes.append(instance)
    return instance


def _argument(value: Any) -> Any:
    from .classes.core import Array, Dictionary
    from .classes.Object import Object, native_class

    if isinstance(value, (bytes, bytearray)):
        raise TypeError("GDScript cannot pass bytes: use a PackedByteArray")
    if isinstance(value, dict):
        return Dictionary._from_gdscript(value)
    if isinstance(value, (list, tuple)):
        return Array._from_gdscript(list(value))
    if isinstance(value, Object):
        return native_class(value).cast_without_reference(value)
    return value


def _gd_call(obj: Any, name: str, *args: Any) -> CallResult:
    """Call a script method as ``instance_call`` does."""
    from .classes.core import core_classes
    from .classes.Object import Object
    from .utils.print_tools import print_error

    if name not in getattr(type(obj), "_py4godot_methods", ()):
        return CallResult(None, CallError.CALL_ERROR_INVALID_METHOD)
    converted = [_argument(arg) for arg in args]
    try:
        result = getattr(obj, name)(*converted)
    except Exception:
        print_error(traceback.format_exc())
        return CallResult(None, CallError.CALL_OK)
    if type(result) in _SIMPLE or isinstance(result, (*core_classes, Object)):
        return CallResult(result, CallError.CALL_OK)
    # Variant.cpp init_from_py_object: any other type name reaches construct_Object and a
    # null dereference; the stand-in fails loudly instead.
    raise TypeError(f"py4godot cannot return a {type(result).__name__} to Godot")


def _gd_drop(obj: Any) -> None:
    """GDScript lets go of its reference to ``obj`` (its variable goes out of scope)."""
    obj._live().unreference()
