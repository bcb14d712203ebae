"""Loopback helpers shared by tests: connect a client to an EchoServer and poll both."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterable, Iterator

from godot_dtls import Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.tools.serve import EchoServer, wait_readable


def poll_until(
    condition: Callable[[], bool],
    peers: Iterable[PacketPeerDTLS],
    server: EchoServer | None = None,
    timeout: float = 10.0,
    fds: Iterable[int] = (),
) -> bool:
    """Poll the server and peers until ``condition()`` holds or ``timeout`` passes."""
    peers = list(peers)
    fds = list(fds)
    if server is not None:
        fds.append(server.fileno())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None:
            server.poll()
        for peer in peers:
            peer.poll()
        if condition():
            return True
        wait_readable(fds, 0.002)
    return condition()


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
        lambda: peer.get_status() is not Status.HANDSHAKING,
        [peer],
        server,
        timeout,
        [udp.fileno()],
    )
    return peer


def echo(peer: PacketPeerDTLS, server: EchoServer, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send ``payload`` and return what comes back (b"" on timeout)."""
    assert peer.put_packet(payload) == Error.OK
    poll_until(
        lambda: peer.get_status() is not Status.CONNECTED or peer.get_available_packet_count() > 0,
        [peer],
        server,
        timeout,
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
