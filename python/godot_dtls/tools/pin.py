"""``godot-dtls pin``: print the SPKI SHA-256 pins of a certificate file or a live server.

The printed ``sha256/...`` strings go straight into
``TLSOptions.client(..., pinned_spki_sha256=[...])`` (or ``client_unsafe`` for pin-only
trust). Reading them from a live server trusts nothing: check them out of band.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

from cryptography import x509

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import X509Certificate
from godot_dtls.core.verification import pin_text, spki_sha256
from godot_dtls.net import PacketPeerUDP

from .cli_support import library_messages
from .serve import wait_readable

__all__ = ["fetch_server_chain", "parse_host_port", "run_pin"]


def parse_host_port(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:4433"`` or ``"[::1]:4433"`` → (host, port); None if not that form
    (the port must be 1..65535)."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isascii() or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    return (host, number) if host and 1 <= number <= 65535 else None


def fetch_server_chain(
    host: str, port: int, hostname: str = "", timeout: float = 10.0
) -> list[x509.Certificate]:
    """The certificate chain a DTLS server presents (no verification at all)."""
    udp = PacketPeerUDP()
    if udp.connect_to_host(host, port) != Error.OK:
        raise OSError(f"cannot reach {host}:{port} (HOST is an IP address)")
    peer = PacketPeerDTLS()
    try:
        # Trusting nothing is the point here: the unsafe-options warning would mislead.
        with library_messages(verbose=False, level=logging.WARNING):
            options = TLSOptions.client_unsafe()
        if peer.connect_to_peer(udp, hostname, options) != Error.OK:
            raise OSError(peer.get_last_error_message())
        deadline = time.monotonic() + timeout
        while peer.get_status() is Status.HANDSHAKING and time.monotonic() < deadline:
            peer.poll()
            wait_readable([udp.fileno()], 0.01)
        connection = peer.get_connection()
        if peer.get_status() is not Status.CONNECTED or connection is None:
            raise OSError(peer.get_last_error_message() or "handshake timed out")
        chain = connection.ssl.get_peer_cert_chain(as_cryptography=True) or []
        return list(chain)
    finally:
        peer.disconnect_from_peer()
        udp.close()


def run_pin(target: str, out: TextIO, hostname: str = "", errors: TextIO | None = None) -> int:
    """Print one line per certificate on ``out``: its pin and subject; a failure is one
    line on ``errors`` (stderr by default). Returns an exit code."""
    errors = sys.stderr if errors is None else errors
    if os.path.exists(target):
        certificate = X509Certificate()
        with library_messages(verbose=False):
            loaded = certificate.load(target)
        if loaded != Error.OK:
            print(f"pin: cannot read a certificate from {target}", file=errors)
            return 2
        chain = certificate.certificates
    else:
        address = parse_host_port(target)
        if address is None:
            print(f"pin: {target}: neither a certificate file nor HOST:PORT", file=errors)
            return 2
        try:
            with library_messages(verbose=False):
                chain = fetch_server_chain(address[0], address[1], hostname)
        except OSError as exc:
            print(f"pin: cannot get the certificate of {target}: {exc}", file=errors)
            return 1
    for depth, cert in enumerate(chain):
        print(
            f"{pin_text(spki_sha256(cert))}  depth {depth}: {cert.subject.rfc4514_string()}",
            file=out,
        )
    return 0
