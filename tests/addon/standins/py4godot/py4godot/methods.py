"""``@private``: keeps a function out of the script's method list."""

from __future__ import annotations

from typing import Any, Callable


def private(func: Callable[..., Any]) -> Callable[..., Any]:
    func._py4godot_private = True  # type: ignore[attr-defined]
    return func
