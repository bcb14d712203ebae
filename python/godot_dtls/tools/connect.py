"""``godot-dtls connect``: a DTLS client for trying a server by hand or from a script.

With ``--send`` it sends each message, prints each echo or reply and exits; without it
and with a terminal on stdin it reads lines and sends each one. The exit code tells
whether the handshake and every exchange worked.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Iterable

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import X509Certificate
from godot_dtls.net import PacketPeerUDP

from .cli_support import CommandError, library_messages
from .serve import wait_readable

__all__ = ["run_client"]


def _options(args: argparse.Namespace) -> TLSOptions:
    chain = None
    if args.ca:
        chain = X509Certificate()
        with library_messages(args.verbose) as messages:
            if chain.load(args.ca) != Error.OK:
                reason = messages[-1] if messages else "no certificate in it"
                raise CommandError(f"--ca {args.ca}: {reason}")
    if args.unsafe:
        # Warns once (on the log, so on stderr): no name check, no chain without --ca.
        return TLSOptions.client_unsafe(chain)
    return TLSOptions.client(chain)


def _poll_until(peer: PacketPeerDTLS, udp: PacketPeerUDP, done, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peer.poll()
        if done():
            return True
        wait_readable([udp.fileno()], 0.01)
    return False


def _messages(args: argparse.Namespace) -> Iterable[str]:
    if args.send:
        return list(args.send)
    if sys.stdin.isatty():
        print("connected; type lines to send, Ctrl-D to quit", flush=True)
    return (line.rstrip("\n") for line in sys.stdin)


def run_client(args: argparse.Namespace) -> int:
    """Connect, exchange the messages, disconnect; returns a process exit code.

    Whatever ends the run (the last message, an error, Ctrl-C), a connected client
    sends close_notify before it exits.
    """
    options = _options(args)
    udp = PacketPeerUDP()
    peer = PacketPeerDTLS()
    peer.status_changed = lambda status: print(f"status {status.name}", flush=True)
    try:
        with library_messages(args.verbose):
            return _exchange(args, udp, peer, options)
    finally:
        peer.disconnect_from_peer()
        udp.close()


def _exchange(
    args: argparse.Namespace, udp: PacketPeerUDP, peer: PacketPeerDTLS, options: TLSOptions
) -> int:
    error = udp.connect_to_host(args.host, args.port)
    if error != Error.OK:
        raise CommandError(f"cannot use {args.host}:{args.port} ({error.name}; HOST is an IP)")
    started = time.perf_counter()
    error = peer.connect_to_peer(udp, args.hostname, options)
    if error != Error.OK:
        raise CommandError(f"connect_to_peer failed: {error.name}: {peer.get_last_error_message()}")
    _poll_until(peer, udp, lambda: peer.get_status() is not Status.HANDSHAKING, args.timeout)
    if peer.get_status() is not Status.CONNECTED:
        reason = peer.get_last_error_message() or "timed out"
        print(f"handshake failed ({peer.get_status().name}): {reason}", file=sys.stderr)
        return 1
    connection = peer.get_connection()
    assert connection is not None
    print(
        f"connected in {(time.perf_counter() - started) * 1000:.1f} ms "
        f"({connection.ssl.get_protocol_version_name()}, {connection.ssl.get_cipher_name()})",
        flush=True,
    )
    failures = 0
    for message in _messages(args):
        error = peer.put_var(message) if args.var else peer.put_packet(message.encode())
        if error != Error.OK:
            print(f"send failed: {error.name}", file=sys.stderr)
            failures += 1
            continue
        got = _poll_until(
            peer,
            udp,
            lambda: (
                peer.get_status() is not Status.CONNECTED or peer.get_available_packet_count() > 0
            ),
            args.timeout,
        )
        if not got or peer.get_status() is not Status.CONNECTED:
            print("no reply", file=sys.stderr)
            failures += 1
            break
        reply = peer.get_var() if args.var else peer.get_packet().decode("utf-8", "replace")
        print(f"reply: {reply}", flush=True)
    return 1 if failures else 0
