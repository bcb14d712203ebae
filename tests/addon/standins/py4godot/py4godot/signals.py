"""``signal([SignalArg(...)])``: registered under the name on the assignment line."""

from __future__ import annotations

import inspect
import sys
from typing import Any

#: module name → [(signal name, [SignalArg, ...])] waiting for that module's @gdclass.
pending_signals: dict[str, list[tuple[str, list[Any]]]] = {}


class SignalArg:
    def __init__(self, name: str, type_: type) -> None:
        self.name = name
        self.type = type_


def signal(args: list[SignalArg] | None = None) -> None:
    frame = sys._getframe(1)
    context = inspect.getframeinfo(frame).code_context or [""]
    name = context[0].split("=")[0].split(":")[0].strip()
    if not name.isidentifier():
        raise ValueError("signal() must be assigned on one line: name = signal([...])")
    module = frame.f_globals.get("__name__", "")
    pending_signals.setdefault(module, []).append((name, list(args or [])))
    return None
