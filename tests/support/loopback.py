"""Loopback helpers shared by tests: connect a client to an EchoServer and poll both."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

from godot_dtls import Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.tools.serve import EchoServer, wait_readable

from .polling import poll_until


def connect(
    server: EchoServer,
    options: TLSOptions | None,
    hostname: str = "localhost",
    timeout: float = 10.0,
    peer: PacketPeerDTLS | None = None,
) -> PacketPeerDTLS:
    """A client peer connected (or failed) to ``server``; its UDP peer is ``peer.udp``."""
    udp = PacketPeerUDP()
    assert udp.connect_to_host("127.0.0.1", server.port) == Error.OK
    peer = peer or PacketPeerDTLS()
    peer.udp = udp  # type: ignore[attr-defined]  # keep the socket for the test's lifetime
    assert peer.connect_to_peer(udp, hostname, options) == Error.OK
    poll_until(
        server,
        peer,
        until=lambda: peer.get_status() is not Status.HANDSHAKING,
        timeout=timeout,
        fds=[udp.fileno(), server.fileno()],
    )
    return peer


def echo(peer: PacketPeerDTLS, server: EchoServer, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send ``payload`` and return what comes back (b"" on timeout)."""
    assert peer.put_packet(payload) == Error.OK
    poll_until(
        server,
        peer,
        until=lambda: (
            peer.get_status() is not Status.CONNECTED or peer.get_available_packet_count() > 0
        ),
        timeout=timeout,
        fds=[server.fileno()],
    )
    if peer.get_status() is not Status.CONNECTED:
        return b""
    return peer.get_packet()


@contextlib.contextmanager
def serving(server: EchoServer, lifetime: float = 30.0) -> Iterator[EchoServer]:
    """Poll ``server`` in a background thread while the block runs (bounded lifetime)."""
    stop = threading.Event()

    def run() -> None:
        deadline = time.monotonic() + lifetime
        while not stop.is_set() and time.monotonic() < deadline:
            server.poll()
            wait_readable([server.fileno()], 0.005)

    thread = threading.Thread(target=run, name="echo-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5.0)
