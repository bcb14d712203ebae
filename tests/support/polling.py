"""The one "poll until" of the tests: drive poll-based objects until a condition holds.

Godot's networking objects do nothing unless polled, so almost every test loops
"poll everything, check, wait a little" under a deadline. This module is that loop, once.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import pytest

from godot_dtls.tools.serve import wait_readable

__all__ = ["DEADLINE", "poll_for", "poll_until", "require"]

#: Default seconds a test waits for a condition on loopback.
DEADLINE = 10.0
#: Default pause between rounds when no file descriptor is given to wait on.
INTERVAL = 0.001


def _poll(party: Any) -> None:
    poll = getattr(party, "poll", None)
    if callable(poll):
        poll()
    else:
        party()  # a plain callable: one step of the caller's own loop


def poll_until(
    *parties: Any,
    until: Callable[[], bool],
    timeout: float = DEADLINE,
    fds: Iterable[int] = (),
    interval: float = INTERVAL,
    wait: Callable[[float], object] | None = None,
) -> bool:
    """Poll each party (anything with ``poll()``, or a callable), then test ``until()``;
    repeat until it holds or ``timeout`` seconds pass. Returns ``until()``'s last value.

    Between rounds it waits at most ``interval`` seconds: with ``wait(seconds)`` when
    given (a selector over many sockets, say), else until one of ``fds`` is readable, else
    by sleeping.
    """
    descriptors = list(fds)
    deadline = time.monotonic() + timeout
    while True:
        for party in parties:
            _poll(party)
        if until():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        pause = min(interval, remaining)
        if wait is not None:
            wait(pause)
        elif descriptors:
            wait_readable(descriptors, pause)
        else:
            time.sleep(pause)


def poll_for(
    *parties: Any,
    seconds: float,
    interval: float = INTERVAL,
    wait: Callable[[float], object] | None = None,
) -> None:
    """Keep polling for ``seconds`` (lets stray datagrams arrive and be processed)."""
    poll_until(*parties, until=lambda: False, timeout=seconds, interval=interval, wait=wait)


def require(
    *parties: Any,
    until: Callable[[], bool],
    what: str,
    timeout: float = DEADLINE,
    fds: Iterable[int] = (),
    interval: float = INTERVAL,
    detail: Callable[[], str] = lambda: "",
) -> None:
    """:func:`poll_until`, failing the test with ``what`` (and ``detail()``) on timeout."""
    if not poll_until(*parties, until=until, timeout=timeout, fds=fds, interval=interval):
        extra = detail()
        pytest.fail(
            f"timed out after {timeout:.1f} s waiting for {what}" + (f": {extra}" if extra else "")
        )
