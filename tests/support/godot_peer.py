"""Run a real Godot 3 DTLS peer (``godot3-server``, Godot 3.2.3 + mbedTLS) from Python.

Helpers for the interop tests. The GDScript side lives in ``tests/godot3``
(``dtls_server.gd``, ``dtls_client.gd``; ``common.gd`` there is a link to the
benchmark's ``python/godot_dtls/bench/godot3/bench_common.gd``, shared by both
projects); each script prints machine-readable lines on stdout:

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

:class:`GodotProcess` is a :class:`godot_dtls.tools.processes.ManagedProcess`: every wait has
a deadline, and it always terminates (then kills) its process by PID when the ``with``
block ends. The Godot facts (binary, command line, environment) come from
:mod:`godot_dtls.tools.bench.procs`, which runs the same ``godot3-server`` for the benchmark.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from godot_dtls.tools.bench.procs import GODOT3_BINARY_NAME, godot3_binary, godot_command, godot_env
from godot_dtls.tools.processes import (
    ManagedProcess,
    ProcessError,
    free_udp_port,
    start_with_retries,
)

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
    "require_godot3",
    "start_dtls_server",
]

#: Godot 3 project folder holding the harness scripts.
GODOT3_PROJECT = Path(__file__).resolve().parent / "godot3"

#: Modulus of the deterministic payload pattern used by ``dtls_client.gd``.
PATTERN_MODULUS = 251

# Exit codes shared by the scripts.
EXIT_OK = 0
EXIT_HANDSHAKE_FAILED = 1  # client: not CONNECTED; server: duration ended before max_peers
EXIT_ECHO_FAILED = 2
EXIT_SETUP_ERROR = 3


class GodotError(ProcessError):
    """A Godot process did not produce the expected output in time, or failed to start."""


def require_godot3() -> str:
    """Path of ``godot3-server`` for a test: skips it when missing, fails it when CI=true."""
    binary = godot3_binary()
    if binary is None:
        import pytest

        message = "godot3-server not installed (apt-get install godot3-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def payload(seq: int, size: int) -> bytes:
    """Payload number ``seq`` (0-based over a client run) of ``size`` bytes, as sent by
    ``dtls_client.gd``: byte ``j`` is ``(j + seq) % 251``."""
    return bytes((j + seq) % PATTERN_MODULUS for j in range(size))


class GodotProcess(ManagedProcess):
    """One ``godot3-server`` process running a harness script, as a context manager.

    Starts ``godot3-server --path <project> -s res://<script> -- k=v ...``; stdout and
    stderr are read line by line by two daemon threads. :meth:`wait_for` and
    :meth:`result` block with a deadline; leaving the ``with`` block (or :meth:`stop`)
    terminates the process by its PID, waits, then kills it if needed.
    """

    error_type = GodotError

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
        super().__init__(name=script, env=godot_env(env), stop_timeout=stop_timeout)
        self.script = script
        self.args: dict[str, object] = dict(args or {})
        self.binary = binary or godot3_binary()
        self.project = Path(project)
        #: Listening port, set by :meth:`ready_port` (server scripts only).
        self.port: int | None = None

    @property
    def command(self) -> list[str]:
        """The full command line."""
        if self.binary is None:
            raise GodotError(f"{GODOT3_BINARY_NAME} not found on PATH")
        return godot_command(self.script, self.args, self.binary, project=self.project)

    @property
    def lines(self) -> list[str]:  # type: ignore[override]  # stdout only, as a property
        """Copy of the stdout lines read so far."""
        return self.stdout_lines

    def lines_with(self, prefix: str) -> list[str]:
        """All stdout lines read so far that start with ``prefix``."""
        return [line for line in self.stdout_lines if line.startswith(prefix)]

    def statuses(self) -> list[int]:
        """Status numbers of the ``STATUS <n>`` lines read so far, in order."""
        return [int(line.split()[1]) for line in self.lines_with("STATUS ")]

    # The harness' own wait_for: a prefix, not a pattern (so not the base signature).
    def wait_for(self, prefix: str, timeout: float) -> str:  # type: ignore[override]
        """Return the first stdout line starting with ``prefix``.

        Waits at most ``timeout`` seconds; raises :class:`GodotError` (with the output
        tail) on timeout, or as soon as stdout ends without such a line.
        """
        return self.wait_for_prefix(prefix, timeout)

    def ready_port(self, timeout: float = 10.0) -> int:
        """Wait for ``READY <port>``, store it in :attr:`port` and return it."""
        self.port = int(self.wait_for("READY ", timeout).split()[1])
        return self.port

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the ``RESULT <json>`` line and return it parsed."""
        return self.wait_json("RESULT ", timeout)


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
    return start_with_retries(
        lambda: dtls_server_process(key, cert, duration=duration, max_peers=max_peers, **kwargs),
        lambda proc: proc.ready_port(ready_timeout),
        attempts,
    )


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
