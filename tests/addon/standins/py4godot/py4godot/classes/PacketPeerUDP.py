"""Godot 4's ``PacketPeerUDP`` on a real socket; arguments checked with ``assert`` as the
generated methods do (``generate_type_assertion``, d8e17428). The socket belongs to the
engine object: freeing it closes the socket, and a wrapper of a freed one cannot be used."""

from __future__ import annotations

from typing import Any

from godot_dtls.net import PacketPeerUDP as _SocketPeer

from .core import PackedByteArray, String
from .RefCounted import RefCounted


class PacketPeerUDP(RefCounted):
    def __init__(self) -> None:
        super().__init__()
        if "_engine" in self.__dict__:
            self._adopt_socket(_SocketPeer())

    def _adopt_socket(self, sock: _SocketPeer) -> None:
        engine = self._live()
        engine.payload["socket"] = sock
        engine.on_free.append(sock.close)

    def _sock(self) -> _SocketPeer:
        return self._live().payload["socket"]

    def bind(self, port: int, bind_address: Any = "*", recv_buf_size: int = 65536) -> int:
        assert isinstance(port, int) and isinstance(bind_address, (str, String))
        return int(self._sock().bind(port, str(bind_address), recv_buf_size))

    def is_bound(self) -> bool:
        return self._sock().is_bound()

    def connect_to_host(self, host: Any, port: int) -> int:
        assert isinstance(host, (str, String)) and isinstance(port, int)
        return int(self._sock().connect_to_host(str(host), port))

    def is_socket_connected(self) -> bool:
        return self._sock().is_socket_connected()

    def put_packet(self, buffer: Any) -> int:
        assert isinstance(buffer, PackedByteArray), "buffer must be PackedByteArray"
        return int(self._sock().put_packet(bytes(buffer._data)))

    def get_packet(self) -> PackedByteArray:
        return PackedByteArray._engine_copy(self._sock().get_packet())

    def get_available_packet_count(self) -> int:
        return self._sock().get_available_packet_count()

    def get_packet_error(self) -> int:
        return int(self._sock().get_packet_error())

    def get_packet_ip(self) -> str:
        return self._sock().get_packet_ip()

    def get_packet_port(self) -> int:
        return self._sock().get_packet_port()

    def close(self) -> None:
        self._sock().close()
