"""Run the ``openssl`` command line tool as a DTLS 1.2 peer (``s_server`` / ``s_client``).

Helpers for the interop tests against OpenSSL's own DTLS implementation. Both tools
are interactive: what is typed on stdin is sent as one record, what is received is
written raw to stdout. So a line written with :meth:`OpenSSLProcess.write_line` reaches
the other side as one packet, and a packet holding a line shows up as a stdout line.

What the tools print (OpenSSL 3.0), and what the tests wait for:

``s_server``
    ``ACCEPT`` (stdout) once the UDP socket is bound; ``CIPHER is <name>`` after a
    handshake; the received data raw on stdout; on the peer's close_notify ``DONE``,
    ``shutting down SSL`` and ``CONNECTION CLOSED``; errors (alerts received or sent)
    on stderr. With ``-naccept 1`` it exits (code 0) after its one connection. Closing
    its stdin makes it quit (``DONE``), but it closes the DTLS socket before calling
    ``SSL_shutdown``, so it never sends a close_notify of its own. ``-rev`` (echo
    reversed lines) is refused with DTLS.
``s_client``
    ``CONNECTED(...)`` when the socket is made (before the handshake); the session
    summary (``Protocol  : DTLSv1.2``, ``Cipher    : <name>``,
    ``Verify return code: 0 (ok)``) on stdout after the handshake; received data raw on
    stdout; errors and ``DONE`` on stderr. Closing its stdin makes it send close_notify
    and exit with code 0. Lines starting with ``Q``, ``R``, ``k`` or ``K`` are commands.

Typical use::

    with start_s_server(cert, key, listen=True, naccept=1) as server:
        ...  # connect to server.port, then server.wait_for(r"^CIPHER is ", 5)

    with s_client_process(port, ca=ca_path) as client:
        client.wait_for(r"Verify return code: 0 \\(ok\\)", 5)

Every wait has a deadline, and an :class:`OpenSSLProcess` always terminates (then
kills) its process by PID when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from typing import IO, Callable, Iterable, Sequence, Union

__all__ = [
    "OPENSSL_BINARY_NAME",
    "OpenSSLError",
    "OpenSSLProcess",
    "OpenSSLServer",
    "free_udp_port",
    "negotiated_cipher",
    "negotiated_protocol",
    "openssl_binary",
    "openssl_version",
    "s_client_command",
    "s_client_process",
    "s_server_command",
    "start_s_server",
]

#: The OpenSSL command line tool.
OPENSSL_BINARY_NAME = "openssl"

STDOUT = "stdout"
STDERR = "stderr"

PathLike = Union[str, "os.PathLike[str]"]
#: A regular expression, as text or compiled.
PatternLike = Union[str, "re.Pattern[str]"]

# Session summaries: ``s_client`` prints "    Cipher    : NAME" and
# "New, TLSv1.2, Cipher is NAME"; ``s_server`` prints "CIPHER is NAME".
_CIPHER_PATTERNS = (
    re.compile(r"^\s*Cipher\s*:\s*(\S+)\s*$"),
    re.compile(r"^CIPHER is (\S+)\s*$"),
    re.compile(r"Cipher is (\S+)\s*$"),
)
_PROTOCOL_PATTERN = re.compile(r"^\s*Protocol\s*:\s*(\S+)\s*$")


class OpenSSLError(RuntimeError):
    """An ``openssl`` process did not print what was expected in time, or failed to start."""


def openssl_binary() -> str | None:
    """Return the path of ``openssl`` on ``PATH``, or ``None`` if it is not installed."""
    return shutil.which(OPENSSL_BINARY_NAME)


def openssl_version(binary: str | None = None, timeout: float = 5.0) -> str:
    """The first line of ``openssl version`` (e.g. ``OpenSSL 3.0.13 30 Jan 2024``)."""
    path = binary or openssl_binary()
    if path is None:
        raise OpenSSLError(f"{OPENSSL_BINARY_NAME} not found on PATH")
    completed = subprocess.run(
        [path, "version"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return completed.stdout.strip().splitlines()[0] if completed.stdout.strip() else ""


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port on ``host`` that was free a moment ago.

    ``s_server`` cannot report a port picked by the OS, so the Python side chooses one.
    Another process may take it before ``s_server`` binds it; :func:`start_s_server`
    retries on a fresh port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _compile(pattern: PatternLike) -> re.Pattern[str]:
    return re.compile(pattern) if isinstance(pattern, str) else pattern


class OpenSSLProcess:
    """One ``openssl`` subcommand run, as a context manager.

    stdin is a pipe (see :meth:`write_line`, :meth:`close_stdin`); stdout and stderr
    are read line by line by two daemon threads into one list that keeps the order in
    which lines arrived. Line indices (see :meth:`mark`) count lines of both streams.
    Leaving the ``with`` block (or :meth:`stop`) terminates the process by its PID,
    waits, then kills it if needed.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        binary: str | None = None,
        name: str = "openssl",
        stop_timeout: float = 5.0,
    ) -> None:
        """Prepare (not start) ``openssl <args...>``.

        ``binary`` defaults to :func:`openssl_binary`; ``name`` labels error messages;
        ``stop_timeout`` bounds each wait when stopping.
        """
        self.args = [str(arg) for arg in args]
        self.binary = binary or openssl_binary()
        self.name = name
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[tuple[str, str]] = []
        self._open_streams = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._started_at: float | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The full command line."""
        if self.binary is None:
            raise OpenSSLError(f"{OPENSSL_BINARY_NAME} not found on PATH")
        return [self.binary, *self.args]

    def start(self) -> OpenSSLProcess:
        """Start the process and the reader threads; returns ``self``."""
        if self._proc is not None:
            raise OpenSSLError(f"{self.name}: process already started")
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._open_streams = 2
        for stream, label in ((self._proc.stdout, STDOUT), (self._proc.stderr, STDERR)):
            thread = threading.Thread(
                target=self._read,
                args=(stream, label),
                name=f"{self.name}-{label}",
                daemon=True,
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
                self._open_streams -= 1
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
        if proc.stdin is not None:
            # BrokenPipeError while flushing: the process is gone.
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for thread in self._threads:
            thread.join(timeout=self.stop_timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def __enter__(self) -> OpenSSLProcess:
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
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (0.0 before it)."""
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def mark(self) -> int:
        """The number of lines read so far: pass it as ``start`` to look only at later lines."""
        with self._cond:
            return len(self._lines)

    def lines(self, stream: str | None = None) -> list[str]:
        """Copy of the lines read so far from ``stream`` (``"stdout"``, ``"stderr"``, or both)."""
        with self._cond:
            return [text for label, text in self._lines if stream is None or label == stream]

    @property
    def stdout_lines(self) -> list[str]:
        """Copy of the stdout lines read so far."""
        return self.lines(STDOUT)

    @property
    def stderr_lines(self) -> list[str]:
        """Copy of the stderr lines read so far (OpenSSL's error queue lands here)."""
        return self.lines(STDERR)

    def output(self, tail: int = 60) -> str:
        """The command and the last ``tail`` lines of both streams, for assertion messages."""
        with self._cond:
            lines = self._lines[-tail:]
        body = "\n".join(f"[{label}] {text}" for label, text in lines)
        return f"$ {' '.join(self.command)}\n(exit code {self.returncode})\n{body}"

    # -- searching and waiting -----------------------------------------------------------

    def _search(
        self, regex: re.Pattern[str], stream: str | None, start: int
    ) -> re.Match[str] | None:
        """First match at or after line ``start`` (caller holds the condition)."""
        for label, text in self._lines[start:]:
            if stream is not None and label != stream:
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
            return self._search(regex, stream, start)

    def find_all(self, pattern: PatternLike, *, stream: str | None = None) -> list[str]:
        """Every line read so far that matches ``pattern``."""
        regex = _compile(pattern)
        return [line for line in self.lines(stream) if regex.search(line)]

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

        Waits at most ``timeout`` seconds; raises :class:`OpenSSLError` (with the output
        tail) on timeout, or as soon as both streams end without such a line. When
        ``on_wait`` is given it is called every ``interval`` seconds while waiting (to
        keep polling a godot_dtls peer in the same thread).
        """
        if self._proc is None:
            raise OpenSSLError(f"{self.name}: process not started")
        regex = _compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            with self._cond:
                match = self._search(regex, stream, start)
                if match is not None:
                    return match
                if self._open_streams <= 0:
                    reason = (
                        f"exited ({self._proc.poll()}) without a line matching {regex.pattern!r}"
                    )
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = f"no line matching {regex.pattern!r} within {timeout:.1f} s"
                    break
                self._cond.wait(min(remaining, interval) if on_wait is not None else remaining)
        raise OpenSSLError(f"{self.name}: {reason}\n{self.output()}")

    def wait(
        self,
        timeout: float,
        *,
        on_wait: Callable[[], object] | None = None,
        interval: float = 0.005,
    ) -> int:
        """Wait for the process to exit and return its exit code (raises on timeout).

        ``on_wait`` is called every ``interval`` seconds while waiting, as in
        :meth:`wait_for`. The output read so far is complete once this returns
        (the reader threads are given a moment to reach end of file).
        """
        proc = self._proc
        if proc is None:
            raise OpenSSLError(f"{self.name}: process not started")
        deadline = time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            code = proc.poll()
            if code is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OpenSSLError(
                    f"{self.name}: still running after {timeout:.1f} s\n{self.output()}"
                )
            try:
                code = proc.wait(timeout=min(remaining, interval) if on_wait else remaining)
                break
            except subprocess.TimeoutExpired:
                continue
        with self._cond:
            end = time.monotonic() + min(self.stop_timeout, 2.0)
            while self._open_streams > 0 and time.monotonic() < end:
                self._cond.wait(end - time.monotonic())
        return code

    # -- input ---------------------------------------------------------------------------

    def write_line(self, text: str) -> None:
        """Type ``text`` and a newline on stdin: the tool sends it as one record."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise OpenSSLError(f"{self.name}: process not started")
        try:
            proc.stdin.write(text + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise OpenSSLError(
                f"{self.name}: cannot write to stdin: {exc}\n{self.output()}"
            ) from exc

    def close_stdin(self) -> None:
        """End of input: ``s_client`` sends close_notify and exits; ``s_server`` quits
        without one (see the module docstring)."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise OpenSSLError(f"{self.name}: process not started")
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


class OpenSSLServer(OpenSSLProcess):
    """An ``openssl s_server`` run; :attr:`port` is the UDP port it listens on."""

    def __init__(
        self,
        args: Sequence[str],
        port: int,
        *,
        binary: str | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        """Prepare (not start) ``openssl <args...>``, which listens on UDP ``port``."""
        super().__init__(args, binary=binary, name="s_server", stop_timeout=stop_timeout)
        self.port = port

    def ready(self, timeout: float = 5.0) -> None:
        """Wait until ``s_server`` has bound its socket (its ``ACCEPT`` line)."""
        self.wait_for(r"^ACCEPT$", timeout, stream=STDOUT)


def _mtu_args(mtu: int | None) -> list[str]:
    return [] if mtu is None else ["-mtu", str(mtu)]


def s_server_command(
    cert: PathLike,
    key: PathLike,
    port: int,
    *,
    host: str = "127.0.0.1",
    version: str = "-dtls1_2",
    listen: bool = True,
    naccept: int | None = 1,
    mtu: int | None = None,
    extra: Iterable[str] = (),
) -> list[str]:
    """Arguments of ``openssl s_server`` for a DTLS server on ``host:port``.

    ``cert`` may hold the whole chain (leaf first). s_server always asks DTLS clients
    for a HelloVerifyRequest cookie; ``listen`` adds ``-listen``, which does that
    exchange statelessly (``DTLSv1_listen``) before it makes the connection.
    ``naccept`` makes the server exit after that many connections; ``mtu`` is the link
    MTU (``-mtu``, at least 256 for OpenSSL 3.0; its datagrams are 28 bytes smaller).
    """
    args = [
        "s_server",
        version,
        "-accept",
        f"{host}:{port}",
        "-cert",
        os.fspath(cert),
        "-key",
        os.fspath(key),
    ]
    if listen:
        args.append("-listen")
    if naccept is not None:
        args += ["-naccept", str(naccept)]
    return args + _mtu_args(mtu) + list(extra)


def start_s_server(
    cert: PathLike,
    key: PathLike,
    *,
    host: str = "127.0.0.1",
    version: str = "-dtls1_2",
    listen: bool = True,
    naccept: int | None = 1,
    mtu: int | None = None,
    extra: Iterable[str] = (),
    ready_timeout: float = 5.0,
    attempts: int = 3,
    binary: str | None = None,
) -> OpenSSLServer:
    """Start ``openssl s_server`` (see :func:`s_server_command`) on a free port.

    Waits for ``ACCEPT``; retries on a new port if the server exits before it (another
    process took the port). The returned server is started: use it in a ``with`` block
    so it is stopped.
    """
    last: OpenSSLError | None = None
    for _ in range(max(1, attempts)):
        port = free_udp_port(host)
        args = s_server_command(
            cert,
            key,
            port,
            host=host,
            version=version,
            listen=listen,
            naccept=naccept,
            mtu=mtu,
            extra=extra,
        )
        server = OpenSSLServer(args, port, binary=binary)
        server.start()
        try:
            server.ready(ready_timeout)
            return server
        except OpenSSLError as exc:
            last = exc
            server.stop()
    assert last is not None
    raise last


def s_client_command(
    port: int,
    *,
    host: str = "127.0.0.1",
    version: str = "-dtls1_2",
    ca: PathLike | None = None,
    servername: str | None = "localhost",
    verify_hostname: str | None = "localhost",
    mtu: int | None = None,
    extra: Iterable[str] = (),
) -> list[str]:
    """Arguments of ``openssl s_client`` connecting to ``host:port`` over DTLS.

    With ``ca`` the server must chain to it (``-verify_return_error``: a failure ends the
    handshake); ``verify_hostname`` also checks the name (s_client does not by
    default); ``servername`` is the SNI. ``version`` is ``-dtls1_2``, ``-dtls1`` or
    ``-dtls`` (any).
    """
    args = ["s_client", version, "-connect", f"{host}:{port}"]
    if ca is not None:
        args += ["-CAfile", os.fspath(ca), "-verify_return_error"]
        if verify_hostname is not None:
            args += ["-verify_hostname", verify_hostname]
    if servername is None:
        args.append("-noservername")
    else:
        args += ["-servername", servername]
    return args + _mtu_args(mtu) + list(extra)


def s_client_process(
    port: int,
    *,
    host: str = "127.0.0.1",
    version: str = "-dtls1_2",
    ca: PathLike | None = None,
    servername: str | None = "localhost",
    verify_hostname: str | None = "localhost",
    mtu: int | None = None,
    extra: Iterable[str] = (),
    binary: str | None = None,
) -> OpenSSLProcess:
    """A (not yet started) ``openssl s_client`` run; see :func:`s_client_command`."""
    args = s_client_command(
        port,
        host=host,
        version=version,
        ca=ca,
        servername=servername,
        verify_hostname=verify_hostname,
        mtu=mtu,
        extra=extra,
    )
    return OpenSSLProcess(args, binary=binary, name="s_client")


def negotiated_cipher(process: OpenSSLProcess) -> str | None:
    """The cipher suite a session summary of ``process`` names, or None before one."""
    for line in process.stdout_lines:
        for regex in _CIPHER_PATTERNS:
            match = regex.search(line)
            if match is not None and match.group(1) not in ("(NONE)", "0000"):
                return match.group(1)
    return None


def negotiated_protocol(process: OpenSSLProcess) -> str | None:
    """The protocol of ``s_client``'s session summary (``DTLSv1.2``), or None."""
    for line in process.stdout_lines:
        match = _PROTOCOL_PATTERN.search(line)
        if match is not None:
            return match.group(1)
    return None
