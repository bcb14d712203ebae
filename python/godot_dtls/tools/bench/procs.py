"""The benchmark's processes: its servers and Godot clients, their memory and CPU.

Each process prints machine-readable lines on stdout: ``READY <port>`` once a server
listens, ``PHASE ...`` at points worth sampling, ``RESULT <json>`` once at the end.
:class:`BenchProcess` is a :class:`godot_dtls.tools.processes.ManagedProcess` (reader threads,
waits with deadlines, stop by PID) that is stopped through a stop file first when it has
one. Also here: the server's memory (``VmRSS`` from ``/proc/<pid>/status``), sampled for
its peak by :class:`RssSampler`, and the facts about ``godot3-server`` (binary, version,
command line, environment), which the interop tests' ``tests/godot_peer.py`` shares.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from godot_dtls.tools.processes import ManagedProcess, free_udp_port
from godot_dtls.tools.processes import ProcessError as _ManagedProcessError

__all__ = [
    "GODOT3_BINARY_NAME",
    "GODOT3_PROJECT",
    "BenchProcess",
    "ProcessError",
    "RssSampler",
    "cpu_seconds",
    "free_udp_port",
    "godot3_binary",
    "godot3_version",
    "godot_command",
    "godot_env",
    "python_server_command",
    "rss_kib",
    "udp_rcvbuf_errors",
]

#: Executable of Debian's headless Godot 3.2.3 (mbedTLS built in).
GODOT3_BINARY_NAME = "godot3-server"
#: The Godot project holding the benchmark scripts (package data).
GODOT3_PROJECT = Path(__file__).resolve().parent / "godot3"


class ProcessError(_ManagedProcessError):
    """A benchmark process failed to start, or did not print what it should in time."""


def godot3_binary() -> str | None:
    """The path of ``godot3-server``, or None when it is not installed."""
    return shutil.which(GODOT3_BINARY_NAME)


def godot3_version(binary: str | None = None) -> str | None:
    """``godot3-server --version`` (e.g. ``3.2.3.stable.custom_build``), or None."""
    binary = binary or godot3_binary()
    if binary is None:
        return None
    try:
        done = subprocess.run(
            [binary, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else None


def godot_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment entries for ``godot3-server``: ``LANG`` unless already set (Godot
    3.2.3 complains about the "C" locale on every start), then ``env``."""
    return {"LANG": os.environ.get("LANG", "en_US.UTF-8"), **(env or {})}


def _format_arg(value: object) -> str:
    """One script argument: booleans as true/false, sequences comma-joined, paths as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_format_arg(item) for item in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def godot_command(
    script: str,
    args: Mapping[str, object],
    binary: str | None = None,
    *,
    project: str | os.PathLike[str] = GODOT3_PROJECT,
) -> list[str]:
    """``godot3-server --path <project> -s res://<script> -- key=value ...``.

    ``project`` defaults to the benchmark's Godot project; ``binary`` to
    :func:`godot3_binary`.
    """
    binary = binary or godot3_binary()
    if binary is None:
        raise ProcessError(f"{GODOT3_BINARY_NAME} is not installed")
    command = [binary, "--path", os.fspath(project), "-s", f"res://{script}", "--"]
    return command + [f"{key}={_format_arg(value)}" for key, value in args.items()]


def python_server_command(args: Sequence[str]) -> list[str]:
    """The godot-dtls echo server of the benchmark, in a Python process of its own."""
    return [sys.executable, "-m", "godot_dtls.tools.bench.pyserver", *args]


def rss_kib(pid: int) -> int | None:
    """The resident set size (``VmRSS``) of process ``pid`` in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (``/proc/<pid>/stat``), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / float(ticks)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def udp_rcvbuf_errors() -> int | None:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (all sockets:
    ``RcvbufErrors`` in ``/proc/net/snmp``), or None where there is no such file."""
    try:
        with open("/proc/net/snmp", encoding="ascii", errors="replace") as handle:
            lines = [line.split() for line in handle if line.startswith("Udp:")]
    except OSError:
        return None
    if len(lines) < 2 or "RcvbufErrors" not in lines[0]:
        return None
    try:
        return int(lines[1][lines[0].index("RcvbufErrors")])
    except (ValueError, IndexError):
        return None


class RssSampler:
    """Samples a process's ``VmRSS`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.025) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib: int | None = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int | None:
        """Take one sample now (also updates the peak)."""
        value = rss_kib(self.pid)
        if value is not None:
            self.samples += 1
            if self.peak_kib is None or value > self.peak_kib:
                self.peak_kib = value
        return value

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.sample()


class BenchProcess(ManagedProcess):
    """One benchmark process with line-oriented output; use it as a context manager.

    ``stop_file``: a path the process watches; :meth:`stop` creates it and waits for a
    clean exit (so the process prints its RESULT) before falling back to signals.
    ``env`` entries are added to the environment (see :func:`godot_env`).
    """

    error_type = ProcessError

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str,
        stop_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(command, name=name, env=godot_env(env))
        self.stop_file = stop_file
        #: The port from the ``READY`` line (servers).
        self.port: int | None = None

    def start(self) -> BenchProcess:
        """Start the process and the two reader threads (removing an old stop file)."""
        if not self.started and self.stop_file is not None and self.stop_file.exists():
            self.stop_file.unlink()
        try:
            return super().start()
        except OSError as exc:
            raise ProcessError(f"{self.name}: cannot start {self.command[0]}: {exc}") from exc

    def stop(self, timeout: float | None = 5.0) -> int | None:
        """Stop the process (stop file, then SIGTERM, then SIGKILL); its exit code.

        Each step waits at most ``timeout`` seconds (``None``: :attr:`stop_timeout`).
        """
        limit = self.stop_timeout if timeout is None else timeout
        if self.started and self.returncode is None and self.stop_file is not None:
            self.stop_file.touch()
            with contextlib.suppress(ProcessError):
                self.wait(limit)
        return super().stop(limit)

    @property
    def pid(self) -> int:
        """The PID of the started process."""
        pid = super().pid
        if pid is None:
            raise ProcessError(f"{self.name}: not started")
        return pid

    # The benchmark's own wait_for: a prefix, not a pattern (so not the base signature).
    def wait_for(  # type: ignore[override]
        self, prefix: str, timeout: float, after: int = 0
    ) -> str:
        """The first stdout line (from index ``after`` on) starting with ``prefix``.

        Raises :class:`ProcessError` after ``timeout`` seconds, or as soon as stdout
        ends without such a line.
        """
        return self.wait_for_prefix(prefix, timeout, skip=after)

    def ready(self, timeout: float = 20.0) -> int:
        """Wait for ``READY <port>``; the port is also kept in :attr:`port`."""
        self.port = int(self.wait_for("READY ", timeout).split()[1])
        return self.port

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the ``RESULT <json>`` line and return the object in it."""
        return self.wait_json("RESULT ", timeout)
