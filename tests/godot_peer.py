"""Run a real Godot 3 DTLS peer (``godot3-server``, Godot 3.2.3 + mbedTLS) from Python.

Helpers shared by the interop tests and the benchmarks. The GDScript side lives in
``tests/godot3`` (``dtls_server.gd``, ``dtls_client.gd``); each script prints
machine-readable lines on stdout:

``READY <port>``
    the server listens;
``STATUS <n> [peer=<id> ...]``
    a ``PacketPeerDTLS`` status changed (0 disconnected, 1 handshaking, 2 connected,
    3 error, 4 hostname mismatch);
``RESULT <json>``
    final summary, printed once right before the process exits.

Typical use::

    with start_dtls_server(key, cert, duration=10, max_peers=1) as server:
        with dtls_client_process(server.port, hostname="localhost", ca=ca) as client:
            res = client.result(timeout=15)

Every wait has a deadline, and a :class:`GodotProcess` always terminates (then kills)
its process by PID when the ``with`` block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = [
    "GODOT3_BINARY_NAME",
    "GODOT3_PROJECT",
    "GodotError",
    "GodotProcess",
    "dtls_client_process",
    "dtls_server_process",
    "free_udp_port",
    "godot3_binary",
    "payload",
    "start_dtls_server",
]

#: Executable of Debian's headless Godot 3 package.
GODOT3_BINARY_NAME = "godot3-server"
#: Godot 3 project folder holding the harness scripts.
GODOT3_PROJECT = Path(__file__).resolve().parent / "godot3"

#: Modulus of the deterministic payload pattern used by ``dtls_client.gd``.
PATTERN_MODULUS = 251

# Exit codes shared by the scripts.
EXIT_OK = 0
EXIT_HANDSHAKE_FAILED = 1  # client: not CONNECTED; server: duration ended before max_peers
EXIT_ECHO_FAILED = 2
EXIT_SETUP_ERROR = 3


class GodotError(RuntimeError):
    """A Godot process did not produce the expected output in time, or failed to start."""


def godot3_binary() -> str | None:
    """Return the path of ``godot3-server`` on ``PATH``, or ``None`` if it is not installed."""
    return shutil.which(GODOT3_BINARY_NAME)


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port on ``host`` that was free a moment ago.

    Godot 3.2.3's ``UDPServer`` cannot report the port the OS picked for ``listen(0)``,
    so the Python side chooses one. There is a small race until Godot binds it;
    :func:`start_dtls_server` retries on a fresh port if ``listen`` fails.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def payload(seq: int, size: int) -> bytes:
    """Payload number ``seq`` (0-based over a client run) of ``size`` bytes, as sent by
    ``dtls_client.gd``: byte ``j`` is ``(j + seq) % 251``."""
    return bytes((j + seq) % PATTERN_MODULUS for j in range(size))


def _format_arg(value: object) -> str:
    """Render one script argument: booleans as true/false, sequences comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_format_arg(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


class GodotProcess:
    """One ``godot3-server`` process running a harness script, as a context manager.

    Starts ``godot3-server --path <project> -s res://<script> -- k=v ...``; stdout and
    stderr are read line by line by two daemon threads. :meth:`wait_for` and
    :meth:`result` block with a deadline; leaving the ``with`` block (or :meth:`stop`)
    terminates the process by its PID, waits, then kills it if needed.
    """

    def __init__(
        self,
        script: str,
        args: Mapping[str, object] | None = None,
        *,
        binary: str | None = None,
        project: str | os.PathLike[str] = GODOT3_PROJECT,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        """Prepare (not start) a run of ``res://<script>`` with ``key=value`` arguments.

        ``binary`` defaults to :func:`godot3_binary`. ``env`` entries are added to the
        current environment. ``stop_timeout`` bounds each wait when stopping.
        """
        self.script = script
        self.args: dict[str, object] = dict(args or {})
        self.binary = binary or godot3_binary()
        self.project = Path(project)
        self.stop_timeout = stop_timeout
        self._env = dict(os.environ)
        # Godot 3.2.3 complains about the "C" locale on every start; keep logs quieter.
        self._env.setdefault("LANG", "en_US.UTF-8")
        if env:
            self._env.update(env)
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._stderr: list[str] = []
        self._cond = threading.Condition()
        self._stdout_eof = False
        self._threads: list[threading.Thread] = []
        #: Listening port, set by :meth:`ready_port` (server scripts only).
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The full command line."""
        if self.binary is None:
            raise GodotError(f"{GODOT3_BINARY_NAME} not found on PATH")
        cmd = [self.binary, "--path", str(self.project), "-s", f"res://{self.script}", "--"]
        cmd += [f"{k}={_format_arg(v)}" for k, v in self.args.items()]
        return cmd

    def start(self) -> GodotProcess:
        """Start the process and the reader threads; returns ``self``."""
        if self._proc is not None:
            raise GodotError("process already started")
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
        assert self._proc.stdout is not None and self._proc.stderr is not None
        for stream, sink, is_stdout in (
            (self._proc.stdout, self._lines, True),
            (self._proc.stderr, self._stderr, False),
        ):
            thread = threading.Thread(
                target=self._read,
                args=(stream, sink, is_stdout),
                name=f"godot-{self.script}-{'out' if is_stdout else 'err'}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _read(self, stream: Any, sink: list[str], is_stdout: bool) -> None:
        """Reader thread: append each line (without newline) to ``sink``."""
        try:
            for line in stream:
                with self._cond:
                    sink.append(line.rstrip("\r\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # stream closed under us by stop()
        finally:
            if is_stdout:
                with self._cond:
                    self._stdout_eof = True
                    self._cond.notify_all()

    def stop(self) -> int | None:
        """Terminate the process by PID (then kill after ``stop_timeout``); idempotent.

        Returns the exit code (negative signal number if it was terminated), or ``None``
        if it was never started.
        """
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.stop_timeout)
        for thread in self._threads:
            thread.join(timeout=self.stop_timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def __enter__(self) -> GodotProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- state ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the running (or finished) process."""
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code, or ``None`` while running / before start."""
        return None if self._proc is None else self._proc.poll()

    @property
    def lines(self) -> list[str]:
        """Copy of the stdout lines read so far."""
        with self._cond:
            return list(self._lines)

    @property
    def stderr_lines(self) -> list[str]:
        """Copy of the stderr lines read so far (Godot's ``ERROR:`` lines land here)."""
        with self._cond:
            return list(self._stderr)

    def lines_with(self, prefix: str) -> list[str]:
        """All stdout lines read so far that start with ``prefix``."""
        return [line for line in self.lines if line.startswith(prefix)]

    def statuses(self) -> list[int]:
        """Status numbers of the ``STATUS <n>`` lines read so far, in order."""
        return [int(line.split()[1]) for line in self.lines_with("STATUS ")]

    def output(self, tail: int = 40) -> str:
        """The last ``tail`` lines of stdout and stderr, for assertion messages."""
        with self._cond:
            out, err = self._lines[-tail:], self._stderr[-tail:]
        return (
            f"$ {' '.join(self.command)}\n--- stdout ---\n"
            + "\n".join(out)
            + "\n--- stderr ---\n"
            + "\n".join(err)
        )

    # -- waiting -------------------------------------------------------------------------

    def wait_for(self, prefix: str, timeout: float) -> str:
        """Return the first stdout line starting with ``prefix``.

        Waits at most ``timeout`` seconds; raises :class:`GodotError` (with the output
        tail) on timeout, or as soon as stdout ends without such a line.
        """
        if self._proc is None:
            raise GodotError("process not started")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if line.startswith(prefix):
                        return line
                if self._stdout_eof:
                    reason = f"exited ({self._proc.poll()}) without a {prefix!r} line"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = f"no {prefix!r} line within {timeout:.1f} s"
                    break
                self._cond.wait(remaining)
        raise GodotError(f"{self.script}: {reason}\n{self.output()}")

    def ready_port(self, timeout: float = 10.0) -> int:
        """Wait for ``READY <port>``, store it in :attr:`port` and return it."""
        self.port = int(self.wait_for("READY ", timeout).split()[1])
        return self.port

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the ``RESULT <json>`` line and return it parsed."""
        line = self.wait_for("RESULT ", timeout)
        data = json.loads(line[len("RESULT ") :])
        if not isinstance(data, dict):
            raise GodotError(f"{self.script}: RESULT is not an object: {line}")
        return data

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit and return its exit code (raises on timeout)."""
        if self._proc is None:
            raise GodotError("process not started")
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GodotError(
                f"{self.script}: still running after {timeout:.1f} s\n{self.output()}"
            ) from None


def dtls_server_process(
    key: str | os.PathLike[str],
    cert: str | os.PathLike[str],
    *,
    port: int | None = None,
    duration: float = 10.0,
    max_peers: int = 0,
    bind: str = "127.0.0.1",
    idle_us: int = 200,
    binary: str | None = None,
) -> GodotProcess:
    """A (not yet started) ``dtls_server.gd`` echo server.

    ``port=None`` picks :func:`free_udp_port`; ``cert`` may hold the full chain.
    The server exits after ``duration`` seconds, or once ``max_peers`` (> 0) accepted
    peers have ended.
    """
    return GodotProcess(
        "dtls_server.gd",
        {
            "port": free_udp_port(bind if bind != "*" else "127.0.0.1") if port is None else port,
            "bind": bind,
            "key": key,
            "cert": cert,
            "duration": duration,
            "max_peers": max_peers,
            "idle_us": idle_us,
        },
        binary=binary,
    )


def start_dtls_server(
    key: str | os.PathLike[str],
    cert: str | os.PathLike[str],
    *,
    duration: float = 10.0,
    max_peers: int = 0,
    ready_timeout: float = 10.0,
    attempts: int = 3,
    **kwargs: Any,
) -> GodotProcess:
    """Start :func:`dtls_server_process` on a free port and wait for ``READY``.

    Retries on a new port if the server fails before ``READY`` (port race). The returned
    process is started; use it in a ``with`` block so it is stopped. Its
    :attr:`GodotProcess.port` holds the listening port.
    """
    last: GodotError | None = None
    for _ in range(max(1, attempts)):
        proc = dtls_server_process(key, cert, duration=duration, max_peers=max_peers, **kwargs)
        proc.start()
        try:
            proc.ready_port(ready_timeout)
            return proc
        except GodotError as exc:
            last = exc
            proc.stop()
    assert last is not None
    raise last


def dtls_client_process(
    port: int,
    *,
    host: str = "127.0.0.1",
    hostname: str = "localhost",
    validate: bool = True,
    ca: str | os.PathLike[str] | None = None,
    sizes: Sequence[int] = (64,),
    count: int = 1,
    timeout: float = 10.0,
    packet_timeout: float = 2.0,
    mode: str = "echo",
    idle_us: int = 100,
    binary: str | None = None,
) -> GodotProcess:
    """A (not yet started) ``dtls_client.gd`` run against ``host:port``.

    ``hostname`` is ``for_hostname`` (SNI and name check), ``ca`` the
    ``valid_certificate`` PEM. ``mode`` is ``"echo"`` (send ``count`` packets of each
    size and check the echoes) or ``"handshake"``. The RESULT has ``status`` (after the
    handshake), ``final_status``, ``handshake_ms``, ``sent``, ``echoed``, ``mismatches``,
    ``lost``, ``send_errors``, ``bytes`` and ``rtt_us``.
    """
    args: dict[str, object] = {
        "host": host,
        "port": port,
        "hostname": hostname,
        "validate": validate,
        "sizes": list(sizes),
        "count": count,
        "timeout": timeout,
        "packet_timeout": packet_timeout,
        "mode": mode,
        "idle_us": idle_us,
    }
    if ca is not None:
        args["ca"] = ca
    return GodotProcess("dtls_client.gd", args, binary=binary)
