"""A poll-driven DTLS echo server and the waiting helper the CLI, demo and tests share.

This is the server loop a Godot script writes in ``_process``: poll the UDPServer,
hand new UDP peers to the DTLSServer, keep the peers that are handshaking or
connected, poll them and send every packet back.
"""

from __future__ import annotations

import select
import time
from typing import Callable, Iterable

from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.dtls_server import DTLSServer
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.net import UDPServer

__all__ = ["EchoServer", "wait_readable"]


def wait_readable(file_descriptors: Iterable[int], timeout: float) -> None:
    """Sleep until one of the sockets has data or ``timeout`` seconds pass."""
    fds = [fd for fd in file_descriptors if fd >= 0]
    if timeout <= 0:
        return
    if fds:
        select.select(fds, [], [], timeout)
    else:
        time.sleep(timeout)


class EchoServer:
    """Echoes every packet of every DTLS client back to it."""

    def __init__(
        self,
        options: TLSOptions,
        port: int = 0,
        bind_address: str = "127.0.0.1",
        *,
        max_pending_connections: int = 16,
        on_status: Callable[[int, Status], None] | None = None,
        dtls_server: DTLSServer | None = None,
    ) -> None:
        self.udp_server = UDPServer()
        self.udp_server.max_pending_connections = max_pending_connections
        self.dtls_server = dtls_server or DTLSServer()
        self.peers: list[PacketPeerDTLS] = []
        self.on_status = on_status
        self.connections = 0
        self.cookie_exchanges = 0
        self.packets_echoed = 0
        self.bytes_echoed = 0
        self._next_id = 0
        error = self.dtls_server.setup(options)
        if error != Error.OK:
            raise ValueError(f"DTLSServer.setup failed: {error.name}")
        error = self.udp_server.listen(port, bind_address)
        if error != Error.OK:
            raise OSError(f"cannot listen on {bind_address}:{port}: {error.name}")

    @property
    def port(self) -> int:
        return self.udp_server.get_local_port()

    def fileno(self) -> int:
        return self.udp_server.fileno()

    def _watch(self, peer: PacketPeerDTLS) -> None:
        self._next_id += 1
        peer_id = self._next_id
        callback = self.on_status
        if callback is not None:
            peer.status_changed = lambda status: callback(peer_id, status)

    def poll(self) -> int:
        """One server frame; returns the number of packets echoed."""
        self.udp_server.poll()
        while self.udp_server.is_connection_available():
            udp_peer = self.udp_server.take_connection()
            peer = self.dtls_server.take_connection(udp_peer)
            if peer is None:
                continue
            if peer.get_status() is Status.HANDSHAKING:
                self.connections += 1
                self._watch(peer)
                self.peers.append(peer)
            else:
                self.cookie_exchanges += 1
        echoed = 0
        kept = []
        for peer in self.peers:
            peer.poll()
            status = peer.get_status()
            if status is Status.CONNECTED:
                while (
                    peer.get_status() is Status.CONNECTED and peer.get_available_packet_count() > 0
                ):
                    packet = peer.get_packet()
                    if peer.put_packet(packet) == Error.OK:
                        echoed += 1
                        self.bytes_echoed += len(packet)
                status = peer.get_status()
            if status in (Status.HANDSHAKING, Status.CONNECTED):
                kept.append(peer)
        self.peers = kept
        self.packets_echoed += echoed
        return echoed

    def stop(self) -> None:
        for peer in self.peers:
            peer.disconnect_from_peer()
        self.peers = []
        self.udp_server.stop()
