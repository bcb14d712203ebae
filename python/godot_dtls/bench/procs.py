"""A small process runner for the benchmark's servers and Godot clients.

Each process prints machine-readable lines on stdout: ``READY <port>`` once a server
listens, ``PHASE ...`` at points worth sampling, ``RESULT <json>`` once at the end.
:class:`BenchProcess` reads them in a thread; every wait has a deadline; a process is
stopped by its PID (a stop file first when it has one, then SIGTERM, then SIGKILL).
Also here: the server's memory (``VmRSS`` from ``/proc/<pid>/status``), sampled for
its peak by :class:`RssSampler`, and the facts about ``godot3-server``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

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
    "python_server_command",
    "rss_kib",
    "udp_rcvbuf_errors",
]

#: Executable of Debian's headless Godot 3.2.3 (mbedTLS built in).
GODOT3_BINARY_NAME = "godot3-server"
#: The Godot project holding the benchmark scripts (package data).
GODOT3_PROJECT = Path(__file__).resolve().parent / "godot3"


class ProcessError(RuntimeError):
    """A benchmark process failed to start, or did not print what it should in time."""


def godot3_binary() -> Optional[str]:
    """The path of ``godot3-server``, or None when it is not installed."""
    return shutil.which(GODOT3_BINARY_NAME)


def godot3_version(binary: Optional[str] = None) -> Optional[str]:
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


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` that was free a moment ago (Godot 3.2.3 cannot listen on 0
    and report the port it got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def godot_command(
    script: str, args: Mapping[str, object], binary: Optional[str] = None
) -> List[str]:
    """``godot3-server --path <bench project> -s res://<script> -- key=value ...``."""
    binary = binary or godot3_binary()
    if binary is None:
        raise ProcessError(f"{GODOT3_BINARY_NAME} is not installed")
    command = [binary, "--path", str(GODOT3_PROJECT), "-s", f"res://{script}", "--"]
    for key, value in args.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(item) for item in value)
        command.append(f"{key}={value}")
    return command


def python_server_command(args: Sequence[str]) -> List[str]:
    """The godot-dtls echo server of the benchmark, in a Python process of its own."""
    return [sys.executable, "-m", "godot_dtls.bench.pyserver", *args]


def rss_kib(pid: int) -> Optional[int]:
    """The resident set size (``VmRSS``) of process ``pid`` in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU time of process ``pid`` so far (``/proc/<pid>/stat``), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / float(ticks)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def udp_rcvbuf_errors() -> Optional[int]:
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
        self.peak_kib: Optional[int] = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> Optional[int]:
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


class BenchProcess:
    """One benchmark process with line-oriented output; use it as a context manager.

    ``stop_file``: a path the process watches; :meth:`stop` creates it and waits for a
    clean exit (so the process prints its RESULT) before falling back to signals.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str,
        stop_file: Optional[Path] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.command = list(command)
        self.name = name
        self.stop_file = stop_file
        self._env = dict(os.environ)
        # Godot 3.2.3 complains about the "C" locale on every start.
        self._env.setdefault("LANG", "en_US.UTF-8")
        if env:
            self._env.update(env)
        self._proc: Optional[subprocess.Popen[str]] = None
        self._lines: List[str] = []
        self._stderr: List[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._threads: List[threading.Thread] = []
        #: The port from the ``READY`` line (servers).
        self.port: Optional[int] = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BenchProcess:
        """Start the process and the two reader threads."""
        if self._proc is not None:
            raise ProcessError(f"{self.name}: already started")
        if self.stop_file is not None and self.stop_file.exists():
            self.stop_file.unlink()
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                env=self._env,
            )
        except OSError as exc:
            raise ProcessError(f"{self.name}: cannot start {self.command[0]}: {exc}") from exc
        for stream, sink, is_stdout in (
            (self._proc.stdout, self._lines, True),
            (self._proc.stderr, self._stderr, False),
        ):
            thread = threading.Thread(
                target=self._read, args=(stream, sink, is_stdout), daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _read(self, stream: Any, sink: List[str], is_stdout: bool) -> None:
        try:
            for line in stream:
                with self._cond:
                    sink.append(line.rstrip("\r\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            if is_stdout:
                with self._cond:
                    self._eof = True
                    self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """Stop the process (stop file, then SIGTERM, then SIGKILL); its exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None and self.stop_file is not None:
            self.stop_file.touch()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def __enter__(self) -> BenchProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    @property
    def pid(self) -> int:
        """The PID of the started process."""
        if self._proc is None:
            raise ProcessError(f"{self.name}: not started")
        return self._proc.pid

    def returncode(self) -> Optional[int]:
        """The exit code, or None while it runs."""
        return None if self._proc is None else self._proc.poll()

    def output(self, tail: int = 30) -> str:
        """The command line and the last lines of stdout and stderr, for error messages."""
        with self._cond:
            out, err = self._lines[-tail:], self._stderr[-tail:]
        return "$ {}\n--- stdout ---\n{}\n--- stderr ---\n{}".format(
            " ".join(self.command), "\n".join(out), "\n".join(err)
        )

    # ------------------------------------------------------------------ waiting

    def wait_for(self, prefix: str, timeout: float, after: int = 0) -> str:
        """The first stdout line (from index ``after`` on) starting with ``prefix``.

        Raises :class:`ProcessError` after ``timeout`` seconds, or as soon as stdout
        ends without such a line.
        """
        if self._proc is None:
            raise ProcessError(f"{self.name}: not started")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[after:]:
                    if line.startswith(prefix):
                        return line
                if self._eof:
                    reason = f"exited ({self._proc.poll()}) without a {prefix.strip()!r} line"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = f"no {prefix.strip()!r} line within {timeout:.1f} s"
                    break
                self._cond.wait(remaining)
        raise ProcessError(f"{self.name}: {reason}\n{self.output()}")

    def ready(self, timeout: float = 20.0) -> int:
        """Wait for ``READY <port>``; the port is also kept in :attr:`port`."""
        self.port = int(self.wait_for("READY ", timeout).split()[1])
        return self.port

    def result(self, timeout: float) -> Dict[str, Any]:
        """Wait for the ``RESULT <json>`` line and return the object in it."""
        line = self.wait_for("RESULT ", timeout)
        try:
            data = json.loads(line[len("RESULT ") :])
        except ValueError as exc:
            raise ProcessError(f"{self.name}: bad RESULT line: {exc}") from exc
        if not isinstance(data, dict):
            raise ProcessError(f"{self.name}: RESULT is not an object")
        return data
