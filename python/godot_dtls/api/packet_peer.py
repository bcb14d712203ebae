"""``PacketPeer``: the engine's abstract packet peer, shared by the DTLS and UDP peers.

It owns what Godot puts in the base class: the empty-packet shortcut of
``put_packet``, the error remembered by ``get_packet``, and Variant serialisation for
``put_var``/``get_var`` with the ``encode_buffer_max_size`` limit. Subclasses implement
``_put_packet`` and ``_get_packet`` only.
"""

from __future__ import annotations

from typing import Any, Protocol

from godot_dtls.core.log import logger

from .arguments import ArgumentError, check_bool, refuses_bad_arguments
from .errors import Error
from .locking import new_lock, serialised
from .variant import VariantError, decode_variant, encode_variant

__all__ = ["GODOT4_VARIANTS", "PacketPeer", "VariantCodec", "as_bytes"]

_DEFAULT_ENCODE_BUFFER_MAX_SIZE = 8 * 1024 * 1024
_MIN_ENCODE_BUFFER_MAX_SIZE = 1024
_MAX_ENCODE_BUFFER_MAX_SIZE = 256 * 1024 * 1024


def as_bytes(buffer: Any) -> bytes | None:
    """``buffer`` as ``bytes`` if it is bytes-like, else None (the caller reports it)."""
    if isinstance(buffer, bytes):
        return buffer
    if isinstance(buffer, (bytearray, memoryview)):
        return bytes(buffer)
    return None


class VariantCodec(Protocol):
    """The bytes of ``put_var``/``get_var``: both raise :class:`VariantError` on failure."""

    def encode(self, value: Any, full_objects: bool) -> bytes: ...

    def decode(self, data: bytes, allow_objects: bool) -> tuple[Any, int]: ...


class _Godot4Variants:
    """Godot 4's binary Variant format (:mod:`godot_dtls.api.variant`)."""

    def encode(self, value: Any, full_objects: bool) -> bytes:
        return encode_variant(value, full_objects)

    def decode(self, data: bytes, allow_objects: bool) -> tuple[Any, int]:
        return decode_variant(data, allow_objects)


#: The default codec: Godot 4's encoding of Python values. An engine adapter may give a
#: peer its engine's own codec instead (Godot 3's ids differ from type 5 on).
GODOT4_VARIANTS: VariantCodec = _Godot4Variants()


class PacketPeer:
    """Abstract packet peer with Godot's ``PacketPeer`` methods."""

    def __init__(self) -> None:
        #: Held by every method that changes the peer (see :mod:`.locking`).
        self._lock = new_lock()
        self._last_get_error = Error.OK
        self._encode_buffer_max_size = _DEFAULT_ENCODE_BUFFER_MAX_SIZE
        #: How ``put_var``/``get_var`` turn values into bytes and back.
        self.variant_codec: VariantCodec = GODOT4_VARIANTS

    # ---------------------------------------------------------------- subclass hooks

    def _put_packet(self, data: bytes) -> Error:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_packet(self) -> tuple[bytes, Error]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_available_packet_count(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- Godot API

    @serialised
    def put_packet(self, buffer: Any) -> Error:
        """Send one packet. An empty buffer is OK without touching the implementation."""
        data = as_bytes(buffer)
        if data is None:
            logger.error(
                "put_packet expects a PackedByteArray (bytes), got %s", type(buffer).__name__
            )
            return Error.ERR_INVALID_PARAMETER
        if not data:
            return Error.OK
        return self._put_packet(data)

    @serialised
    def get_packet(self) -> bytes:
        """The next packet; empty bytes on error (see :meth:`get_packet_error`)."""
        data, error = self._get_packet()
        self._last_get_error = error
        return data if error == Error.OK else b""

    def get_packet_error(self) -> Error:
        """The error of the last :meth:`get_packet` or :meth:`get_var` call."""
        return self._last_get_error

    @serialised
    @refuses_bad_arguments()
    def put_var(self, var: Any, full_objects: bool = False) -> Error:
        """Send a value in Godot's Variant encoding (Godot 4's ``var_to_bytes`` format
        unless :attr:`variant_codec` says otherwise)."""
        full_objects = check_bool(full_objects, "full_objects")
        try:
            encoded = self.variant_codec.encode(var, full_objects)
        except VariantError as exc:
            logger.error("put_var: %s", exc)
            return exc.error
        if not encoded:
            return Error.OK
        if len(encoded) > self._encode_buffer_max_size:
            logger.error(
                "put_var: encoded size %d exceeds encode_buffer_max_size %d",
                len(encoded),
                self._encode_buffer_max_size,
            )
            return Error.ERR_OUT_OF_MEMORY
        return self.put_packet(encoded)

    @serialised
    def get_var(self, allow_objects: bool = False) -> Any:
        """Receive a value sent with ``put_var``; None on any error.

        Unlike the engine (whose docs promise it but whose code does not), the error is
        also stored for :meth:`get_packet_error`. A wrong ``allow_objects`` reads no
        packet and stores ``ERR_INVALID_PARAMETER``.
        """
        try:
            allow_objects = check_bool(allow_objects, "allow_objects")
        except ArgumentError as exc:
            logger.error("get_var: %s", exc)
            self._last_get_error = Error.ERR_INVALID_PARAMETER
            return None
        data = self.get_packet()
        if self._last_get_error != Error.OK:
            logger.error("get_var: get_packet failed with %s", self._last_get_error.name)
            return None
        try:
            value, _consumed = self.variant_codec.decode(data, allow_objects)
        except VariantError as exc:
            logger.error("get_var: %s", exc)
            self._last_get_error = exc.error
            return None
        return value

    @property
    def encode_buffer_max_size(self) -> int:
        """Largest ``put_var`` encoding allowed (default 8 MiB; stored as a power of two)."""
        return self._encode_buffer_max_size

    @encode_buffer_max_size.setter
    def encode_buffer_max_size(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            logger.error("encode_buffer_max_size must be an int")
            return
        if value < _MIN_ENCODE_BUFFER_MAX_SIZE:
            logger.error("Max encode buffer must be at least 1024 bytes")
            return
        if value > _MAX_ENCODE_BUFFER_MAX_SIZE:
            logger.error("Max encode buffer cannot exceed 256 MiB")
            return
        self._encode_buffer_max_size = 1 << (value - 1).bit_length()

    def get_encode_buffer_max_size(self) -> int:
        return self.encode_buffer_max_size

    def set_encode_buffer_max_size(self, value: int) -> None:
        self.encode_buffer_max_size = value
