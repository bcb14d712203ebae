"""Engine utility functions; the stand-in records what they print."""

from __future__ import annotations

from typing import Any

#: (kind, text) for every call.
messages: list[tuple[str, str]] = []


def _text(args: Any) -> str:
    return "".join(str(arg) for arg in args)


def print(*args: Any) -> None:
    messages.append(("print", _text(args)))


def printerr(*args: Any) -> None:
    messages.append(("printerr", _text(args)))


def push_error(*args: Any) -> None:
    messages.append(("push_error", _text(args)))


def push_warning(*args: Any) -> None:
    messages.append(("push_warning", _text(args)))
