"""``print_error``: where py4godot logs an exception from a script call."""

from __future__ import annotations

from typing import Any

from ..functions import messages


def print_error(*objects: Any, sep: str = " ", end: str = "") -> None:
    messages.append(("print_error", sep.join(str(o) for o in objects) + end))
