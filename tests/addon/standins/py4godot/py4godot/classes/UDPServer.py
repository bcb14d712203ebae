"""Godot 4's ``UDPServer`` on a real socket. ``take_connection()`` returns a new
PacketPeerUDP whose only reference is the one returned (Godot's UDPServer keeps a raw
pointer to the peers it handed out)."""

from __future__ import annotations

from typing import Any

from godot_dtls.net import UDPServer as _SocketServer

from .core import String
from .PacketPeerUDP import PacketPeerUDP
from .RefCounted import RefCounted


class UDPServer(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        if "_engine" in self.__dict__:
            server = _SocketServer()
            self._live().payload["server"] = server
            self._live().on_free.append(server.stop)

    def _server(self) -> _SocketServer:
        return self._live().payload["server"]

    def listen(self, port: int, bind_address: Any = "*") -> int:
        assert isinstance(port, int) and isinstance(bind_address, (str, String))
        return int(self._server().listen(port, str(bind_address)))

    def poll(self) -> int:
        return int(self._server().poll())

    def is_connection_available(self) -> bool:
        return self._server().is_connection_available()

    def take_connection(self) -> PacketPeerUDP | None:
        sock = self._server().take_connection()
        if sock is None:
            return None
        peer = PacketPeerUDP.__new__(PacketPeerUDP)
        RefCounted.__init__(peer)
        peer._adopt_socket(sock)
        return peer

    def get_local_port(self) -> int:
        return self._server().get_local_port()

    def stop(self) -> None:
        self._server().stop()
