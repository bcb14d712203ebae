"""Godot 4's ``PacketPeerUDP`` on a real socket; arguments checked with ``assert``."""

from __future__ import annotations

from typing import Any

from godot_dtls.net import PacketPeerUDP as _SocketPeer

from .core import PackedByteArray
from .RefCounted import RefCounted


class PacketPeerUDP(RefCounted):
    def __init__(self, _peer: _SocketPeer | None = None) -> None:
        super().__init__()
        self._sock = _peer if _peer is not None else _SocketPeer()

    def bind(self, port: int, bind_address: str = "*", recv_buf_size: int = 65536) -> int:
        assert isinstance(port, int) and isinstance(bind_address, str)
        return int(self._sock.bind(port, bind_address, recv_buf_size))

    def is_bound(self) -> bool:
        return self._sock.is_bound()

    def connect_to_host(self, host: str, port: int) -> int:
        assert isinstance(host, str) and isinstance(port, int)
        return int(self._sock.connect_to_host(host, port))

    def is_socket_connected(self) -> bool:
        return self._sock.is_socket_connected()

    def put_packet(self, buffer: Any) -> int:
        assert isinstance(buffer, PackedByteArray)
        return int(self._sock.put_packet(bytes(buffer._data)))

    def get_packet(self) -> PackedByteArray:
        return PackedByteArray._from_bytes(self._sock.get_packet())

    def get_available_packet_count(self) -> int:
        return self._sock.get_available_packet_count()

    def get_packet_error(self) -> int:
        return int(self._sock.get_packet_error())

    def get_packet_ip(self) -> str:
        return self._sock.get_packet_ip()

    def get_packet_port(self) -> int:
        return self._sock.get_packet_port()

    def close(self) -> None:
        self._sock.close()
