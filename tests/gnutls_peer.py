"""Run GnuTLS' command line tools as DTLS peers: ``gnutls-serv --udp`` and ``gnutls-cli --udp``.

Helpers for the interop tests against GnuTLS (Debian's ``gnutls-bin``, GnuTLS 3.7.9).
What the tools do and print, as found by running them and reading their source
(``src/udp-serv.c``, ``src/cli.c``, ``src/common.c`` of GnuTLS 3.7):

``gnutls-serv --udp --echo``
    With ``--udp`` the server is always the echo server of ``udp-serv.c`` (``--echo``
    only matters for TCP). It binds ``0.0.0.0`` and ``::`` (there is no option to bind
    one address) and prints ``UDP Echo Server listening on IPv4 0.0.0.0 port N...done``
    on **stderr** once the IPv4 socket is bound (``...bind() failed: ...`` when the port
    is taken; it then keeps running without a socket, so :func:`start_gnutls_serv`
    stops it and retries on another port). It always asks for a HelloVerifyRequest
    cookie (``--nocookie`` turns that off) and serves one client at a time.

    **Buffer limit**: ``udp_server()`` reads records into a ``char buffer[255]``
    (``MAX_BUFFER``) with ``gnutls_record_recv_seq(..., sizeof(buffer) - 1, ...)``, so
    it receives at most :data:`GNUTLS_SERV_ECHO_CHUNK` (254) bytes per call. GnuTLS keeps
    the rest of a longer record for the next calls, and each piece is echoed as its own
    record: a packet of N bytes comes back as ``ceil(N / 254)`` packets whose
    concatenation is the original. Received data is also printed on stdout as
    ``received[<sequence number>]: <data>``, ``EOF`` after a close_notify and
    ``Error in handshake(): <reason>`` (stderr) when a handshake fails.
``gnutls-cli --udp``
    Prints the session summary (``- Description: (DTLS1.2-X.509)-(ECDHE-X25519)-...``,
    ``- Handshake was completed``, ``- Simple Client Mode:``) on stdout, then copies
    stdin to the server (each read of stdin, i.e. each line typed, is one record) and
    every record received to stdout (flushed). On stdin EOF it sends close_notify and
    exits with code 0. It verifies the server's chain against ``--x509cafile`` and its
    name against ``--verify-hostname`` (default: the host operand); ``--sni-hostname``
    sets the SNI (none is sent for an IP literal). ``-d N`` logs to stderr: at 5 and
    above every record, e.g. ``REC[...]: Alert[2|70] - Error in protocol version - was
    received``.

Known GnuTLS 3.7.9 behaviour the tests have to live with:

* a DTLS client ignores a fatal alert received during the handshake (``record.c``:
  unexpected packets are dropped in DTLS) and retransmits its flight until its own
  handshake timeout (a minute): a refused ``gnutls-cli`` never exits by itself;
* ``gnutls-cli`` crashes (SIGSEGV in ``gnutls_psk_server_get_username``, called by
  ``print_info()`` on the client side) right after a successful **ECDHE-PSK**
  handshake, whatever the server (``gnutls-serv`` included); plain PSK works.

stdout of both tools is block-buffered when it is a pipe, so they are run under
``stdbuf -oL`` (coreutils) when it is available: lines then arrive as they are printed
and nothing is lost when a process crashes. Every wait has a deadline, and a
:class:`GnuTLSProcess` always terminates (then kills) its process by PID when its
``with`` block ends.

Typical use::

    with start_gnutls_serv(cert_path, key_path) as server:
        ...  # connect a DTLS client to 127.0.0.1:server.port

    with gnutls_cli_process(port, ca=ca_path, verify_hostname="localhost") as client:
        client.wait_for(r"^- Simple Client Mode:", 5)
        client.write_line("hello")
        client.wait_for(r"^hello$", 5, start=mark)
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
from typing import IO, Callable, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "GNUTLS_CLI",
    "GNUTLS_SERV",
    "GNUTLS_SERV_ECHO_CHUNK",
    "GnuTLSError",
    "GnuTLSProcess",
    "GnuTLSServer",
    "free_udp_port",
    "gnutls_binary",
    "gnutls_cli_command",
    "gnutls_cli_process",
    "gnutls_serv_command",
    "gnutls_version",
    "negotiated_description",
    "start_gnutls_serv",
    "write_psk_passwd",
]

GNUTLS_SERV = "gnutls-serv"
GNUTLS_CLI = "gnutls-cli"

#: The most ``gnutls-serv --udp --echo`` reads (and so echoes) in one record.
GNUTLS_SERV_ECHO_CHUNK = 254

STDOUT = "stdout"
STDERR = "stderr"

PathLike = Union[str, "os.PathLike[str]"]
#: A regular expression, as text or compiled.
PatternLike = Union[str, "re.Pattern[str]"]

#: gnutls-serv's readiness line (stderr): ``...port N...done`` or ``...port N...<error>``.
_LISTENING = re.compile(r"listening on IPv4 \S+ port (\d+)\.\.\.(.*)$")
_DESCRIPTION = re.compile(r"^- Description: (.+?)\s*$")


class GnuTLSError(RuntimeError):
    """A GnuTLS tool did not print what was expected in time, or failed to start."""


def gnutls_binary(name: str) -> Optional[str]:
    """Path of ``gnutls-serv`` / ``gnutls-cli`` on ``PATH``, or ``None`` if not installed."""
    return shutil.which(name)


def gnutls_version(binary: str, timeout: float = 5.0) -> str:
    """The first line of ``<binary> --version`` (e.g. ``gnutls-serv 3.7.9``)."""
    completed = subprocess.run(
        [binary, "--version"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    return lines[0] if lines else ""


def free_udp_port(host: str = "0.0.0.0") -> int:
    """A UDP port that was free on ``host`` a moment ago (gnutls-serv binds 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _compile(pattern: PatternLike) -> re.Pattern[str]:
    return re.compile(pattern) if isinstance(pattern, str) else pattern


def _line_buffered(command: List[str]) -> Tuple[List[str], bool]:
    """``command`` under ``stdbuf -oL`` when coreutils' stdbuf exists; (command, buffered)."""
    stdbuf = shutil.which("stdbuf")
    if stdbuf is None:
        return command, False
    return [stdbuf, "-oL", *command], True


class GnuTLSProcess:
    """One run of a GnuTLS tool, as a context manager.

    stdin is a pipe (see :meth:`write_line`, :meth:`close_stdin`); stdout and stderr
    are read line by line by two daemon threads into one list that keeps the order in
    which lines arrived. Line indices (see :meth:`mark`) count lines of both streams.
    Leaving the ``with`` block (or :meth:`stop`) terminates the process by its PID,
    waits, then kills it if needed.
    """

    def __init__(
        self, command: Sequence[str], *, name: str = "gnutls", stop_timeout: float = 5.0
    ) -> None:
        """Prepare (not start) ``command`` (run under ``stdbuf -oL`` when available)."""
        self.command, self.line_buffered = _line_buffered([str(part) for part in command])
        self.name = name
        self.stop_timeout = stop_timeout
        self._proc: Optional[subprocess.Popen[str]] = None
        self._lines: List[Tuple[str, str]] = []
        self._open_streams = 0
        self._cond = threading.Condition()
        self._threads: List[threading.Thread] = []
        self._started_at: Optional[float] = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> GnuTLSProcess:
        """Start the process and the reader threads; returns ``self``."""
        if self._proc is not None:
            raise GnuTLSError(f"{self.name}: process already started")
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
                self._open_streams -= 1
                self._cond.notify_all()

    def stop(self) -> Optional[int]:
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
            with contextlib.suppress(OSError):  # BrokenPipeError: the process is gone
                proc.stdin.close()
        for thread in self._threads:
            thread.join(timeout=self.stop_timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def __enter__(self) -> GnuTLSProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- state ---------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        """PID of the running (or finished) process."""
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> Optional[int]:
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

    def lines(self, stream: Optional[str] = None) -> List[str]:
        """Copy of the lines read so far from ``stream`` (``"stdout"``, ``"stderr"``, or both)."""
        with self._cond:
            return [text for label, text in self._lines if stream is None or label == stream]

    def output(self, tail: int = 60) -> str:
        """The command and the last ``tail`` lines of both streams, for assertion messages."""
        with self._cond:
            lines = self._lines[-tail:]
        body = "\n".join(f"[{label}] {text}" for label, text in lines)
        return f"$ {' '.join(self.command)}\n(exit code {self.returncode})\n{body}"

    # -- searching and waiting -----------------------------------------------------------

    def _search(
        self, regex: re.Pattern[str], stream: Optional[str], start: int
    ) -> Optional[re.Match[str]]:
        """First match at or after line ``start`` (caller holds the condition)."""
        for label, text in self._lines[start:]:
            if stream is not None and label != stream:
                continue
            match = regex.search(text)
            if match is not None:
                return match
        return None

    def find(
        self, pattern: PatternLike, *, stream: Optional[str] = None, start: int = 0
    ) -> Optional[re.Match[str]]:
        """The first line read so far matching ``pattern`` (``re.search``), without waiting."""
        regex = _compile(pattern)
        with self._cond:
            return self._search(regex, stream, start)

    def find_all(self, pattern: PatternLike, *, stream: Optional[str] = None) -> List[str]:
        """Every line read so far that matches ``pattern``."""
        regex = _compile(pattern)
        return [line for line in self.lines(stream) if regex.search(line)]

    def wait_for(
        self,
        pattern: PatternLike,
        timeout: float,
        *,
        stream: Optional[str] = None,
        start: int = 0,
        on_wait: Optional[Callable[[], object]] = None,
        interval: float = 0.005,
    ) -> re.Match[str]:
        """Return the match of the first line (at or after ``start``) matching ``pattern``.

        Waits at most ``timeout`` seconds; raises :class:`GnuTLSError` (with the output
        tail) on timeout, or as soon as both streams end without such a line.
        ``on_wait`` is called every ``interval`` seconds while waiting (to keep polling
        a godot_dtls peer in the same thread).
        """
        if self._proc is None:
            raise GnuTLSError(f"{self.name}: process not started")
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
                    reason = f"exited without a line matching {regex.pattern!r}"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = f"no line matching {regex.pattern!r} within {timeout:.1f} s"
                    break
                self._cond.wait(min(remaining, interval) if on_wait is not None else remaining)
        if self._open_streams <= 0:
            # Both streams ended: the process is exiting; reap it so that the exit code
            # (returncode, and the message below) is known.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=min(self.stop_timeout, 2.0))
        raise GnuTLSError(f"{self.name}: {reason}\n{self.output()}")

    def wait(
        self,
        timeout: float,
        *,
        on_wait: Optional[Callable[[], object]] = None,
        interval: float = 0.005,
    ) -> int:
        """Wait for the process to exit and return its exit code (raises on timeout).

        ``on_wait`` is called every ``interval`` seconds while waiting. The output read
        so far is complete once this returns (the reader threads get a moment to reach
        end of file).
        """
        proc = self._proc
        if proc is None:
            raise GnuTLSError(f"{self.name}: process not started")
        deadline = time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            code = proc.poll()
            if code is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GnuTLSError(
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
        """Type ``text`` and a newline on stdin (``gnutls-cli`` sends it as one record)."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise GnuTLSError(f"{self.name}: process not started")
        try:
            proc.stdin.write(text + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise GnuTLSError(
                f"{self.name}: cannot write to stdin: {exc}\n{self.output()}"
            ) from exc

    def close_stdin(self) -> None:
        """End of input: ``gnutls-cli`` sends close_notify and exits."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise GnuTLSError(f"{self.name}: process not started")
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


class GnuTLSServer(GnuTLSProcess):
    """A ``gnutls-serv --udp`` run; :attr:`port` is the UDP port it listens on."""

    def __init__(self, command: Sequence[str], port: int, *, stop_timeout: float = 5.0) -> None:
        """Prepare (not start) ``command``, a gnutls-serv listening on UDP ``port``."""
        super().__init__(command, name="gnutls-serv", stop_timeout=stop_timeout)
        self.port = port

    def ready(self, timeout: float = 5.0) -> None:
        """Wait for the IPv4 "listening ... done" line; raise if the bind failed."""
        match = self.wait_for(_LISTENING, timeout, stream=STDERR)
        if match.group(2).strip() != "done" or int(match.group(1)) != self.port:
            raise GnuTLSError(f"gnutls-serv could not listen: {match.group(0)}\n{self.output()}")


def write_psk_passwd(path: PathLike, keys: Iterable[Tuple[str, bytes]]) -> str:
    """Write a ``--pskpasswd`` file (``identity:hexkey`` lines); returns its path."""
    lines = "".join(f"{identity}:{key.hex()}\n" for identity, key in keys)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(lines)
    return os.fspath(path)


def gnutls_serv_command(
    port: int,
    *,
    cert: Optional[PathLike] = None,
    key: Optional[PathLike] = None,
    pskpasswd: Optional[PathLike] = None,
    priority: Optional[str] = None,
    mtu: Optional[int] = None,
    extra: Iterable[str] = (),
    binary: Optional[str] = None,
) -> List[str]:
    """The ``gnutls-serv --udp --echo`` command line for ``port``.

    ``cert`` may hold the whole chain (leaf first); ``pskpasswd`` enables PSK with a
    file made by :func:`write_psk_passwd`; ``priority`` is a GnuTLS priority string.
    """
    command = [binary or gnutls_binary(GNUTLS_SERV) or GNUTLS_SERV, "--udp", "--echo"]
    command += ["-p", str(port)]
    if cert is not None:
        command += ["--x509certfile", os.fspath(cert)]
    if key is not None:
        command += ["--x509keyfile", os.fspath(key)]
    if pskpasswd is not None:
        command += ["--pskpasswd", os.fspath(pskpasswd)]
    if priority is not None:
        command += ["--priority", priority]
    if mtu is not None:
        command += ["--mtu", str(mtu)]
    return command + list(extra)


def start_gnutls_serv(
    cert: Optional[PathLike] = None,
    key: Optional[PathLike] = None,
    *,
    pskpasswd: Optional[PathLike] = None,
    priority: Optional[str] = None,
    mtu: Optional[int] = None,
    extra: Iterable[str] = (),
    ready_timeout: float = 5.0,
    attempts: int = 3,
    binary: Optional[str] = None,
) -> GnuTLSServer:
    """Start ``gnutls-serv --udp --echo`` on a free port and wait until it listens.

    Retries on a new port if the bind fails (another process took the port). The
    returned server is started: use it in a ``with`` block so it is stopped.
    """
    last: Optional[GnuTLSError] = None
    for _ in range(max(1, attempts)):
        port = free_udp_port()
        command = gnutls_serv_command(
            port,
            cert=cert,
            key=key,
            pskpasswd=pskpasswd,
            priority=priority,
            mtu=mtu,
            extra=extra,
            binary=binary,
        )
        server = GnuTLSServer(command, port)
        server.start()
        try:
            server.ready(ready_timeout)
            return server
        except GnuTLSError as exc:
            last = exc
            server.stop()
    assert last is not None
    raise last


def gnutls_cli_command(
    port: int,
    *,
    host: str = "127.0.0.1",
    ca: Optional[PathLike] = None,
    verify_hostname: Optional[str] = None,
    sni_hostname: Optional[str] = None,
    priority: Optional[str] = None,
    psk: Optional[Tuple[str, bytes]] = None,
    debug: Optional[int] = None,
    extra: Iterable[str] = (),
    binary: Optional[str] = None,
) -> List[str]:
    """The ``gnutls-cli --udp`` command line connecting to ``host:port``.

    ``ca`` is the trust anchor file (``--x509cafile``); the server name is checked
    against ``verify_hostname`` (default: ``host``); ``sni_hostname`` is the SNI;
    ``psk`` is ``(identity, key)`` (``--pskusername`` / ``--pskkey``); ``debug`` is
    the ``-d`` level (records and alerts at 5).
    """
    command = [binary or gnutls_binary(GNUTLS_CLI) or GNUTLS_CLI, "--udp", "-p", str(port)]
    if ca is not None:
        command += ["--x509cafile", os.fspath(ca)]
    if verify_hostname is not None:
        command += ["--verify-hostname", verify_hostname]
    if sni_hostname is not None:
        command += ["--sni-hostname", sni_hostname]
    if priority is not None:
        command += ["--priority", priority]
    if psk is not None:
        command += ["--pskusername", psk[0], "--pskkey", psk[1].hex()]
    if debug is not None:
        command += ["-d", str(debug)]
    return [*command, *extra, host]


def gnutls_cli_process(
    port: int,
    *,
    host: str = "127.0.0.1",
    ca: Optional[PathLike] = None,
    verify_hostname: Optional[str] = None,
    sni_hostname: Optional[str] = None,
    priority: Optional[str] = None,
    psk: Optional[Tuple[str, bytes]] = None,
    debug: Optional[int] = None,
    extra: Iterable[str] = (),
    binary: Optional[str] = None,
) -> GnuTLSProcess:
    """A (not yet started) ``gnutls-cli --udp`` run; see :func:`gnutls_cli_command`."""
    command = gnutls_cli_command(
        port,
        host=host,
        ca=ca,
        verify_hostname=verify_hostname,
        sni_hostname=sni_hostname,
        priority=priority,
        psk=psk,
        debug=debug,
        extra=extra,
        binary=binary,
    )
    return GnuTLSProcess(command, name="gnutls-cli")


def negotiated_description(process: GnuTLSProcess) -> Optional[str]:
    """gnutls-cli's session description, e.g. ``(DTLS1.2-X.509)-(ECDHE-X25519)-...``."""
    for line in process.lines(STDOUT):
        match = _DESCRIPTION.search(line)
        if match is not None:
            return match.group(1)
    return None
