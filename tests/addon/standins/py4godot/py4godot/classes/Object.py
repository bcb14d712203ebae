"""``Object``: engine calls only work once the engine object is attached."""

from __future__ import annotations

import itertools
from typing import Any, Callable

_ids = itertools.count(1)
#: py4godot.utils.utils.shouldCreateObject: False while py4godot instantiates a script
#: class, so the base ``__init__`` makes no engine object of its own then.
should_create_object = True


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


class Object:
    def __init__(self) -> None:
        # The generated constructor: a new engine object, unless py4godot is attaching one.
        self.__dict__["casted_from"] = None
        if should_create_object:
            Object._attach(self)

    @classmethod
    def new(cls) -> Any:
        from . import _registry

        if cls in _registry.values():
            raise TypeError("a py4godot script class has no new(): use set_script()")
        instance = cls.__new__(cls)
        instance.__init__()
        return instance

    @staticmethod
    def _attach(instance: Any) -> None:
        instance.__dict__["_py4godot_engine_id"] = next(_ids)
        instance.__dict__["_py4godot_connections"] = {}

    def _engine(self) -> dict[str, list[Callable[..., Any]]]:
        if self.__dict__.get("_py4godot_engine_id") is None:
            raise RuntimeError(f"{type(self).__name__}: no engine object attached yet")
        return self.__dict__["_py4godot_connections"]

    def get_instance_id(self) -> int:
        self._engine()
        return self.__dict__["_py4godot_engine_id"]

    def call(self, name: str, *args: Any) -> Any:
        self._engine()
        return getattr(self, name)(*args)

    def connect(self, signal: str, callback: Callable[..., Any], flags: int = 0) -> int:
        self._engine().setdefault(str(signal), []).append(callback)
        return 0

    def emit_signal(self, signal: str, *args: Any) -> int:
        for callback in list(self._engine().get(str(signal), ())):
            callback(*args)
        return 0

    def set_script(self, script: Any) -> None:
        self._engine()
        self.__dict__["_py4godot_script"] = script
