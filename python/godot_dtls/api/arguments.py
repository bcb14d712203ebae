"""Argument checks shared by the whole public API: one rule, one wording.

The rule (README, "Arguments"): constructors, factories and Python attributes raise
``TypeError`` (wrong type) or ``ValueError`` (wrong value) naming the argument, at the
call; methods that return an ``Error`` in Godot turn the same exception into
``ERR_INVALID_PARAMETER`` and a logged message (:func:`refuses_bad_arguments`).
Nothing is accepted that would fail later. The checks raise :class:`ArgumentError`
subclasses of ``TypeError``/``ValueError``, so only a caller's mistake is turned into an
``Error``: an exception from a bug is never hidden.

Types follow GDScript's conversions where Python has the same ones: an ``int``
parameter takes an ``int`` (a ``bool`` is one, and GDScript converts bool to int); a
``bool`` parameter takes a ``bool`` or an ``int``; a ``float`` parameter takes an
``int`` or a ``float``, and must be finite. A ``String`` is a ``str``; one that reaches
C code (host names, paths, identities) may not hold NUL. A ``float`` is never taken
for an ``int`` (GDScript would truncate it; in Python it is nearly always a mistake).
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, Callable, TypeVar

from godot_dtls.core.log import logger

from .errors import Error

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "CheckedAttribute",
    "check_bool",
    "check_bytes",
    "check_callable",
    "check_clock",
    "check_collection",
    "check_float",
    "check_instance",
    "check_int",
    "check_path",
    "check_seconds",
    "check_string",
    "refuses_bad_arguments",
    "type_name",
]

Method = TypeVar("Method", bound=Callable[..., Any])


class ArgumentError(Exception):
    """A caller passed a wrong argument (raised by the checks below, never by a bug)."""


class ArgumentTypeError(ArgumentError, TypeError):
    """The argument has the wrong type."""


class ArgumentValueError(ArgumentError, ValueError):
    """The argument has the right type and a wrong value."""


class CheckedAttribute:
    """A Python attribute checked when set, so a wrong value never reaches later use.

    ``check(value, name)`` returns the value to keep or raises (TypeError / ValueError
    naming the attribute); it runs in ``__init__`` too, when the constructor assigns. The
    value lives in ``_<name>`` on the instance, where the hot paths read it directly.
    """

    def __init__(self, check: Callable[[Any, str], Any], doc: str) -> None:
        self.check = check
        self.__doc__ = doc
        self.name = ""
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_" + name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return getattr(instance, self.slot)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(instance, self.slot, self.check(value, self.name))


def check_seconds(value: Any, name: str, *, optional: bool = False) -> float | None:
    """A finite, positive duration in seconds; None too when ``optional``."""
    if optional and value is None:
        return None
    return check_float(value, name, positive=True)


def refuses_bad_arguments(
    fallback: Any = Error.ERR_INVALID_PARAMETER,
) -> Callable[[Method], Method]:
    """For a method that returns an ``Error`` in Godot (or nothing): an
    :class:`ArgumentError` from its checks becomes ``fallback`` and a logged message,
    also kept for ``get_last_error_message()`` where the object has one. Any other
    exception is a bug and is not hidden."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except ArgumentError as exc:
                message = f"{type(self).__name__}.{method.__name__}: {exc}"
                logger.error("%s", message)
                if hasattr(self, "_last_message"):
                    self._last_message = message
                return fallback

        return checked  # type: ignore[return-value]

    return decorate


def type_name(value: Any) -> str:
    """The name of ``value``'s type, as messages show it."""
    return "None" if value is None else type(value).__name__


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` within [minimum, maximum]; bools count (GDScript converts)."""
    if not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be an int, got {type_name(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ArgumentValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ArgumentValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_float(
    value: Any,
    name: str,
    minimum: float | None = None,
    *,
    positive: bool = False,
) -> float:
    """``value`` as a finite ``float`` (an ``int`` is accepted), > 0 with ``positive``."""
    if not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be a number, got {type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ArgumentValueError(f"{name} is too large: {value}") from None
    if not math.isfinite(number):
        raise ArgumentValueError(f"{name} must be finite, got {number}")
    if positive and number <= 0:
        raise ArgumentValueError(f"{name} must be positive, got {number:g}")
    if minimum is not None and number < minimum:
        raise ArgumentValueError(f"{name} must be at least {minimum:g}, got {number:g}")
    return number


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a ``bool``: a bool or an int (GDScript converts int to bool)."""
    if not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be a bool, got {type_name(value)}")
    return bool(value)


def check_string(value: Any, name: str, *, allow_nul: bool = False, max_bytes: int = 0) -> str:
    """``value`` as a ``str``; NUL refused unless ``allow_nul``; at most ``max_bytes`` of
    UTF-8 when given."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a String (str), got {type_name(value)}")
    if not allow_nul and "\0" in value:
        raise ArgumentValueError(f"{name} must not contain a NUL character")
    if max_bytes:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ArgumentValueError(f"{name} is not valid Unicode text") from None
        if size > max_bytes:
            raise ArgumentValueError(
                f"{name} is {size} bytes of UTF-8; at most {max_bytes} are allowed"
            )
    return value


def check_bytes(value: Any, name: str, min_size: int = 0, max_size: int | None = None) -> bytes:
    """``value`` (bytes, bytearray or memoryview) as ``bytes`` of a bounded size."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"{name} must be bytes, got {type_name(value)}")
    data = bytes(value)
    if len(data) < min_size:
        raise ArgumentValueError(f"{name} must hold at least {min_size} byte(s)")
    if max_size is not None and len(data) > max_size:
        raise ArgumentValueError(f"{name} must hold at most {max_size} bytes, got {len(data)}")
    return data


def check_path(value: Any, name: str) -> str:
    """A file path: ``str`` or ``os.PathLike`` (never an int, which ``open`` would take
    for a file descriptor), without NUL."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raise ArgumentTypeError(f"{name} must be a String path (str), got bytes")
    text = check_string(value, name)
    if not text:
        raise ArgumentValueError(f"{name} must not be empty")
    return text


def check_instance(value: Any, kind: type, name: str, *, optional: bool = False) -> Any:
    """An instance of ``kind`` (or None with ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise ArgumentTypeError(
            f"{name} must be a{'n' if kind.__name__[0] in 'AEIOUX' else ''} {kind.__name__}"
            f"{' or None' if optional else ''}, got {type_name(value)}"
        )
    return value


def check_callable(value: Any, name: str, *, optional: bool = False) -> Any:
    """A callable (or None with ``optional``)."""
    if value is None and optional:
        return None
    if not callable(value):
        raise ArgumentTypeError(f"{name} must be callable, got {type_name(value)}")
    return value


def check_clock(clock: Any, name: str = "clock") -> Callable[[], float]:
    """``clock`` if it is a callable returning a finite number of seconds (called once
    here, so a wrong clock is refused at once rather than at the first poll)."""
    check_callable(clock, name)
    try:
        now = clock()
    except Exception as exc:
        raise ArgumentValueError(f"{name}() failed: {exc!r}") from exc
    check_float(now, f"{name}()")
    return clock  # type: ignore[no-any-return]


def check_collection(value: Any, name: str, item: str) -> list[Any]:
    """The items of a list, tuple, set or other iterable that is not itself a string or
    bytes (``"h2"`` for ``alpn`` would otherwise be read as ``["h", "2"]``)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)) or not hasattr(value, "__iter__"):
        raise ArgumentTypeError(f"{name} must be a list of {item}, got {type_name(value)}")
    if isinstance(value, dict):
        raise ArgumentTypeError(f"{name} must be a list of {item}, got dict")
    return list(value)
