"""The engine's own PacketPeerUDP seen through godot_dtls's ``Transport`` protocol.

Inside Godot the DTLS peer runs on the engine's socket, not on :mod:`godot_dtls.net`:
this wrapper turns each engine call into the ``Transport`` methods ``PacketPeerDTLS``
uses, and a failing engine call into the Error the engine reports for a broken socket.
"""

from __future__ import annotations

import weakref
from typing import (
    Any,
)

from godot_dtls.api.errors import Error

from .runtime import PLAIN_VALUES, ArgumentError, Runtime, as_error, type_name


class EngineTransport:
    """An engine PacketPeerUDP seen through godot_dtls's ``Transport`` protocol.

    Engine calls never raise in a working runtime, but a raise here would escape from
    ``PacketPeerDTLS.poll()`` mid-update, so each one is caught and reported as the engine
    reports a socket failure (FAILED, -1 packets, not connected).

    The engine object is kept alive through ``runtime.hold`` for as long as this transport
    exists (a py4godot argument arrives without a reference, so a UDP peer the script drops
    would otherwise be freed under the connection); the hold ends when the DTLS peer lets
    the transport go (connection over, replaced, or the adapter object gone).
    """

    __slots__ = ("__weakref__", "_connected", "_rt", "_udp")

    _REQUIRED = ("put_packet", "get_packet", "get_available_packet_count")

    def __init__(self, udp: Any, runtime: Runtime) -> None:
        if udp is None or isinstance(udp, (*PLAIN_VALUES, dict, *runtime.string_types)):
            raise ArgumentError(f"udp must be a PacketPeerUDP, got {type_name(udp)}")
        names = (*self._REQUIRED, runtime.connected_check)
        missing = [name for name in names if not callable(getattr(udp, name, None))]
        if missing:
            raise ArgumentError(
                f"udp must be a PacketPeerUDP ({type_name(udp)} has no {', '.join(missing)})"
            )
        self._udp = udp
        self._rt = runtime
        self._connected = getattr(udp, runtime.connected_check)
        weakref.finalize(self, runtime.hold(udp))

    def put_packet(self, buffer: bytes) -> Error:
        try:
            result = self._udp.put_packet(self._rt.from_bytes(buffer))
            # OK without building an Error from the engine's value: once per datagram.
            return Error.OK if result == 0 else as_error(result)
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.put_packet failed: {exc!r}")
            return Error.FAILED

    def get_packet(self) -> bytes:
        try:
            return self._rt.to_bytes(self._udp.get_packet())
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.get_packet failed: {exc!r}")
            return b""

    def get_available_packet_count(self) -> int:
        try:
            return int(self._udp.get_available_packet_count())
        except Exception as exc:
            self._rt.report(f"godot_dtls: PacketPeerUDP.get_available_packet_count: {exc!r}")
            return -1

    def is_socket_connected(self) -> bool:
        try:
            return bool(self._connected())
        except Exception:
            return False

    def get_packet_ip(self) -> str:
        """The remote address; server-side DTLS binds its cookies to it."""
        try:
            return str(self._udp.get_packet_ip())
        except Exception:
            return ""

    def get_packet_port(self) -> int:
        try:
            return int(self._udp.get_packet_port())
        except Exception:
            return 0

    def close(self) -> None:
        """Server side: frees the address on the engine's UDPServer after a cookie exchange."""
        close = getattr(self._udp, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:
                self._rt.report(f"godot_dtls: PacketPeerUDP.close failed: {exc!r}")
