"""``RefCounted``: Godot's reference count is on the engine object (see ``Object``).

``reference()`` / ``unreference()`` are the engine's methods: ``unreference()`` only says
whether the count reached zero and frees nothing (Godot's ``RefCounted::unreference``); a
Variant holding the object (an ``Array`` item) takes a reference that ``Array.clear()``
gives back, and that one frees at zero.
"""

from __future__ import annotations

from .Object import Object


class RefCounted(Object):
    def reference(self) -> bool:
        self._live().reference()
        return True

    def unreference(self) -> bool:
        engine = self._live()
        engine.refcount -= 1
        return engine.refcount <= 0

    def get_reference_count(self) -> int:
        return self._live().refcount
