"""Exposing a class to godot-python 0.50 so that its script loads however often.

godot-python imports ``res://a/b.py`` as module ``a.b`` and registers the class that
``@exposed`` marks. When the last Script resource of that path is freed (a scene change,
say), it unregisters the class but keeps the module in ``sys.modules``; the next load
then finds the module "already imported", ``@exposed`` never runs again, and the script
is refused ("doesn't expose any class to Godot", then "Nonexistent function 'new'").

:func:`expose` fixes that from the module's side, without patching the runtime:

- It gives the class an attribute that drops the module from ``sys.modules`` when
  godot-python reads it, which it does while building the script's manifest right after
  the import (it reads every name of ``dir(cls)``). So every later load of the path runs
  the module again and registers a fresh class. (A module cannot leave ``sys.modules``
  during its own import: importlib reads it back after executing it.)
- If a class of the module is still registered (a second Script resource for the same
  path is alive), ``exposed`` refuses a second one; godot-python then keeps using the
  registered class, whose instances work as before.

This module itself is imported once and stays. The script modules it serves are
re-executed at each load, so they hold no state: only the exposed class and its
``signal()`` declarations; the methods come from mixins imported once (see ``methods``).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable

from godot import Object, exposed

__all__ = ["expose"]


class _ForgetModuleWhenRead:
    """Class attribute: reading it from the class removes the module from sys.modules.

    Returns None (not a function), so godot-python does not list it as a script method.
    """

    __slots__ = ("module_name",)

    def __init__(self, module_name: str) -> None:
        self.module_name = module_name

    def __get__(self, instance: Any, owner: Any = None) -> None:
        if instance is None:
            module = sys.modules.get(self.module_name)
            spec = getattr(module, "__spec__", None)
            if module is not None and not getattr(spec, "_initializing", False):
                del sys.modules[self.module_name]
        return None


def expose(cls: Any = None, *, tool: bool = False) -> Any:
    """``@exposed`` for a script that must load again after every free (same arguments)."""

    def wrap(target: type) -> type:
        if not (isinstance(target, type) and issubclass(target, Object)):
            raise ValueError(f"{target!r} must inherit from a Godot class to be exposed")
        forget = _ForgetModuleWhenRead(target.__module__)
        target._godot_dtls_forget_module = forget  # type: ignore[attr-defined]
        # ValueError: a class of this module is still registered; godot-python uses it.
        with contextlib.suppress(ValueError):
            exposed(target, tool=tool)
        return target

    decorate: Callable[[type], type] = wrap
    return decorate(cls) if cls is not None else decorate
