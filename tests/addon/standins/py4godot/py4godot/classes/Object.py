"""``Object``: a Python wrapper of an engine object, which may outlive the object.

Modelled on py4godot d8e17428 (4.7-alpha21). The engine object is shared by every wrapper
of it; a RefCounted one is freed when its Godot reference count reaches zero, whatever
Python still holds. An argument arrives as a *new* wrapper of the object's native class
made by ``cast_without_reference`` (``generation_files/generate_cast_helpers.py`` and
``generate_py_classes.py``), marked ``casted_from = 1`` by ``instance_call``
(``py4godot/script_instance/PyScriptInstance.pyx``): it takes no reference and releases
none. A call through a wrapper of a freed object is a use after free: the runtime would
crash, the stand-in raises :class:`~py4godot.StandinUseAfterFree`.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

_ids = itertools.count(1)
#: py4godot.utils.utils.shouldCreateObject: False while py4godot instantiates a script
#: class, so the base ``__init__`` makes no engine object of its own then.
should_create_object = True


class EngineObject:
    """The Godot side of an object: its reference count, its native state and whether it
    was freed. ``payload`` holds the native state (a socket, ...); ``on_free`` closes it."""

    def __init__(self, class_name: str, refcounted: bool) -> None:
        self.class_name = class_name
        self.instance_id = next(_ids)
        self.refcounted = refcounted
        self.refcount = 1 if refcounted else 0  # the creator's Ref (a GDScript variable)
        self.freed = False
        self.payload: dict[str, Any] = {}
        self.connections: dict[str, list[Callable[..., Any]]] = {}
        self.on_free: list[Callable[[], Any]] = []

    def reference(self) -> None:
        self.refcount += 1

    def unreference(self) -> None:
        """A Ref going away: Godot frees a RefCounted object at zero."""
        self.refcount -= 1
        if self.refcounted and self.refcount <= 0:
            self.free()

    def free(self) -> None:
        if self.freed:
            return
        self.freed = True
        for close in self.on_free:
            close()


class _BoundSignal:
    """``self.status_changed``: ``emit(*args)`` with the declared number of arguments."""

    def __init__(self, owner: Object, name: str, arity: int) -> None:
        self._owner = owner
        self._name = name
        self._arity = arity

    def emit(self, *args: Any) -> None:
        if len(args) != self._arity:
            raise TypeError(f"signal {self._name} takes {self._arity} argument(s)")
        self._owner.emit_signal(self._name, *args)

    def connect(self, callback: Callable[..., Any], flags: int = 0) -> None:
        self._owner.connect(self._name, callback)


def native_class(obj: Any) -> type:
    """The engine class of a wrapper: the nearest base defined by py4godot, not a script."""
    for cls in type(obj).__mro__:
        if cls.__module__.startswith("py4godot.classes"):
            return cls
    return Object


class Object:
    def __init__(self) -> None:
        # The generated constructor: a new engine object, unless py4godot is attaching one.
        self.__dict__["casted_from"] = None
        if should_create_object:
            Object._attach(self)

    @classmethod
    def new(cls) -> Any:
        from . import registered_scripts

        if cls in registered_scripts():
            raise TypeError("a py4godot script class has no new(): use set_script()")
        instance = cls.__new__(cls)
        instance.__init__()
        return instance

    @staticmethod
    def _attach(instance: Any) -> None:
        from .RefCounted import RefCounted

        engine = EngineObject(native_class(instance).__name__, isinstance(instance, RefCounted))
        instance.__dict__["_engine"] = engine

    @classmethod
    def cast_without_reference(cls, other: Any) -> Any:
        """A new wrapper of ``other``'s engine object, without a reference of its own."""
        wrapper = cls.__new__(cls)
        wrapper.__dict__["casted_from"] = 1
        wrapper.__dict__["_engine"] = other._live()
        return wrapper

    def _live(self) -> EngineObject:
        from .. import StandinUseAfterFree, use_after_free

        engine = self.__dict__.get("_engine")
        if engine is None:
            raise RuntimeError(f"{type(self).__name__}: no engine object attached yet")
        if engine.freed:
            use_after_free.append(f"{engine.class_name} #{engine.instance_id}")
            raise StandinUseAfterFree(f"{engine.class_name} used after it was freed")
        return engine

    def get_instance_id(self) -> int:
        return self._live().instance_id

    def get_class(self) -> str:
        return self._live().class_name

    def call(self, name: Any, *args: Any) -> Any:
        self._live()
        return getattr(self, str(name))(*args)

    def connect(self, signal: Any, callback: Callable[..., Any], flags: int = 0) -> int:
        self._live().connections.setdefault(str(signal), []).append(callback)
        return 0

    def emit_signal(self, signal: Any, *args: Any) -> int:
        for callback in list(self._live().connections.get(str(signal), ())):
            callback(*args)
        return 0

    def set_script(self, script: Any) -> None:
        self._live().payload["script"] = script
