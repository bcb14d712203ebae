"""A plain-text progress bar on stderr.

On a terminal it redraws one line (``[#####.....] 12/30 12 s  pair 2: pipelined 64 B``);
otherwise (a pipe, a CI log) it prints one line per step.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``total`` steps; :meth:`begin` announces the next one, :meth:`done` ends the bar."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.total = max(1, total)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.completed = 0
        self._running = False
        self._t0 = time.monotonic()
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(callable(isatty) and isatty())
        self._last_len = 0

    def _draw(self, completed: int, label: str) -> None:
        completed = min(completed, self.total)
        filled = int(self.width * completed / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self._t0
        text = f"[{bar}] {completed}/{self.total} {elapsed:4.0f} s  {label}"
        if self._tty:
            padding = " " * max(0, self._last_len - len(text))
            self.stream.write("\r" + text + padding)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def begin(self, label: str) -> None:
        """The step running so far is complete; ``label`` is now running."""
        if self._running:
            self.completed += 1
        self._running = True
        self._draw(self.completed, label)

    def skip(self, steps: int, label: str) -> None:
        """``steps`` planned steps will not run (e.g. no Godot installed)."""
        if self._running:
            self.completed += 1
            self._running = False
        self.completed += steps
        self._draw(self.completed, label)

    def done(self, label: str = "done") -> None:
        """All steps complete."""
        self.completed = self.total
        self._running = False
        self._draw(self.total, label)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
