"""What every ``godot-dtls`` command shares: argument types, one-line errors, Ctrl-C.

The command line never shows a traceback: a mistake or a failure is one line on stderr
and a non-zero exit status (2 for a usage or set-up error); Ctrl-C is one line
("interrupted") and exit status 130, after the command has cleaned up (a connected
client or server sends close_notify).

Ctrl-C raises ``KeyboardInterrupt`` only while the program runs its own code or waits.
Inside the library (OpenSSL calls, its callbacks, a peer holding its lock) it is held
back and delivered a few milliseconds later, so the library is never left half-way and
no callback prints a traceback. After the first one, further Ctrl-C are ignored while
the command cleans up.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import cryptography
import OpenSSL

import godot_dtls
from godot_dtls.core.log import logger
from godot_dtls.net.addresses import parse_ip

__all__ = [
    "CommandError",
    "check_free_udp_port",
    "check_writable_file",
    "ignore_interrupts",
    "interrupts_handled",
    "library_messages",
    "non_negative_float",
    "non_negative_int",
    "port_number",
    "positive_float",
    "remote_port",
]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class CommandError(Exception):
    """A usage or set-up error: printed as one line, exit status 2."""


# ---------------------------------------------------------------------- argument types


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def port_number(text: str) -> int:
    """A local UDP port, 0..65535 (0: any free port)."""
    port = _integer(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"ports are 0..65535, not {port}")
    return port


def remote_port(text: str) -> int:
    """A remote UDP port, 1..65535."""
    port = _integer(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"remote ports are 1..65535, not {port}")
    return port


def non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, not {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


# ---------------------------------------------------------------------- checks up front


def check_writable_file(path: str, option: str) -> None:
    """Refuse, before any work, an output file whose folder is missing or read-only."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"{option} {path}: is a folder")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CommandError(f"{option} {path}: not writable")


def check_free_udp_port(address: str, port: int) -> None:
    """Refuse an address that is not an IP literal of this machine, and a UDP port that
    another socket already holds.

    ``UDPServer.listen`` sets SO_REUSEADDR, as the engine does, so on Linux a second
    server would share the port (and silently take the first one's datagrams). A probe
    bound without SO_REUSEADDR finds the port taken.
    """
    if address != "*" and parse_ip(address) is None:
        raise CommandError(f"--bind needs an IP address or '*', not {address!r} (no DNS)")
    parsed = parse_ip(address) if address != "*" else None
    if parsed is None:
        family, host = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "")
    else:
        family, host = (socket.AF_INET, parsed[1]) if parsed[0] else (socket.AF_INET6, parsed[1])
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6 and parsed is None:
            with contextlib.suppress(OSError):
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind((host, port))
    except OSError as exc:
        reasons = {
            errno.EADDRINUSE: f"UDP port {port} is already in use on {address}",
            errno.EADDRNOTAVAIL: f"{address} is not an address of this machine",
            errno.EACCES: f"no permission to use port {port} (below 1024 needs privileges)",
        }
        raise CommandError(
            reasons.get(exc.errno, f"cannot listen on {address}:{port}: {exc}")
        ) from None
    finally:
        probe.close()


# ---------------------------------------------------------------------- library log lines


class _Collector(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.level:
            self.messages.append(record.getMessage())
            return False
        return True


@contextlib.contextmanager
def library_messages(verbose: bool, level: int = logging.ERROR) -> Iterator[list[str]]:
    """Keep the library's log lines at ``level`` and above (errors by default) off
    stderr while a step runs, so the command can report the failure in one line of its
    own that quotes them. With ``-v`` everything is shown as it happens."""
    collector = _Collector(logging.CRITICAL + 1 if verbose else level)
    logger.addFilter(collector)
    try:
        yield collector.messages
    finally:
        logger.removeFilter(collector)


# ---------------------------------------------------------------------- Ctrl-C

_LIBRARY_FOLDERS = tuple(
    str(Path(module.__file__).resolve().parent) + os.sep for module in (OpenSSL, cryptography)
) + tuple(
    str(Path(godot_dtls.__file__).resolve().parent / layer) + os.sep
    for layer in ("core", "api", "net")
)
_RETRY_AFTER = 0.02


class _Interrupts:
    def __init__(self) -> None:
        self.raised = False
        self.retry: threading.Timer | None = None

    def handle(self, signum: int, frame: Any) -> None:
        if self.raised:
            return  # already shutting down: let the clean-up finish
        if _inside_library(frame):
            if self.retry is None or not self.retry.is_alive():
                self.retry = threading.Timer(_RETRY_AFTER, os.kill, (os.getpid(), signum))
                self.retry.daemon = True
                self.retry.start()
            return
        self.raised = True
        raise KeyboardInterrupt


def _inside_library(frame: Any) -> bool:
    while frame is not None:
        if os.path.realpath(frame.f_code.co_filename).startswith(_LIBRARY_FOLDERS):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def interrupts_handled(restore: bool) -> Iterator[None]:
    """Route Ctrl-C (SIGINT) through the rule above while the block runs (main thread
    only; elsewhere signals cannot be handled). Then restore the previous handler when
    ``restore`` (the command ran inside a longer-lived program), else ignore Ctrl-C:
    the process is exiting and has nothing left to interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupts = _Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    try:
        yield
    finally:
        exiting = interrupts.raised or not restore
        signal.signal(signal.SIGINT, signal.SIG_IGN if exiting else previous)


def ignore_interrupts() -> None:
    """While reporting the interruption: nothing more can interrupt it."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
