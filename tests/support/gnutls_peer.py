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
and nothing is lost when a process crashes. :class:`GnuTLSProcess` is a
:class:`godot_dtls.tools.processes.ManagedProcess`: every wait has a deadline, and it always
terminates (then kills) its process by PID when its ``with`` block ends.

Typical use::

    with start_gnutls_serv(cert_path, key_path) as server:
        ...  # connect a DTLS client to 127.0.0.1:server.port

    with gnutls_cli_process(port, ca=ca_path, verify_hostname="localhost") as client:
        client.wait_for(r"^- Simple Client Mode:", 5)
        client.write_line("hello")
        client.wait_for(r"^hello$", 5, start=mark)
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Iterable, Sequence, Union

from godot_dtls.tools import processes
from godot_dtls.tools.processes import (
    STDERR,
    STDOUT,
    ManagedProcess,
    ProcessError,
    start_with_retries,
)

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

PathLike = Union[str, "os.PathLike[str]"]

#: gnutls-serv's readiness line (stderr): ``...port N...done`` or ``...port N...<error>``.
_LISTENING = re.compile(r"listening on IPv4 \S+ port (\d+)\.\.\.(.*)$")
_DESCRIPTION = re.compile(r"^- Description: (.+?)\s*$")


class GnuTLSError(ProcessError):
    """A GnuTLS tool did not print what was expected in time, or failed to start."""


def gnutls_binary(name: str) -> str | None:
    """Path of ``gnutls-serv`` / ``gnutls-cli`` on ``PATH``, or ``None`` if not installed."""
    return shutil.which(name)


def gnutls_version(binary: str, timeout: float = 5.0) -> str:
    """The first line of ``<binary> --version`` (e.g. ``gnutls-serv 3.7.9``)."""
    return processes.first_output_line([binary, "--version"], timeout)


def free_udp_port(host: str = "0.0.0.0") -> int:
    """A UDP port that was free on ``host`` a moment ago (gnutls-serv binds 0.0.0.0)."""
    return processes.free_udp_port(host)


class GnuTLSProcess(ManagedProcess):
    """One run of a GnuTLS tool, as a context manager.

    A :class:`~godot_dtls.tools.processes.ManagedProcess` run under ``stdbuf -oL`` when
    available (see :attr:`line_buffered`), with stdin a pipe (each :meth:`write_line` is
    one record for ``gnutls-cli``), that raises :class:`GnuTLSError`.
    """

    error_type = GnuTLSError

    def __init__(
        self, command: Sequence[str], *, name: str = "gnutls", stop_timeout: float = 5.0
    ) -> None:
        """Prepare (not start) ``command`` (run under ``stdbuf -oL`` when available)."""
        super().__init__(
            command, name=name, stdin=True, line_buffered=True, stop_timeout=stop_timeout
        )


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


def write_psk_passwd(path: PathLike, keys: Iterable[tuple[str, bytes]]) -> str:
    """Write a ``--pskpasswd`` file (``identity:hexkey`` lines); returns its path."""
    lines = "".join(f"{identity}:{key.hex()}\n" for identity, key in keys)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(lines)
    return os.fspath(path)


def gnutls_serv_command(
    port: int,
    *,
    cert: PathLike | None = None,
    key: PathLike | None = None,
    pskpasswd: PathLike | None = None,
    priority: str | None = None,
    mtu: int | None = None,
    extra: Iterable[str] = (),
    binary: str | None = None,
) -> list[str]:
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
    cert: PathLike | None = None,
    key: PathLike | None = None,
    *,
    pskpasswd: PathLike | None = None,
    priority: str | None = None,
    mtu: int | None = None,
    extra: Iterable[str] = (),
    ready_timeout: float = 5.0,
    attempts: int = 3,
    binary: str | None = None,
) -> GnuTLSServer:
    """Start ``gnutls-serv --udp --echo`` on a free port and wait until it listens.

    Retries on a new port if the bind fails (another process took the port). The
    returned server is started: use it in a ``with`` block so it is stopped.
    """

    def make() -> GnuTLSServer:
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
        return GnuTLSServer(command, port)

    return start_with_retries(make, lambda server: server.ready(ready_timeout), attempts)


def gnutls_cli_command(
    port: int,
    *,
    host: str = "127.0.0.1",
    ca: PathLike | None = None,
    verify_hostname: str | None = None,
    sni_hostname: str | None = None,
    priority: str | None = None,
    psk: tuple[str, bytes] | None = None,
    debug: int | None = None,
    extra: Iterable[str] = (),
    binary: str | None = None,
) -> list[str]:
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
    ca: PathLike | None = None,
    verify_hostname: str | None = None,
    sni_hostname: str | None = None,
    priority: str | None = None,
    psk: tuple[str, bytes] | None = None,
    debug: int | None = None,
    extra: Iterable[str] = (),
    binary: str | None = None,
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


def negotiated_description(process: GnuTLSProcess) -> str | None:
    """gnutls-cli's session description, e.g. ``(DTLS1.2-X.509)-(ECDHE-X25519)-...``."""
    for line in process.lines(STDOUT):
        match = _DESCRIPTION.search(line)
        if match is not None:
            return match.group(1)
    return None
