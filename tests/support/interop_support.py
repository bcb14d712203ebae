"""What the interop tests share: our client polled by the test, our echo server polled in
a background thread with its status changes and negotiated suites recorded, and the
report helper. The external peers (OpenSSL, GnuTLS, Mbed TLS, Godot) differ; our side
of each test does not."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.tools.serve import EchoServer
from support.loopback import serving
from support.polling import require

HOST = "127.0.0.1"
#: Deadline of one DTLS handshake.
HANDSHAKE_TIMEOUT = 5.0
#: Deadline of one packet crossing over and back.
DATA_TIMEOUT = 3.0
#: Lifetime of an echo server thread: bounds a hang of any test.
SERVER_LIFETIME = 15.0
#: Longest single sleep of a polling loop.
POLL_INTERVAL = 0.01


def report(record_property: Callable[[str, object], None], label: str, value: object) -> None:
    """Print a measured figure (``pytest -s``) and keep it in the test report."""
    print(f"\n{label}: {value}")
    record_property(label, value)


class PolledClient:
    """Our ``PacketPeerDTLS`` over a connected ``PacketPeerUDP``, polled by the test."""

    def __init__(self, mtu: int | None = None) -> None:
        self.udp = PacketPeerUDP()
        self.peer = PacketPeerDTLS() if mtu is None else PacketPeerDTLS(mtu=mtu)
        self.statuses: list[Status] = []
        self.peer.status_changed = self.statuses.append
        self.handshake_seconds = 0.0

    def connect(self, port: int, hostname: str, options: TLSOptions) -> Status:
        """Handshake with ``HOST:port``; returns the status once it is not HANDSHAKING."""
        assert self.udp.connect_to_host(HOST, port) == Error.OK
        started = time.perf_counter()
        error = self.peer.connect_to_peer(self.udp, hostname, options)
        assert error == Error.OK, self.peer.get_last_error_message()
        self.poll_until(
            lambda: self.peer.get_status() is not Status.HANDSHAKING,
            HANDSHAKE_TIMEOUT,
            "the end of the handshake",
        )
        self.handshake_seconds = time.perf_counter() - started
        return self.peer.get_status()

    def poll(self) -> None:
        self.peer.poll()

    def poll_until(
        self, condition: Callable[[], bool], timeout: float, what: str = "the condition"
    ) -> None:
        """Poll until ``condition()``; fail the test after ``timeout`` seconds."""
        require(
            self.peer,
            until=condition,
            what=what,
            timeout=timeout,
            fds=[self.udp.fileno()],
            interval=POLL_INTERVAL,
            detail=lambda: (
                f"status {self.peer.get_status()!r}: {self.peer.get_last_error_message()}"
            ),
        )

    def receive(self, timeout: float = DATA_TIMEOUT) -> bytes:
        """The next packet (fails the test if none arrives while CONNECTED)."""
        self.poll_until(
            lambda: (
                self.peer.get_status() is not Status.CONNECTED
                or self.peer.get_available_packet_count() > 0
            ),
            timeout,
            "a packet",
        )
        assert self.peer.get_status() is Status.CONNECTED, self.peer.get_last_error_message()
        return self.peer.get_packet()

    def echo(self, data: bytes, timeout: float = DATA_TIMEOUT) -> bytes:
        """Send ``data`` as one packet and return the next packet received."""
        assert self.peer.put_packet(data) == Error.OK
        return self.receive(timeout)

    def receive_bytes(self, size: int, timeout: float = DATA_TIMEOUT) -> list[bytes]:
        """Packets received until they hold ``size`` bytes in all (fails on timeout)."""
        packets: list[bytes] = []

        def enough() -> bool:
            while self.peer.get_available_packet_count() > 0:
                packets.append(self.peer.get_packet())
            return sum(map(len, packets)) >= size or self.peer.get_status() is not (
                Status.CONNECTED
            )

        self.poll_until(enough, timeout, f"{size} bytes")
        assert self.peer.get_status() is Status.CONNECTED, self.peer.get_last_error_message()
        return packets

    def negotiated(self) -> tuple[str, str]:
        """(protocol, cipher) of the established connection."""
        connection = self.peer.get_connection()
        assert connection is not None
        return (
            connection.ssl.get_protocol_version_name(),
            connection.ssl.get_cipher_name() or "",
        )

    def cipher(self) -> str:
        return str(self.peer.get_stats().get("cipher", ""))

    def close(self) -> None:
        self.peer.disconnect_from_peer()
        self.udp.close()


@contextmanager
def polled_client(mtu: int | None = None) -> Iterator[PolledClient]:
    client = PolledClient(mtu)
    try:
        yield client
    finally:
        client.close()


class WatchedEchoServer:
    """Our ``EchoServer``, polled in a background thread, with its status changes and
    negotiated suites recorded.

    The callbacks run in the thread that polls the server (``loopback.serving``), so
    the stats are read there, at the moment a peer connects.
    """

    def __init__(self, options: TLSOptions, dtls_server: DTLSServer | None = None) -> None:
        self.events: list[tuple[int, Status]] = []
        self.ciphers: dict[int, str] = {}
        self._seen: set[int] = set()
        self.server = EchoServer(
            options, 0, HOST, on_status=self._on_status, dtls_server=dtls_server
        )

    def _on_status(self, peer_id: int, status: Status) -> None:
        if status is Status.CONNECTED:
            # The peer that just connected: the one connected peer not seen before.
            for peer in self.server.peers:
                if peer.get_status() is Status.CONNECTED and id(peer) not in self._seen:
                    self._seen.add(id(peer))
                    self.ciphers[peer_id] = str(peer.get_stats().get("cipher", ""))
                    break
        self.events.append((peer_id, status))

    @property
    def port(self) -> int:
        return self.server.port

    def statuses(self) -> list[Status]:
        return [status for _, status in list(self.events)]

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        require(
            until=condition,
            what=what,
            timeout=timeout,
            interval=0.005,
            detail=lambda: str(self.events),
        )

    @contextmanager
    def running(self) -> Iterator[WatchedEchoServer]:
        """Poll in a background thread (bounded lifetime); stop the server afterwards."""
        try:
            with serving(self.server, lifetime=SERVER_LIFETIME):
                yield self
        finally:
            self.server.stop()
