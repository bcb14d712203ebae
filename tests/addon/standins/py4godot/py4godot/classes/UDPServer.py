"""Godot 4's ``UDPServer`` on a real socket."""

from __future__ import annotations

from godot_dtls.net import UDPServer as _SocketServer

from .PacketPeerUDP import PacketPeerUDP
from .RefCounted import RefCounted


class UDPServer(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        self._server = _SocketServer()

    def listen(self, port: int, bind_address: str = "*") -> int:
        assert isinstance(port, int) and isinstance(bind_address, str)
        return int(self._server.listen(port, bind_address))

    def poll(self) -> int:
        return int(self._server.poll())

    def is_connection_available(self) -> bool:
        return self._server.is_connection_available()

    def take_connection(self) -> PacketPeerUDP | None:
        peer = self._server.take_connection()
        return None if peer is None else PacketPeerUDP(peer)

    def get_local_port(self) -> int:
        return self._server.get_local_port()

    def stop(self) -> None:
        self._server.stop()
