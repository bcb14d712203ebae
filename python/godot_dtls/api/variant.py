"""Godot 4's binary Variant serialisation, byte-compatible with the engine.

Why this module exists: ``PacketPeer.put_var`` / ``get_var`` (and GDScript's
``var_to_bytes`` / ``bytes_to_var``) put Godot's own binary Variant encoding inside
every DTLS packet.  A Python peer talking to a Godot game has to produce and parse
exactly those bytes, so this is an independent re-implementation of the rules in the
engine's ``core/io/marshalls.cpp`` (``encode_variant`` / ``decode_variant``):

* every value is a 4-byte little-endian header (bits 0-7 type id, bit 16 the
  "64-bit" / "object as id" flag, bits 16-19 the typed-container kinds) followed by a
  body that always ends 4-byte aligned;
* ``int`` uses 32 bits unless the value needs 64, ``float`` uses 32 bits unless the
  value is not exactly representable as a float32 (NaN therefore always uses 64);
* strings are a uint32 UTF-8 byte length, the bytes, and zero padding to 4.

Decoding never trusts the input: counts are checked against the bytes that are left
before anything is allocated, nesting deeper than Godot's ``MAX_RECURSION_DEPTH``
(1024) is refused with ``ERR_OUT_OF_MEMORY`` exactly as the engine does, both
directions are iterative (no Python recursion, so no ``RecursionError``), and the
only exception that ever leaves :func:`decode_variant` is :class:`VariantError`.

Python to Godot mapping used by :func:`encode_variant`: ``None`` -> nil, ``bool`` ->
bool, ``int`` -> int, ``float`` -> float, ``str`` -> String, :class:`StringName`,
:class:`NodePath`, the small value classes (:class:`Vector2`, :class:`Color`, ...),
``dict`` -> Dictionary, ``list``/``tuple`` -> Array, bytes-like -> PackedByteArray,
``array.array`` and the ``Packed*Array`` list subclasses -> the matching packed array.
"""

from __future__ import annotations

import struct
import sys
from array import array
from enum import IntEnum
from itertools import chain
from typing import Any, Iterator, NamedTuple

from .errors import Error

__all__ = [
    "AABB",
    "MAX_RECURSION_DEPTH",
    "RID",
    "Basis",
    "Color",
    "EncodedObjectAsID",
    "GodotCallable",
    "GodotObject",
    "NodePath",
    "PackedColorArray",
    "PackedFloat32Array",
    "PackedFloat64Array",
    "PackedInt32Array",
    "PackedInt64Array",
    "PackedStringArray",
    "PackedVector2Array",
    "PackedVector3Array",
    "PackedVector4Array",
    "Plane",
    "Projection",
    "Quaternion",
    "Rect2",
    "Rect2i",
    "Signal",
    "StringName",
    "Transform2D",
    "Transform3D",
    "VariantError",
    "VariantType",
    "Vector2",
    "Vector2i",
    "Vector3",
    "Vector3i",
    "Vector4",
    "Vector4i",
    "decode_variant",
    "encode_variant",
]

#: ``Variant::MAX_RECURSION_DEPTH`` in Godot 4 (core/variant/variant.h).
MAX_RECURSION_DEPTH = 1024


class VariantType(IntEnum):
    """Godot 4's ``Variant::Type`` ids as they appear in bits 0-7 of a header."""

    NIL = 0
    BOOL = 1
    INT = 2
    FLOAT = 3
    STRING = 4
    VECTOR2 = 5
    VECTOR2I = 6
    RECT2 = 7
    RECT2I = 8
    VECTOR3 = 9
    VECTOR3I = 10
    TRANSFORM2D = 11
    VECTOR4 = 12
    VECTOR4I = 13
    PLANE = 14
    QUATERNION = 15
    AABB = 16
    BASIS = 17
    TRANSFORM3D = 18
    PROJECTION = 19
    COLOR = 20
    STRING_NAME = 21
    NODE_PATH = 22
    RID = 23
    OBJECT = 24
    CALLABLE = 25
    SIGNAL = 26
    DICTIONARY = 27
    ARRAY = 28
    PACKED_BYTE_ARRAY = 29
    PACKED_INT32_ARRAY = 30
    PACKED_INT64_ARRAY = 31
    PACKED_FLOAT32_ARRAY = 32
    PACKED_FLOAT64_ARRAY = 33
    PACKED_STRING_ARRAY = 34
    PACKED_VECTOR2_ARRAY = 35
    PACKED_VECTOR3_ARRAY = 36
    PACKED_COLOR_ARRAY = 37
    PACKED_VECTOR4_ARRAY = 38
    VARIANT_MAX = 39


class VariantError(Exception):
    """A value could not be encoded, or bytes could not be decoded.

    ``error`` is the :class:`~godot_dtls.api.errors.Error` Godot itself reports in the same
    situation (``ERR_INVALID_DATA``, ``ERR_FILE_EOF``, ``ERR_OUT_OF_MEMORY``,
    ``ERR_UNAUTHORIZED``, or ``ERR_INVALID_PARAMETER`` for Python values that have no
    Godot counterpart).
    """

    def __init__(self, error: Error, message: str) -> None:
        super().__init__(f"{message} ({Error(error).name})")
        self.error = Error(error)
        self.message = message


# --------------------------------------------------------------------------------------
# Value classes
# --------------------------------------------------------------------------------------


class Vector2(NamedTuple):
    """Godot ``Vector2`` (sent as two float32)."""

    x: float
    y: float


class Vector2i(NamedTuple):
    """Godot ``Vector2i`` (two int32)."""

    x: int
    y: int


class Rect2(NamedTuple):
    """Godot ``Rect2``: position (x, y) and size (width, height), four float32."""

    x: float
    y: float
    width: float
    height: float

    @property
    def position(self) -> Vector2:
        """The rectangle's position as a :class:`Vector2`."""
        return Vector2(self.x, self.y)

    @property
    def size(self) -> Vector2:
        """The rectangle's size as a :class:`Vector2`."""
        return Vector2(self.width, self.height)


class Rect2i(NamedTuple):
    """Godot ``Rect2i``: position and size, four int32."""

    x: int
    y: int
    width: int
    height: int


class Vector3(NamedTuple):
    """Godot ``Vector3`` (three float32)."""

    x: float
    y: float
    z: float


class Vector3i(NamedTuple):
    """Godot ``Vector3i`` (three int32)."""

    x: int
    y: int
    z: int


class Transform2D(NamedTuple):
    """Godot ``Transform2D`` in wire order: x axis, y axis, origin (six float32)."""

    xx: float
    xy: float
    yx: float
    yy: float
    ox: float
    oy: float


class Vector4(NamedTuple):
    """Godot ``Vector4`` (four float32)."""

    x: float
    y: float
    z: float
    w: float


class Vector4i(NamedTuple):
    """Godot ``Vector4i`` (four int32)."""

    x: int
    y: int
    z: int
    w: int


class Plane(NamedTuple):
    """Godot ``Plane``: normal (x, y, z) and distance d, four float32."""

    x: float
    y: float
    z: float
    d: float


class Quaternion(NamedTuple):
    """Godot ``Quaternion`` (four float32)."""

    x: float
    y: float
    z: float
    w: float


class AABB(NamedTuple):
    """Godot ``AABB``: position (x, y, z) and size, six float32."""

    x: float
    y: float
    z: float
    width: float
    height: float
    depth: float


class Basis(NamedTuple):
    """Godot ``Basis`` in wire order: ``rows[i][j]`` row-major (nine float32)."""

    r00: float
    r01: float
    r02: float
    r10: float
    r11: float
    r12: float
    r20: float
    r21: float
    r22: float


class Transform3D(NamedTuple):
    """Godot ``Transform3D``: the basis rows row-major, then the origin (12 float32)."""

    r00: float
    r01: float
    r02: float
    r10: float
    r11: float
    r12: float
    r20: float
    r21: float
    r22: float
    ox: float
    oy: float
    oz: float


class Projection(NamedTuple):
    """Godot ``Projection`` in wire order: ``columns[i][j]`` column-major (16 float32)."""

    c00: float
    c01: float
    c02: float
    c03: float
    c10: float
    c11: float
    c12: float
    c13: float
    c20: float
    c21: float
    c22: float
    c23: float
    c30: float
    c31: float
    c32: float
    c33: float


class Color(NamedTuple):
    """Godot ``Color`` (always four float32, even in double-precision builds)."""

    r: float
    g: float
    b: float
    a: float = 1.0


class RID(NamedTuple):
    """Godot ``RID``: an opaque 64-bit id, only meaningful inside the sending process."""

    id: int


class GodotCallable(NamedTuple):
    """Godot ``Callable``: the wire format carries no body, so it decodes as empty."""


class Signal(NamedTuple):
    """Godot ``Signal``: a signal name and the 64-bit id of the object owning it."""

    name: str
    object_id: int


class NodePath(NamedTuple):
    """Godot ``NodePath``: node names, property sub-names, and whether it is absolute."""

    names: tuple[str, ...] = ()
    subnames: tuple[str, ...] = ()
    absolute: bool = False

    @classmethod
    def from_string(cls, path: str) -> NodePath:
        """Parse Godot's textual form, e.g. ``"/root/Main:position:x"``."""
        absolute = path.startswith("/")
        main, _, props = path.partition(":")
        names = tuple(part for part in main.split("/") if part)
        subnames = tuple(part for part in props.split(":") if part) if props else ()
        return cls(names, subnames, absolute)

    def __str__(self) -> str:
        """Godot's textual form of the path."""
        prefix = "/" if self.absolute else ""
        return prefix + "/".join(self.names) + "".join(":" + s for s in self.subnames)


class StringName(str):
    """Godot ``StringName``: a ``str`` that is sent with type id 21 instead of 4."""

    __slots__ = ()

    def __repr__(self) -> str:
        """Show the type so it is not mistaken for a plain ``str``."""
        return f"StringName({str.__repr__(self)})"


class EncodedObjectAsID(int):
    """An object sent by instance id (``put_var`` without full objects).

    Decoding gives this ``int`` subclass; encoding it sends the object-as-id form again.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        """Show the type so it is not mistaken for a plain ``int``."""
        return f"EncodedObjectAsID({int(self)})"


class GodotObject(NamedTuple):
    """A full object (class name and stored properties); needs ``allow_objects``."""

    class_name: str
    properties: dict[str, Any]


class PackedInt32Array(list):
    """A ``list`` of ints that encodes as ``PackedInt32Array`` (30)."""

    __slots__ = ()


class PackedInt64Array(list):
    """A ``list`` of ints that encodes as ``PackedInt64Array`` (31)."""

    __slots__ = ()


class PackedFloat32Array(list):
    """A ``list`` of floats that encodes as ``PackedFloat32Array`` (32)."""

    __slots__ = ()


class PackedFloat64Array(list):
    """A ``list`` of floats that encodes as ``PackedFloat64Array`` (33)."""

    __slots__ = ()


class PackedStringArray(list):
    """A ``list`` of ``str`` that encodes as ``PackedStringArray`` (34)."""

    __slots__ = ()


class PackedVector2Array(list):
    """A ``list`` of :class:`Vector2` that encodes as ``PackedVector2Array`` (35)."""

    __slots__ = ()


class PackedVector3Array(list):
    """A ``list`` of :class:`Vector3` that encodes as ``PackedVector3Array`` (36)."""

    __slots__ = ()


class PackedColorArray(list):
    """A ``list`` of :class:`Color` that encodes as ``PackedColorArray`` (37)."""

    __slots__ = ()


class PackedVector4Array(list):
    """A ``list`` of :class:`Vector4` that encodes as ``PackedVector4Array`` (38)."""

    __slots__ = ()


# --------------------------------------------------------------------------------------
# Wire constants
# --------------------------------------------------------------------------------------

_T = VariantType
_TYPE_MASK = 0xFF
_FLAG_64 = 1 << 16  # also "object as id" for OBJECT
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INT_MAX = 0x7FFFFFFF  # C ``INT_MAX``, used by Godot's overflow guards
_BOM = b"\xef\xbb\xbf"
_BIG_ENDIAN = sys.byteorder == "big"

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_II = struct.Struct("<II")
_IIII = struct.Struct("<III")

# array typecode with 4-byte items (``i`` everywhere that matters, ``l`` as a fallback).
_TC_I32 = "i" if array("i").itemsize == 4 else "l"

_HDR = {int(t): _U32.pack(int(t)) for t in VariantType if t != _T.VARIANT_MAX}
_HDR_NIL = _HDR[_T.NIL]
_HDR_INT64 = _U32.pack(_T.INT | _FLAG_64)
_HDR_FLOAT64 = _U32.pack(_T.FLOAT | _FLAG_64)
_HDR_OBJECT_AS_ID = _U32.pack(_T.OBJECT | _FLAG_64)
_PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")


def _fail(error: Error, message: str) -> VariantError:
    """Build (not raise) a :class:`VariantError`; call sites ``raise _fail(...)``."""
    return VariantError(error, message)


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _first(values: tuple[Any, ...]) -> Any:
    return values[0]


def _bool_of(values: tuple[int, ...]) -> bool:
    return values[0] != 0


def _empty_callable(values: tuple[Any, ...]) -> GodotCallable:
    return GodotCallable()


# Fixed-size bodies: type id -> (float32/int struct, float64 struct when bit 16 is
# honoured, constructor taking the unpacked tuple).  Godot ignores the flag for the
# integer vector types and for Color (always single precision).
_FIXED: dict[int, tuple[struct.Struct, struct.Struct | None, Any]] = {
    _T.BOOL: (_U32, None, _bool_of),
    _T.INT: (_I32, struct.Struct("<q"), _first),
    _T.FLOAT: (_F32, _F64, _first),
    _T.VECTOR2: (struct.Struct("<2f"), struct.Struct("<2d"), Vector2._make),
    _T.VECTOR2I: (struct.Struct("<2i"), None, Vector2i._make),
    _T.RECT2: (struct.Struct("<4f"), struct.Struct("<4d"), Rect2._make),
    _T.RECT2I: (struct.Struct("<4i"), None, Rect2i._make),
    _T.VECTOR3: (struct.Struct("<3f"), struct.Struct("<3d"), Vector3._make),
    _T.VECTOR3I: (struct.Struct("<3i"), None, Vector3i._make),
    _T.TRANSFORM2D: (struct.Struct("<6f"), struct.Struct("<6d"), Transform2D._make),
    _T.VECTOR4: (struct.Struct("<4f"), struct.Struct("<4d"), Vector4._make),
    _T.VECTOR4I: (struct.Struct("<4i"), None, Vector4i._make),
    _T.PLANE: (struct.Struct("<4f"), struct.Struct("<4d"), Plane._make),
    _T.QUATERNION: (struct.Struct("<4f"), struct.Struct("<4d"), Quaternion._make),
    _T.AABB: (struct.Struct("<6f"), struct.Struct("<6d"), AABB._make),
    _T.BASIS: (struct.Struct("<9f"), struct.Struct("<9d"), Basis._make),
    _T.TRANSFORM3D: (struct.Struct("<12f"), struct.Struct("<12d"), Transform3D._make),
    _T.PROJECTION: (struct.Struct("<16f"), struct.Struct("<16d"), Projection._make),
    _T.COLOR: (struct.Struct("<4f"), None, Color._make),
    _T.RID: (_U64, None, RID._make),
    _T.CALLABLE: (struct.Struct("<"), None, _empty_callable),
}


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """Return the input as ``bytes`` (no copy for ``bytes``)."""
    if type(data) is bytes:
        return data
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise _fail(
            Error.ERR_INVALID_PARAMETER,
            f"decode_variant needs bytes, bytearray or memoryview, not {type(data).__name__}",
        ) from None


def _utf8(raw: bytes) -> str:
    """Decode like Godot's ``String::parse_utf8``: skip a BOM, stop at NUL, be strict."""
    if raw[:3] == _BOM:
        raw = raw[3:]
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(Error.ERR_INVALID_DATA, f"invalid UTF-8 in string: {exc.reason}") from None


def _read_string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    """Read a length-prefixed, zero-padded UTF-8 string (``_decode_string``)."""
    if end - pos < 4:
        raise _fail(Error.ERR_INVALID_DATA, "truncated string length")
    length = _I32.unpack_from(buf, pos)[0]
    pos += 4
    padded = (length + 3) & ~3
    if length < 0 or padded > end - pos:
        raise _fail(Error.ERR_FILE_EOF, f"string of {length} bytes runs past the buffer")
    return _utf8(buf[pos : pos + length]), pos + padded


def _read_count(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """Read a signed 32-bit element count."""
    if end - pos < 4:
        raise _fail(Error.ERR_INVALID_DATA, f"truncated {what} count")
    return _I32.unpack_from(buf, pos)[0], pos + 4


def _dec_string(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    return _read_string(buf, pos, end)


def _dec_string_name(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    text, pos = _read_string(buf, pos, end)
    return StringName(text), pos


def _dec_node_path(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    if end - pos < 4:
        raise _fail(Error.ERR_INVALID_DATA, "truncated NodePath")
    first = _U32.unpack_from(buf, pos)[0]
    if not first & 0x80000000:
        raise _fail(Error.ERR_INVALID_DATA, "NodePath in the obsolete string format")
    if end - pos < 12:
        raise _fail(Error.ERR_INVALID_DATA, "truncated NodePath")
    name_count = first & 0x7FFFFFFF
    subname_count, flags = _II.unpack_from(buf, pos + 4)
    pos += 12
    if flags & 2:  # obsolete format with the property separate from the sub-path
        subname_count = (subname_count + 1) & 0xFFFFFFFF
    total = (name_count + subname_count) & 0xFFFFFFFF  # uint32 arithmetic, as in C++
    names: list[str] = []
    subnames: list[str] = []
    for i in range(total):  # each string needs >= 4 bytes, so this ends quickly on lies
        text, pos = _read_string(buf, pos, end)
        (names if i < name_count else subnames).append(text)
    return NodePath(tuple(names), tuple(subnames), bool(flags & 1)), pos


def _dec_signal(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    name, pos = _read_string(buf, pos, end)
    if end - pos < 8:
        raise _fail(Error.ERR_INVALID_DATA, "truncated Signal object id")
    return Signal(name, _U64.unpack_from(buf, pos)[0]), pos + 8


def _dec_byte_array(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    count, pos = _read_count(buf, pos, end, "PackedByteArray")
    if count < 0 or count > end - pos:
        raise _fail(Error.ERR_INVALID_DATA, f"PackedByteArray of {count} bytes is too long")
    # Godot only checks the bytes themselves; padding missing at the very end is tolerated.
    return buf[pos : pos + count], pos + ((count + 3) & ~3)


def _packed_items(buf: bytes, pos: int, end: int, item_size: int, what: str) -> tuple[int, int]:
    """Read and validate a packed-array count; return (count, position of the data)."""
    count, pos = _read_count(buf, pos, end, what)
    if count < 0 or count > _INT_MAX // item_size or count * item_size > end - pos:
        raise _fail(Error.ERR_INVALID_DATA, f"{what} of {count} elements is too long")
    return count, pos


def _unpack_numbers(buf: bytes, pos: int, count: int, typecode: str, size: int) -> list[Any]:
    values = array(typecode)
    values.frombytes(buf[pos : pos + count * size])
    if _BIG_ENDIAN:
        values.byteswap()
    return values.tolist()


def _numeric_decoder(typecode: str, size: int, wrap: type, what: str) -> Any:
    def decode(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
        count, pos = _packed_items(buf, pos, end, size, what)
        return wrap(_unpack_numbers(buf, pos, count, typecode, size)), pos + count * size

    return decode


def _vector_decoder(width: int, maker: Any, wrap: type, what: str, has_64: bool) -> Any:
    def decode(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
        wide = has_64 and bool(header & _FLAG_64)
        size, typecode = (8, "d") if wide else (4, "f")
        count, pos = _packed_items(buf, pos, end, size * width, what)
        flat = _unpack_numbers(buf, pos, count * width, typecode, size)
        columns = [iter(flat)] * width
        return wrap(map(maker, zip(*columns))), pos + count * width * size

    return decode


def _dec_string_array(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    count, pos = _read_count(buf, pos, end, "PackedStringArray")
    result = PackedStringArray()
    for _ in range(count):  # negative -> empty; every string eats >= 4 bytes
        text, pos = _read_string(buf, pos, end)
        result.append(text)
    return result, pos


_SIMPLE: dict[int, Any] = {
    _T.STRING: _dec_string,
    _T.STRING_NAME: _dec_string_name,
    _T.NODE_PATH: _dec_node_path,
    _T.SIGNAL: _dec_signal,
    _T.PACKED_BYTE_ARRAY: _dec_byte_array,
    _T.PACKED_INT32_ARRAY: _numeric_decoder(_TC_I32, 4, PackedInt32Array, "PackedInt32Array"),
    _T.PACKED_INT64_ARRAY: _numeric_decoder("q", 8, PackedInt64Array, "PackedInt64Array"),
    _T.PACKED_FLOAT32_ARRAY: _numeric_decoder("f", 4, PackedFloat32Array, "PackedFloat32Array"),
    _T.PACKED_FLOAT64_ARRAY: _numeric_decoder("d", 8, PackedFloat64Array, "PackedFloat64Array"),
    _T.PACKED_STRING_ARRAY: _dec_string_array,
    _T.PACKED_VECTOR2_ARRAY: _vector_decoder(
        2, Vector2._make, PackedVector2Array, "PackedVector2Array", True
    ),
    _T.PACKED_VECTOR3_ARRAY: _vector_decoder(
        3, Vector3._make, PackedVector3Array, "PackedVector3Array", True
    ),
    _T.PACKED_COLOR_ARRAY: _vector_decoder(
        4, Color._make, PackedColorArray, "PackedColorArray", False
    ),
    _T.PACKED_VECTOR4_ARRAY: _vector_decoder(
        4, Vector4._make, PackedVector4Array, "PackedVector4Array", True
    ),
}


def _skip_container_type(buf: bytes, pos: int, end: int, kind: int, allow_objects: bool) -> int:
    """Parse and discard a typed Array/Dictionary element type description."""
    if kind == 0:  # untyped
        return pos
    if kind == 1:  # builtin: one uint32 Variant type id
        if end - pos < 4:
            raise _fail(Error.ERR_INVALID_DATA, "truncated container element type")
        builtin = _I32.unpack_from(buf, pos)[0]
        if not 0 <= builtin < _T.VARIANT_MAX:
            raise _fail(Error.ERR_INVALID_DATA, f"invalid container element type {builtin}")
        return pos + 4
    text, pos = _read_string(buf, pos, end)  # 2: class name, 3: script path
    if kind == 3 and allow_objects and not text.startswith("res://"):
        raise _fail(Error.ERR_INVALID_DATA, f"invalid script path {text!r}")
    return pos


_ARRAY, _DICT, _OBJECT = 0, 1, 2


class _Frame:
    """A container being filled while decoding (explicit stack instead of recursion)."""

    __slots__ = (
        "class_name",
        "depth",
        "freeze",
        "has_key",
        "items",
        "key",
        "kind",
        "name",
        "remaining",
    )

    def __init__(self, kind: int, remaining: int, items: Any, depth: int, freeze: bool) -> None:
        self.kind = kind
        self.remaining = remaining
        self.items = items
        self.depth = depth  # depth of this container's children
        self.freeze = freeze  # inside a dictionary key: lists must become tuples
        self.has_key = False
        self.key: Any = None
        self.name: str | None = None
        self.class_name = ""


def decode_variant(
    data: bytes | bytearray | memoryview, allow_objects: bool = False
) -> tuple[Any, int]:
    """Decode one Variant from the start of ``data``; return ``(value, bytes_consumed)``.

    Bytes after the value are left alone (``get_var`` ignores them).  Arrays decode to
    ``list`` (typed arrays too: their type description is parsed and dropped),
    Dictionaries to ``dict`` (list keys become tuples so they are hashable), packed
    arrays to ``bytes`` or to the ``Packed*Array`` list subclasses, an object sent as
    its id to :class:`EncodedObjectAsID` (id 0 to ``None``), and a full object to
    :class:`GodotObject`, which requires ``allow_objects`` (else ``ERR_UNAUTHORIZED``).

    Godot tolerates a PackedByteArray whose zero padding is cut off at the end of the
    buffer; the consumed count is then clamped to ``len(data)``.

    Raises :class:`VariantError` and nothing else, whatever the input.
    """
    buf = _as_bytes(data)
    try:
        return _decode(buf, bool(allow_objects))
    except VariantError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise _fail(Error.ERR_OUT_OF_MEMORY, f"variant too large: {exc!r}") from None
    except Exception as exc:  # pragma: no cover - safety net for the "only VariantError" rule
        raise _fail(Error.ERR_BUG, f"unexpected failure while decoding: {exc!r}") from exc


def _decode(buf: bytes, allow_objects: bool) -> tuple[Any, int]:
    end = len(buf)
    pos = 0
    stack: list[_Frame] = []
    fixed_table = _FIXED
    simple_table = _SIMPLE
    while True:
        depth = 0
        if stack:
            top = stack[-1]
            depth = top.depth
            if top.kind == _OBJECT and top.name is None:
                top.name, pos = _read_string(buf, pos, end)
        if depth > MAX_RECURSION_DEPTH:
            raise _fail(Error.ERR_OUT_OF_MEMORY, "variant nested too deeply")
        if end - pos < 4:
            raise _fail(Error.ERR_INVALID_DATA, "truncated variant header")
        header = _U32.unpack_from(buf, pos)[0]
        pos += 4
        vtype = header & _TYPE_MASK
        value: Any
        fixed = fixed_table.get(vtype)
        if fixed is not None:
            layout = fixed[1] if fixed[1] is not None and header & _FLAG_64 else fixed[0]
            if end - pos < layout.size:
                raise _fail(Error.ERR_INVALID_DATA, f"truncated {_T(vtype).name} body")
            value = fixed[2](layout.unpack_from(buf, pos))
            pos += layout.size
        elif vtype == _T.NIL:
            value = None
        elif vtype in simple_table:
            value, pos = simple_table[vtype](buf, pos, end, header)
        elif vtype == _T.ARRAY or vtype == _T.DICTIONARY:
            if vtype == _T.ARRAY:
                pos = _skip_container_type(buf, pos, end, (header >> 16) & 3, allow_objects)
            else:
                pos = _skip_container_type(buf, pos, end, (header >> 16) & 3, allow_objects)
                pos = _skip_container_type(buf, pos, end, (header >> 18) & 3, allow_objects)
            if end - pos < 4:
                raise _fail(Error.ERR_INVALID_DATA, "truncated container count")
            count = _U32.unpack_from(buf, pos)[0] & 0x7FFFFFFF  # bit 31 is masked off
            pos += 4
            if count:
                parent = stack[-1] if stack else None
                freeze = parent is not None and (
                    parent.freeze or (parent.kind == _DICT and not parent.has_key)
                )
                if vtype == _T.ARRAY:
                    stack.append(_Frame(_ARRAY, count, [], depth + 1, freeze))
                else:
                    stack.append(_Frame(_DICT, count, {}, depth + 1, freeze))
                continue
            value = [] if vtype == _T.ARRAY else {}
        elif vtype == _T.OBJECT:
            if header & _FLAG_64:  # object as id: always allowed
                if end - pos < 8:
                    raise _fail(Error.ERR_INVALID_DATA, "truncated object id")
                object_id = _U64.unpack_from(buf, pos)[0]
                pos += 8
                value = EncodedObjectAsID(object_id) if object_id else None
            elif not allow_objects:
                raise _fail(Error.ERR_UNAUTHORIZED, "full objects are not allowed here")
            else:
                class_name, pos = _read_string(buf, pos, end)
                if not class_name:
                    value = None
                else:
                    count, pos = _read_count(buf, pos, end, "object property")
                    if count > 0:
                        frame = _Frame(_OBJECT, count, {}, depth + 1, False)
                        frame.class_name = class_name
                        stack.append(frame)
                        continue
                    value = GodotObject(class_name, {})
        else:
            raise _fail(Error.ERR_INVALID_DATA, f"invalid variant type id {vtype}")

        # Hand the finished value to the enclosing containers.
        while stack:
            top = stack[-1]
            if isinstance(value, list) and (top.freeze or (top.kind == _DICT and not top.has_key)):
                value = tuple(value)
            if top.kind == _ARRAY:
                top.items.append(value)
            elif top.kind == _DICT:
                if not top.has_key:
                    top.key = value
                    top.has_key = True
                    break
                top.has_key = False
                try:
                    top.items[top.key] = value
                except TypeError:
                    raise _fail(
                        Error.ERR_INVALID_DATA,
                        f"dictionary key of type {type(top.key).__name__} is not hashable"
                        " in Python",
                    ) from None
                top.key = None
            else:
                name = top.name
                top.name = None
                if (
                    name == "script"
                    and value is not None
                    and (type(value) is not str or not value.startswith("res://"))
                ):
                    raise _fail(Error.ERR_INVALID_DATA, "invalid value for 'script'")
                top.items[name] = value
            top.remaining -= 1
            if top.remaining:
                break
            stack.pop()
            value = GodotObject(top.class_name, top.items) if top.kind == _OBJECT else top.items
        else:
            return value, min(pos, end)


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


_DONE = object()  # end-of-iterator sentinel for the encode stack


class _RawName(NamedTuple):
    """Marker in the encode stack: a bare string (object property name), no header."""

    text: str


def _utf8_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(
            Error.ERR_INVALID_PARAMETER, f"string cannot be encoded as UTF-8: {exc.reason}"
        ) from None


def _put_string(out: bytearray, text: str) -> None:
    raw = _utf8_bytes(text)
    out += _U32.pack(len(raw))
    out += raw
    out += _PADDING[len(raw) & 3]


def _enc_nil(value: Any, out: bytearray, full: bool) -> None:
    out += _HDR_NIL


def _enc_bool(value: Any, out: bytearray, full: bool) -> None:
    out += _II.pack(_T.BOOL, 1 if value else 0)


def _enc_int(value: Any, out: bytearray, full: bool) -> None:
    if _INT32_MIN <= value <= _INT32_MAX:
        out += _II.pack(_T.INT, value & 0xFFFFFFFF)
    elif _INT64_MIN <= value <= _INT64_MAX:
        out += _HDR_INT64
        out += _U64.pack(value & 0xFFFFFFFFFFFFFFFF)
    else:
        raise _fail(Error.ERR_INVALID_PARAMETER, f"int {value} does not fit in 64 bits")


def _enc_float(value: Any, out: bytearray, full: bool) -> None:
    try:
        single = _F32.pack(value)
        exact = _F32.unpack(single)[0] == value  # NaN != NaN: NaN goes out as float64
    except OverflowError:
        exact = False
    if exact:
        out += _HDR[_T.FLOAT]
        out += single
    else:
        out += _HDR_FLOAT64
        out += _F64.pack(value)


def _enc_string(value: Any, out: bytearray, full: bool) -> None:
    out += _HDR[_T.STRING]
    _put_string(out, value)


def _enc_string_name(value: Any, out: bytearray, full: bool) -> None:
    out += _HDR[_T.STRING_NAME]
    _put_string(out, value)


def _enc_node_path(value: NodePath, out: bytearray, full: bool) -> None:
    names, subnames = tuple(value.names), tuple(value.subnames)
    out += _HDR[_T.NODE_PATH]
    out += _IIII.pack(len(names) | 0x80000000, len(subnames), 1 if value.absolute else 0)
    for text in chain(names, subnames):
        if not isinstance(text, str):
            raise _fail(Error.ERR_INVALID_PARAMETER, "NodePath parts must be str")
        _put_string(out, text)


def _fixed_encoder(vtype: int, layout: struct.Struct) -> Any:
    header = _HDR[vtype]

    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            body = layout.pack(*value)
        except (struct.error, OverflowError, TypeError) as exc:
            raise _fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += header
        out += body

    return encode


def _enc_signal(value: Signal, out: bytearray, full: bool) -> None:
    if not isinstance(value.name, str):
        raise _fail(Error.ERR_INVALID_PARAMETER, "Signal name must be str")
    out += _HDR[_T.SIGNAL]
    _put_string(out, value.name)
    try:
        out += _U64.pack(value.object_id)
    except (struct.error, OverflowError, TypeError) as exc:
        raise _fail(Error.ERR_INVALID_PARAMETER, f"bad Signal object id: {exc}") from None


def _enc_object_id(value: Any, out: bytearray, full: bool) -> None:
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise _fail(Error.ERR_INVALID_PARAMETER, f"object id {int(value)} is not a uint64")
    out += _HDR_OBJECT_AS_ID
    out += _U64.pack(value)


def _enc_object(value: GodotObject, out: bytearray, full: bool) -> Iterator[Any] | None:
    if not full:
        raise _fail(
            Error.ERR_INVALID_PARAMETER,
            "GodotObject can only be sent with full_objects=True (no instance id to send)",
        )
    if not isinstance(value.class_name, str) or not isinstance(value.properties, dict):
        raise _fail(Error.ERR_INVALID_PARAMETER, "GodotObject needs a str and a dict")
    out += _HDR[_T.OBJECT]
    if not value.class_name:
        out += _U32.pack(0)  # a null object
        return None
    _put_string(out, value.class_name)
    out += _U32.pack(len(value.properties))
    for name in value.properties:
        if not isinstance(name, str):
            raise _fail(Error.ERR_INVALID_PARAMETER, "GodotObject property names must be str")
    return chain.from_iterable((_RawName(k), v) for k, v in value.properties.items())


def _enc_dict(value: Any, out: bytearray, full: bool) -> Iterator[Any]:
    out += _II.pack(_T.DICTIONARY, len(value))
    return chain.from_iterable(value.items())


def _enc_list(value: Any, out: bytearray, full: bool) -> Iterator[Any]:
    out += _II.pack(_T.ARRAY, len(value))
    return iter(value)


def _put_bytes_array(out: bytearray, data: Any) -> None:
    out += _II.pack(_T.PACKED_BYTE_ARRAY, len(data))
    out += data
    out += _PADDING[len(data) & 3]


def _enc_bytes(value: Any, out: bytearray, full: bool) -> None:
    _put_bytes_array(out, value)


def _enc_memoryview(value: memoryview, out: bytearray, full: bool) -> None:
    _put_bytes_array(out, value.tobytes())


def _put_numbers(out: bytearray, vtype: int, values: array) -> None:
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    out += _II.pack(vtype, len(values))
    out += values.tobytes()


def _enc_array_module(value: array, out: bytearray, full: bool) -> None:
    code = value.typecode
    try:
        if code == "f":
            _put_numbers(out, _T.PACKED_FLOAT32_ARRAY, value)
        elif code == "d":
            _put_numbers(out, _T.PACKED_FLOAT64_ARRAY, value)
        elif (code in "bhilq" and value.itemsize <= 4) or code in "BH":
            converted = value if code == _TC_I32 else array(_TC_I32, value)
            _put_numbers(out, _T.PACKED_INT32_ARRAY, converted)
        elif code in "bhilqBHILQ":
            _put_numbers(out, _T.PACKED_INT64_ARRAY, value if code == "q" else array("q", value))
        else:
            raise _fail(Error.ERR_INVALID_PARAMETER, f"array typecode {code!r} has no packed type")
    except OverflowError as exc:
        raise _fail(Error.ERR_INVALID_PARAMETER, f"array value out of range: {exc}") from None


def _packed_number_encoder(vtype: int, fmt: str) -> Any:
    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            body = struct.pack(f"<{len(value)}{fmt}", *value)
        except (struct.error, OverflowError, TypeError) as exc:
            raise _fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += _II.pack(vtype, len(value))
        out += body

    return encode


def _packed_vector_encoder(vtype: int, width: int) -> Any:
    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            if any(len(item) != width for item in value):
                raise TypeError(f"every element needs {width} components")
            body = struct.pack(f"<{len(value) * width}f", *chain.from_iterable(value))
        except (struct.error, OverflowError, TypeError) as exc:
            raise _fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += _II.pack(vtype, len(value))
        out += body

    return encode


def _enc_string_array(value: Any, out: bytearray, full: bool) -> None:
    chunk = bytearray(_II.pack(_T.PACKED_STRING_ARRAY, len(value)))
    for text in value:
        if not isinstance(text, str):
            raise _fail(
                Error.ERR_INVALID_PARAMETER,
                f"PackedStringArray element of type {type(text).__name__} is not str",
            )
        raw = _utf8_bytes(text) + b"\0"  # Godot sends the NUL terminator here
        chunk += _U32.pack(len(raw))
        chunk += raw
        chunk += _PADDING[len(raw) & 3]
    out += chunk


_ENCODERS: dict[type, Any] = {
    type(None): _enc_nil,
    bool: _enc_bool,
    int: _enc_int,
    float: _enc_float,
    str: _enc_string,
    StringName: _enc_string_name,
    NodePath: _enc_node_path,
    Vector2: _fixed_encoder(_T.VECTOR2, _FIXED[_T.VECTOR2][0]),
    Vector2i: _fixed_encoder(_T.VECTOR2I, _FIXED[_T.VECTOR2I][0]),
    Rect2: _fixed_encoder(_T.RECT2, _FIXED[_T.RECT2][0]),
    Rect2i: _fixed_encoder(_T.RECT2I, _FIXED[_T.RECT2I][0]),
    Vector3: _fixed_encoder(_T.VECTOR3, _FIXED[_T.VECTOR3][0]),
    Vector3i: _fixed_encoder(_T.VECTOR3I, _FIXED[_T.VECTOR3I][0]),
    Transform2D: _fixed_encoder(_T.TRANSFORM2D, _FIXED[_T.TRANSFORM2D][0]),
    Vector4: _fixed_encoder(_T.VECTOR4, _FIXED[_T.VECTOR4][0]),
    Vector4i: _fixed_encoder(_T.VECTOR4I, _FIXED[_T.VECTOR4I][0]),
    Plane: _fixed_encoder(_T.PLANE, _FIXED[_T.PLANE][0]),
    Quaternion: _fixed_encoder(_T.QUATERNION, _FIXED[_T.QUATERNION][0]),
    AABB: _fixed_encoder(_T.AABB, _FIXED[_T.AABB][0]),
    Basis: _fixed_encoder(_T.BASIS, _FIXED[_T.BASIS][0]),
    Transform3D: _fixed_encoder(_T.TRANSFORM3D, _FIXED[_T.TRANSFORM3D][0]),
    Projection: _fixed_encoder(_T.PROJECTION, _FIXED[_T.PROJECTION][0]),
    Color: _fixed_encoder(_T.COLOR, _FIXED[_T.COLOR][0]),
    RID: _fixed_encoder(_T.RID, _FIXED[_T.RID][0]),
    GodotCallable: _fixed_encoder(_T.CALLABLE, _FIXED[_T.CALLABLE][0]),
    Signal: _enc_signal,
    EncodedObjectAsID: _enc_object_id,
    GodotObject: _enc_object,
    dict: _enc_dict,
    list: _enc_list,
    tuple: _enc_list,
    bytes: _enc_bytes,
    bytearray: _enc_bytes,
    memoryview: _enc_memoryview,
    array: _enc_array_module,
    PackedInt32Array: _packed_number_encoder(_T.PACKED_INT32_ARRAY, "i"),
    PackedInt64Array: _packed_number_encoder(_T.PACKED_INT64_ARRAY, "q"),
    PackedFloat32Array: _packed_number_encoder(_T.PACKED_FLOAT32_ARRAY, "f"),
    PackedFloat64Array: _packed_number_encoder(_T.PACKED_FLOAT64_ARRAY, "d"),
    PackedStringArray: _enc_string_array,
    PackedVector2Array: _packed_vector_encoder(_T.PACKED_VECTOR2_ARRAY, 2),
    PackedVector3Array: _packed_vector_encoder(_T.PACKED_VECTOR3_ARRAY, 3),
    PackedColorArray: _packed_vector_encoder(_T.PACKED_COLOR_ARRAY, 4),
    PackedVector4Array: _packed_vector_encoder(_T.PACKED_VECTOR4_ARRAY, 4),
}


def _encoder_for(value: Any) -> Any:
    """Find the encoder for ``value``'s exact type, else for its nearest base class."""
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder
    for klass in type(value).__mro__[1:]:
        encoder = _ENCODERS.get(klass)
        if encoder is not None:
            return encoder
    raise _fail(
        Error.ERR_INVALID_PARAMETER,
        f"cannot encode a value of Python type {type(value).__qualname__!r} as a Godot Variant",
    )


def encode_variant(value: Any, full_objects: bool = False) -> bytes:
    """Encode ``value`` the way Godot 4's ``encode_variant`` does; return the bytes.

    ``full_objects`` is ``put_var``'s ``full_objects`` / ``allow_object_decoding``; it
    only matters for :class:`GodotObject`, which cannot be sent without it.  Containers
    nested deeper than ``MAX_RECURSION_DEPTH`` (including self-containing lists) raise
    ``ERR_OUT_OF_MEMORY`` like the engine; values with no Godot counterpart raise
    :class:`VariantError` with ``ERR_INVALID_PARAMETER``.
    """
    out = bytearray()
    full = bool(full_objects)
    stack: list[tuple[Iterator[Any], int]] = [(iter((value,)), 0)]
    try:
        while stack:
            items, depth = stack[-1]
            item = next(items, _DONE)
            if item is _DONE:
                stack.pop()
                continue
            if type(item) is _RawName:
                _put_string(out, item.text)
                continue
            if depth > MAX_RECURSION_DEPTH:
                raise _fail(Error.ERR_OUT_OF_MEMORY, "value nested too deeply (or contains itself)")
            children = _encoder_for(item)(item, out, full)
            if children is not None:
                stack.append((children, depth + 1))
    except VariantError:
        raise
    except MemoryError as exc:
        raise _fail(Error.ERR_OUT_OF_MEMORY, f"value too large: {exc!r}") from None
    except Exception as exc:  # e.g. a dict changing size while it is being encoded
        raise _fail(Error.ERR_INVALID_PARAMETER, f"cannot encode value: {exc!r}") from exc
    return bytes(out)
