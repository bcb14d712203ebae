"""``godot-dtls pin``: print the SPKI SHA-256 pins of a certificate file or a live server.

The printed ``sha256/...`` strings go straight into
``TLSOptions.client(..., pinned_spki_sha256=[...])`` (or ``client_unsafe`` for pin-only
trust). Reading them from a live server trusts nothing: check them out of band.
"""

from __future__ import annotations

import os
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

from .serve import wait_readable

__all__ = ["fetch_server_chain", "parse_host_port", "run_pin"]


def parse_host_port(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:4433"`` or ``"[::1]:4433"`` → (host, port); None if not that form."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (host, int(port)) if host else None


def fetch_server_chain(
    host: str, port: int, hostname: str = "", timeout: float = 10.0
) -> list[x509.Certificate]:
    """The certificate chain a DTLS server presents (no verification at all)."""
    udp = PacketPeerUDP()
    if udp.connect_to_host(host, port) != Error.OK:
        raise OSError(f"cannot reach {host}:{port}")
    peer = PacketPeerDTLS()
    try:
        if peer.connect_to_peer(udp, hostname, TLSOptions.client_unsafe()) != Error.OK:
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


def run_pin(target: str, out: TextIO, hostname: str = "") -> int:
    """Print one line per certificate: its pin and subject. Returns an exit code."""
    if os.path.exists(target):
        certificate = X509Certificate()
        if certificate.load(target) != Error.OK:
            print(f"cannot read a certificate from {target}", file=out)
            return 2
        chain = certificate.certificates
    else:
        address = parse_host_port(target)
        if address is None:
            print(f"{target}: neither a certificate file nor HOST:PORT", file=out)
            return 2
        try:
            chain = fetch_server_chain(address[0], address[1], hostname)
        except OSError as exc:
            print(f"cannot get the certificate of {target}: {exc}", file=out)
            return 1
    for depth, cert in enumerate(chain):
        print(
            f"{pin_text(spki_sha256(cert))}  depth {depth}: {cert.subject.rfc4514_string()}",
            file=out,
        )
    return 0
