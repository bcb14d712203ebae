"""``RefCounted`` (reference counting is not modelled: py4godot manages it)."""

from __future__ import annotations

from .Object import Object


class RefCounted(Object):
    pass
