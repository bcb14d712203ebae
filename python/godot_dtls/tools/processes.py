"""Run an external program as a line-oriented peer: :class:`ManagedProcess`.

The interop tests (``tests/godot_peer.py``, ``tests/openssl_peer.py``,
``tests/gnutls_peer.py``) and the benchmark (:mod:`godot_dtls.tools.bench.procs`) run other
programs -- ``godot3-server``, ``openssl s_server`` / ``s_client``, ``gnutls-serv`` /
``gnutls-cli``, a godot-dtls server in an interpreter of its own -- and follow them
through what they print. This is the runner they share:

* the program is started with :class:`subprocess.Popen`; stdin is a pipe (see
  :meth:`ManagedProcess.write_line`) or ``/dev/null``; ``line_buffered=True`` runs it
  under ``stdbuf -oL`` (coreutils, when installed) for programs that block-buffer a
  piped stdout;
* two daemon threads read stdout and stderr line by line into one list that keeps the
  order in which lines arrived (:meth:`~ManagedProcess.lines`). Line indices count the
  lines of both streams: :meth:`~ManagedProcess.mark` now, pass it as ``start`` later to
  look only at what came after;
* every wait has a deadline (:meth:`~ManagedProcess.wait_for`,
  :meth:`~ManagedProcess.wait_for_prefix`, :meth:`~ManagedProcess.wait_json`,
  :meth:`~ManagedProcess.wait`). A wait for a line also fails as soon as the streams it
  searches have ended; the error message holds the command and the output tail
  (:meth:`~ManagedProcess.output`);
* :meth:`~ManagedProcess.stop` -- also run when a ``with`` block ends -- stops the
  process by its PID: SIGTERM, a bounded wait, SIGKILL if needed; then it joins the
  reader threads. The lines read stay available afterwards.

Failures raise :attr:`ManagedProcess.error_type`: :class:`ProcessError`, or the
subclass of it that a subclass of :class:`ManagedProcess` names, so each caller keeps
its own exception class. Standard library only; imports on CPython 3.8.

Typical use::

    with ManagedProcess(["openssl", "s_server", ...], name="s_server", stdin=True) as server:
        server.wait_for(r"^ACCEPT$", 5, stream=STDOUT)
        mark = server.mark()
        ...
        server.wait_for(r"^hello$", 5, start=mark)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from typing import (
    IO,
    Any,
    Callable,
    ClassVar,
    Mapping,
    Sequence,
    TypeVar,
    Union,
)

__all__ = [
    "STDERR",
    "STDOUT",
    "ManagedProcess",
    "PatternLike",
    "ProcessError",
    "first_output_line",
    "free_udp_port",
    "line_buffered_command",
    "start_with_retries",
]

#: Stream labels, as used by ``stream=`` arguments and :meth:`ManagedProcess.output`.
STDOUT = "stdout"
STDERR = "stderr"
_STREAMS = (STDOUT, STDERR)

#: A regular expression, as text or compiled.
PatternLike = Union[str, "re.Pattern[str]"]

#: The longest :meth:`ManagedProcess.wait` (and a failed wait for a line) gives the
#: reader threads, or the exiting process, to finish once the streams ended.
_DRAIN_SECONDS = 2.0

_P = TypeVar("_P", bound="ManagedProcess")


class ProcessError(RuntimeError):
    """A process failed to start, or did not print what was expected in time."""


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port on ``host`` that was free a moment ago.

    For peers that cannot report the port the OS picked for port 0 (Godot 3.2.3's
    ``UDPServer``, ``openssl s_server``, ``gnutls-serv``), so the caller picks one.
    Another process may take it before the peer binds it: callers retry on a fresh port
    when the peer fails to listen.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_with_retries(
    make: Callable[[], _P], ready: Callable[[_P], object], attempts: int = 3
) -> _P:
    """Start ``make()``, wait with ``ready(process)``; return the started process.

    For a server on a port picked by :func:`free_udp_port`: when ``ready`` raises the
    process's :attr:`~ManagedProcess.error_type` (another program took the port first,
    say), the process is stopped and a fresh ``make()`` (with a fresh port) is tried, up
    to ``attempts`` runs in all; then the last error is raised. Use the returned process
    in a ``with`` block so that it is stopped.
    """
    last: ProcessError | None = None
    for _ in range(max(1, attempts)):
        process = make().start()
        try:
            ready(process)
            return process
        except process.error_type as exc:
            last = exc
            process.stop()
    assert last is not None
    raise last


def first_output_line(command: Sequence[str], timeout: float = 5.0) -> str:
    """The first line ``command`` prints (stdout and stderr together), or ``""``.

    For short runs such as ``openssl version``: stdin is ``/dev/null``, the exit code is
    not checked, :class:`subprocess.TimeoutExpired` is raised after ``timeout`` seconds.
    """
    completed = subprocess.run(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    return lines[0] if lines else ""


def line_buffered_command(command: Sequence[str]) -> tuple[list[str], bool]:
    """``command`` under ``stdbuf -oL`` when coreutils' stdbuf exists: ``(command, applied)``.

    A program whose stdout is a pipe usually block-buffers it; line-buffered, its lines
    arrive as they are printed and none is lost when it crashes.
    """
    stdbuf = shutil.which("stdbuf")
    if stdbuf is None:
        return list(command), False
    return [stdbuf, "-oL", *command], True


def _compile(pattern: PatternLike) -> re.Pattern[str]:
    return re.compile(pattern) if isinstance(pattern, str) else pattern


class ManagedProcess:
    """One run of an external program with line-oriented output, as a context manager.

    Created unstarted: :meth:`start` (or entering a ``with`` block) runs it; :meth:`stop`
    (or leaving the block) ends it. Subclasses that build their command line on demand
    override :attr:`command`; subclasses set :attr:`error_type` to their own exception.
    """

    #: The exception raised for every failure; a subclass of :class:`ProcessError`.
    error_type: ClassVar[type[ProcessError]] = ProcessError

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        name: str = "process",
        stdin: bool = False,
        env: Mapping[str, str] | None = None,
        line_buffered: bool = False,
        stop_timeout: float = 5.0,
    ) -> None:
        """Prepare (not start) a run of ``command``.

        ``name`` labels error messages and thread names. ``stdin``: a pipe for
        :meth:`write_line` / :meth:`close_stdin` when true, else ``/dev/null``.
        ``env`` entries are added to the current environment (taken now). With
        ``line_buffered`` the command runs under ``stdbuf -oL`` when available
        (:attr:`line_buffered` tells whether it does). ``stop_timeout`` bounds each wait
        of :meth:`stop`.
        """
        self._command = [str(part) for part in command or ()]
        #: Whether the command runs under ``stdbuf -oL``.
        self.line_buffered = False
        if line_buffered:
            self._command, self.line_buffered = line_buffered_command(self._command)
        self.name = name
        self.stop_timeout = stop_timeout
        self._stdin = stdin
        self._env = None if env is None else {**os.environ, **env}
        self._proc: subprocess.Popen[str] | None = None
        self._started_at: float | None = None
        self._lines: list[tuple[str, str]] = []  # (stream label, text without newline)
        self._ended: set[str] = set()  # labels of the streams read to end of file
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The full command line."""
        return list(self._command)

    def start(self: _P) -> _P:
        """Start the process and the two reader threads; returns ``self``."""
        if self._proc is not None:
            raise self.error_type(f"{self.name}: process already started")
        command = self.command
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if self._stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=self._env,
        )
        for label, stream in ((STDOUT, self._proc.stdout), (STDERR, self._proc.stderr)):
            thread = threading.Thread(
                target=self._read, args=(stream, label), name=f"{self.name}-{label}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _read(self, stream: IO[str], label: str) -> None:
        """Reader thread: append each line (without its newline) as ``(label, text)``."""
        try:
            for line in stream:
                with self._cond:
                    self._lines.append((label, line.rstrip("\r\n")))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # stream closed under us by stop()
        finally:
            with self._cond:
                self._ended.add(label)
                self._cond.notify_all()

    def stop(self, timeout: float | None = None) -> int | None:
        """Terminate the process by PID, then kill it if needed; idempotent.

        Each wait lasts at most ``timeout`` seconds (default :attr:`stop_timeout`).
        Returns the exit code (negative signal number if it was terminated), or ``None``
        if it was never started.
        """
        proc = self._proc
        if proc is None:
            return None
        limit = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=limit)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # BrokenPipeError while flushing: it is gone
                proc.stdin.close()
        for thread in self._threads:
            thread.join(timeout=limit)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def __enter__(self: _P) -> _P:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise self.error_type(f"{self.name}: process not started")
        return self._proc

    # -- state ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        """PID of the running (or finished) process, ``None`` before :meth:`start`."""
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code (negative: killed by that signal), or ``None`` while running."""
        return None if self._proc is None else self._proc.poll()

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (0.0 before it)."""
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def mark(self) -> int:
        """The number of lines read so far: pass it as ``start`` to look only at later lines."""
        with self._cond:
            return len(self._lines)

    def _texts(self, stream: str | None) -> list[str]:
        with self._cond:
            return [text for label, text in self._lines if stream is None or label == stream]

    def lines(self, stream: str | None = None) -> list[str]:
        """Copy of the lines read so far from ``stream`` (``"stdout"``, ``"stderr"``, or both)."""
        return self._texts(stream)

    @property
    def stdout_lines(self) -> list[str]:
        """Copy of the stdout lines read so far."""
        return self._texts(STDOUT)

    @property
    def stderr_lines(self) -> list[str]:
        """Copy of the stderr lines read so far."""
        return self._texts(STDERR)

    def output(self, tail: int = 60) -> str:
        """The command, the exit code and the last ``tail`` lines, for assertion messages."""
        with self._cond:
            lines = self._lines[-tail:]
        body = "\n".join(f"[{label}] {text}" for label, text in lines)
        return f"$ {' '.join(self.command)}\n(exit code {self.returncode})\n{body}"

    # -- searching and waiting -----------------------------------------------------------

    def _first(
        self, regex: re.Pattern[str], stream: str | None, start: int, skip: int
    ) -> re.Match[str] | None:
        """First match at or after line ``start``, past ``skip`` lines of ``stream``
        (the caller holds the condition)."""
        for label, text in self._lines[start:]:
            if stream is not None and label != stream:
                continue
            if skip > 0:
                skip -= 1
                continue
            match = regex.search(text)
            if match is not None:
                return match
        return None

    def find(
        self, pattern: PatternLike, *, stream: str | None = None, start: int = 0
    ) -> re.Match[str] | None:
        """The first line read so far matching ``pattern`` (``re.search``), without waiting."""
        regex = _compile(pattern)
        with self._cond:
            return self._first(regex, stream, start, 0)

    def find_all(self, pattern: PatternLike, *, stream: str | None = None) -> list[str]:
        """Every line read so far that matches ``pattern``."""
        regex = _compile(pattern)
        return [line for line in self._texts(stream) if regex.search(line)]

    def _wait_line(
        self,
        regex: re.Pattern[str],
        what: str,
        timeout: float,
        *,
        stream: str | None,
        start: int = 0,
        skip: int = 0,
        on_wait: Callable[[], object] | None = None,
        interval: float = 0.005,
    ) -> re.Match[str]:
        """The wait behind :meth:`wait_for` and :meth:`wait_for_prefix`; ``what`` names
        the line sought in the error message."""
        proc = self._started()
        searched = _STREAMS if stream is None else (stream,)
        deadline = time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            with self._cond:
                match = self._first(regex, stream, start, skip)
                if match is not None:
                    return match
                ended = all(label in self._ended for label in searched)
                remaining = deadline - time.monotonic()
                if ended or remaining <= 0:
                    break
                self._cond.wait(remaining if on_wait is None else min(remaining, interval))
        if ended:
            # The process closed what was searched, so it is exiting: reap it so that the
            # exit code (in the message and in returncode) is known.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(self.stop_timeout, _DRAIN_SECONDS))
            reason = f"exited ({proc.returncode}) without a {what}"
        else:
            reason = f"no {what} within {timeout:.1f} s"
        raise self.error_type(f"{self.name}: {reason}\n{self.output()}")

    def wait_for(
        self,
        pattern: PatternLike,
        timeout: float,
        *,
        stream: str | None = None,
        start: int = 0,
        on_wait: Callable[[], object] | None = None,
        interval: float = 0.005,
    ) -> re.Match[str]:
        """Return the match of the first line (at or after ``start``) matching ``pattern``.

        ``pattern`` is searched (``re.search``) in each line of ``stream`` (default: both).
        Waits at most ``timeout`` seconds; raises :attr:`error_type` (with the output
        tail) on timeout, or as soon as the searched streams end without such a line.
        ``on_wait`` is called every ``interval`` seconds while waiting (to keep polling a
        godot_dtls peer in the same thread).
        """
        regex = _compile(pattern)
        return self._wait_line(
            regex,
            f"line matching {regex.pattern!r}",
            timeout,
            stream=stream,
            start=start,
            on_wait=on_wait,
            interval=interval,
        )

    def wait_for_prefix(
        self,
        prefix: str,
        timeout: float,
        *,
        stream: str | None = STDOUT,
        start: int = 0,
        skip: int = 0,
    ) -> str:
        """Return the first line of ``stream`` (default stdout) starting with ``prefix``.

        Lines before index ``start`` and the first ``skip`` lines of ``stream`` are passed
        over. Deadline and errors as in :meth:`wait_for`.
        """
        match = self._wait_line(
            re.compile("^" + re.escape(prefix)),
            f"{prefix.strip()!r} line",
            timeout,
            stream=stream,
            start=start,
            skip=skip,
        )
        return match.string

    def wait_json(self, prefix: str, timeout: float) -> dict[str, Any]:
        """Wait for the stdout line ``<prefix><json object>`` and return the object."""
        line = self.wait_for_prefix(prefix, timeout)
        label = prefix.strip()
        try:
            data = json.loads(line[len(prefix) :])
        except ValueError as exc:
            raise self.error_type(f"{self.name}: bad {label} line: {exc}: {line}") from exc
        if not isinstance(data, dict):
            raise self.error_type(f"{self.name}: {label} is not an object: {line}")
        return data

    def wait(
        self,
        timeout: float,
        *,
        on_wait: Callable[[], object] | None = None,
        interval: float = 0.005,
    ) -> int:
        """Wait for the process to exit and return its exit code (raises on timeout).

        ``on_wait`` is called every ``interval`` seconds while waiting, as in
        :meth:`wait_for`. The output read so far is complete once this returns (the
        reader threads are given a moment to reach end of file).
        """
        proc = self._started()
        deadline = time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            code = proc.poll()
            if code is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.error_type(
                    f"{self.name}: still running after {timeout:.1f} s\n{self.output()}"
                )
            try:
                code = proc.wait(timeout=min(remaining, interval) if on_wait else remaining)
                break
            except subprocess.TimeoutExpired:
                continue
        with self._cond:
            end = time.monotonic() + min(self.stop_timeout, _DRAIN_SECONDS)
            while len(self._ended) < len(_STREAMS) and time.monotonic() < end:
                self._cond.wait(end - time.monotonic())
        return code

    # -- input ---------------------------------------------------------------------------

    def _stdin_pipe(self) -> IO[str]:
        stdin = self._started().stdin
        if stdin is None:
            raise self.error_type(f"{self.name}: stdin is not a pipe")
        return stdin

    def write_line(self, text: str) -> None:
        """Write ``text`` and a newline on stdin (needs ``stdin=True``)."""
        stdin = self._stdin_pipe()
        try:
            stdin.write(text + "\n")
            stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise self.error_type(
                f"{self.name}: cannot write to stdin: {exc}\n{self.output()}"
            ) from exc

    def close_stdin(self) -> None:
        """Close stdin: the program reads end of file (needs ``stdin=True``)."""
        stdin = self._stdin_pipe()
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
