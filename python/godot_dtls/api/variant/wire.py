"""Constants of the binary format shared by the decoder and the encoder: header bits,
struct layouts, ready-made headers and padding.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any

from godot_dtls.api.errors import Error

from .types import (
    AABB,
    RID,
    Basis,
    Color,
    GodotCallable,
    Plane,
    Projection,
    Quaternion,
    Rect2,
    Rect2i,
    Transform2D,
    Transform3D,
    VariantError,
    VariantType,
    Vector2,
    Vector2i,
    Vector3,
    Vector3i,
    Vector4,
    Vector4i,
)

# --------------------------------------------------------------------------------------
# Wire constants
# --------------------------------------------------------------------------------------

T = VariantType
TYPE_MASK = 0xFF
FLAG_64 = 1 << 16  # also "object as id" for OBJECT
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT_MAX = 0x7FFFFFFF  # C ``INT_MAX``, used by Godot's overflow guards
BOM = b"\xef\xbb\xbf"
BIG_ENDIAN = sys.byteorder == "big"

U32 = struct.Struct("<I")
I32 = struct.Struct("<i")
U64 = struct.Struct("<Q")
F32 = struct.Struct("<f")
F64 = struct.Struct("<d")
II = struct.Struct("<II")
IIII = struct.Struct("<III")

# array typecode with 4-byte items (``i`` everywhere that matters, ``l`` as a fallback).
TC_I32 = "i" if array("i").itemsize == 4 else "l"

HDR = {int(t): U32.pack(int(t)) for t in VariantType if t != T.VARIANT_MAX}
HDR_NIL = HDR[T.NIL]
HDR_INT64 = U32.pack(T.INT | FLAG_64)
HDR_FLOAT64 = U32.pack(T.FLOAT | FLAG_64)
HDR_OBJECT_AS_ID = U32.pack(T.OBJECT | FLAG_64)
PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")


def fail(error: Error, message: str) -> VariantError:
    """Build (not raise) a :class:`VariantError`; call sites ``raise fail(...)``."""
    return VariantError(error, message)


# Fixed-size bodies, read and written with one struct each.
def _first(values: tuple[Any, ...]) -> Any:
    return values[0]


def _bool_of(values: tuple[int, ...]) -> bool:
    return values[0] != 0


def _empty_callable(values: tuple[Any, ...]) -> GodotCallable:
    return GodotCallable()


# Fixed-size bodies: type id -> (float32/int struct, float64 struct when bit 16 is
# honoured, constructor taking the unpacked tuple).  Godot ignores the flag for the
# integer vector types and for Color (always single precision).
FIXED: dict[int, tuple[struct.Struct, struct.Struct | None, Any]] = {
    T.BOOL: (U32, None, _bool_of),
    T.INT: (I32, struct.Struct("<q"), _first),
    T.FLOAT: (F32, F64, _first),
    T.VECTOR2: (struct.Struct("<2f"), struct.Struct("<2d"), Vector2._make),
    T.VECTOR2I: (struct.Struct("<2i"), None, Vector2i._make),
    T.RECT2: (struct.Struct("<4f"), struct.Struct("<4d"), Rect2._make),
    T.RECT2I: (struct.Struct("<4i"), None, Rect2i._make),
    T.VECTOR3: (struct.Struct("<3f"), struct.Struct("<3d"), Vector3._make),
    T.VECTOR3I: (struct.Struct("<3i"), None, Vector3i._make),
    T.TRANSFORM2D: (struct.Struct("<6f"), struct.Struct("<6d"), Transform2D._make),
    T.VECTOR4: (struct.Struct("<4f"), struct.Struct("<4d"), Vector4._make),
    T.VECTOR4I: (struct.Struct("<4i"), None, Vector4i._make),
    T.PLANE: (struct.Struct("<4f"), struct.Struct("<4d"), Plane._make),
    T.QUATERNION: (struct.Struct("<4f"), struct.Struct("<4d"), Quaternion._make),
    T.AABB: (struct.Struct("<6f"), struct.Struct("<6d"), AABB._make),
    T.BASIS: (struct.Struct("<9f"), struct.Struct("<9d"), Basis._make),
    T.TRANSFORM3D: (struct.Struct("<12f"), struct.Struct("<12d"), Transform3D._make),
    T.PROJECTION: (struct.Struct("<16f"), struct.Struct("<16d"), Projection._make),
    T.COLOR: (struct.Struct("<4f"), None, Color._make),
    T.RID: (U64, None, RID._make),
    T.CALLABLE: (struct.Struct("<"), None, _empty_callable),
}
