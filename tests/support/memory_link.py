"""Drive two sans-IO connections against each other in memory, with optional faults."""

from __future__ import annotations

from typing import Callable, List

from godot_dtls.core.connection import ConnectionState, DTLSConnection

Filter = Callable[[str, List[bytes]], List[bytes]]


def pass_all(direction: str, datagrams: list[bytes]) -> list[bytes]:
    return datagrams


class MemoryLink:
    """A client and the server side that answers it, as on a real network path.

    The server side is rebuilt after a HelloVerifyRequest, as ``DTLSServer`` does: each
    ClientHello without state gets a fresh server connection. ``fault`` may drop,
    reorder or duplicate the datagrams of each direction ("c2s" / "s2c").
    """

    def __init__(
        self,
        client: DTLSConnection,
        make_server: Callable[[], DTLSConnection],
        fault: Filter = pass_all,
    ) -> None:
        self.client = client
        self.make_server = make_server
        self.server: DTLSConnection | None = None
        self.fault = fault
        self.cookie_exchanges = 0

    def deliver_to_server(self, datagrams: list[bytes], now: float) -> None:
        for datagram in self.fault("c2s", datagrams):
            if self.server is None or self.server.state is ConnectionState.CLOSED:
                if self.server is not None:
                    self.cookie_exchanges += 1
                self.server = self.make_server()
            self.server.receive_datagram(datagram, now)

    def deliver_to_client(self, datagrams: list[bytes], now: float) -> None:
        for datagram in self.fault("s2c", datagrams):
            self.client.receive_datagram(datagram, now)

    def exchange(self, now: float, rounds: int = 20) -> None:
        """Move datagrams both ways until nothing is left in flight (bounded)."""
        for _ in range(rounds):
            to_server = self.client.datagrams_to_send()
            self.deliver_to_server(to_server, now)
            to_client = self.server.datagrams_to_send() if self.server is not None else []
            self.deliver_to_client(to_client, now)
            if not to_server and not to_client:
                return

    def fire_timers(self, now: float) -> None:
        for connection in (self.client, self.server):
            if connection is None:
                continue
            timer = connection.get_timer()
            if timer is not None and now >= timer:
                connection.handle_timer(now)
