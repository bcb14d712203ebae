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

:class:`OpenSSLProcess` is a :class:`godot_dtls.tools.processes.ManagedProcess`: every wait
has a deadline, and it always terminates (then kills) its process by PID when the
``with`` block ends.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Iterable, Sequence, Union

from godot_dtls.tools.processes import (
    STDOUT,
    ManagedProcess,
    ProcessError,
    first_output_line,
    free_udp_port,
    start_with_retries,
)

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

PathLike = Union[str, "os.PathLike[str]"]

# Session summaries: ``s_client`` prints "    Cipher    : NAME" and
# "New, TLSv1.2, Cipher is NAME"; ``s_server`` prints "CIPHER is NAME".
_CIPHER_PATTERNS = (
    re.compile(r"^\s*Cipher\s*:\s*(\S+)\s*$"),
    re.compile(r"^CIPHER is (\S+)\s*$"),
    re.compile(r"Cipher is (\S+)\s*$"),
)
_PROTOCOL_PATTERN = re.compile(r"^\s*Protocol\s*:\s*(\S+)\s*$")


class OpenSSLError(ProcessError):
    """An ``openssl`` process did not print what was expected in time, or failed to start."""


def openssl_binary() -> str | None:
    """Return the path of ``openssl`` on ``PATH``, or ``None`` if it is not installed."""
    return shutil.which(OPENSSL_BINARY_NAME)


def openssl_version(binary: str | None = None, timeout: float = 5.0) -> str:
    """The first line of ``openssl version`` (e.g. ``OpenSSL 3.0.13 30 Jan 2024``)."""
    path = binary or openssl_binary()
    if path is None:
        raise OpenSSLError(f"{OPENSSL_BINARY_NAME} not found on PATH")
    return first_output_line([path, "version"], timeout)


class OpenSSLProcess(ManagedProcess):
    """One ``openssl`` subcommand run, as a context manager.

    A :class:`~godot_dtls.tools.processes.ManagedProcess` with stdin a pipe (what
    :meth:`write_line` types goes out as one record) that raises :class:`OpenSSLError`.
    """

    error_type = OpenSSLError

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
        super().__init__(name=name, stdin=True, stop_timeout=stop_timeout)
        self.args = [str(arg) for arg in args]
        self.binary = binary or openssl_binary()

    @property
    def command(self) -> list[str]:
        """The full command line."""
        if self.binary is None:
            raise OpenSSLError(f"{OPENSSL_BINARY_NAME} not found on PATH")
        return [self.binary, *self.args]


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

    def make() -> OpenSSLServer:
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
        return OpenSSLServer(args, port, binary=binary)

    return start_with_retries(make, lambda server: server.ready(ready_timeout), attempts)


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
