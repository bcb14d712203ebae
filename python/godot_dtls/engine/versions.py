"""The engine version the adapters support, checked when a runtime loads them.

Why it exists: a runtime loads the adapters into whatever Godot runs it, and a version the
facades cannot run in must end in one clear message and no registered classes (so the
facades fall back to the engine's classes and say why), never in a half-working backend.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from .runtime import Runtime

#: The oldest Godot the facades run in: ``TLSOptions.is_unsafe_client()``,
#: ``get_trusted_ca_chain()``, ``get_common_name_override()``, ``is_server()``,
#: ``get_private_key()`` and ``get_own_certificate()`` are absent from Godot 4.2's
#: TLSOptions and present from 4.3 on (class reference of each version).
MINIMUM_GODOT = (4, 3)


class UnsupportedRuntime(RuntimeError):
    """The engine or the runtime build is one the adapters do not support; the message
    says which and what is needed. The adapter then registers nothing."""


def godot_version(info: Any, runtime: Runtime) -> tuple[int, int, int]:
    """``(major, minor, patch)`` from ``Engine.get_version_info()``, read through the
    runtime's Dictionary operations (0 for a part that is missing or not an int)."""
    parts = []
    for key in ("major", "minor", "patch"):
        value = runtime.value(info, key)
        parts.append(value if isinstance(value, int) and not isinstance(value, bool) else 0)
    return parts[0], parts[1], parts[2]


def check_godot(info: Any, runtime: Runtime, minimum: tuple[int, int] = MINIMUM_GODOT) -> None:
    """Raise :class:`UnsupportedRuntime` when the running Godot is older than ``minimum``."""
    found = godot_version(info, runtime)
    if found[:2] < minimum:
        needed = ".".join(map(str, minimum))
        raise UnsupportedRuntime(
            f"godot-dtls ({runtime.name}) needs Godot {needed} or newer, this is Godot "
            f"{'.'.join(map(str, found))}: the Python backend stays off and the facades use "
            "the engine's DTLS classes"
        )


def check_runtime(
    runtime: Runtime,
    version_info: Callable[[], Any],
    requirements: Iterable[tuple[bool, str]] = (),
) -> None:
    """Refuse to load where the adapters cannot run: each unmet ``(present, message)``
    requirement of the runtime build, then the Godot version (:func:`check_godot`). The
    reason goes to the engine's error log, then :class:`UnsupportedRuntime` is raised so
    the adapter registers nothing."""
    try:
        for present, message in requirements:
            if not present:
                raise UnsupportedRuntime(message)
        check_godot(version_info(), runtime)
    except UnsupportedRuntime as exc:
        runtime.log_error(f"{exc}.")
        raise
