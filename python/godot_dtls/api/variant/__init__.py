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

from .decode import decode_variant
from .encode import encode_variant
from .types import (
    AABB,
    MAX_RECURSION_DEPTH,
    RID,
    Basis,
    Color,
    EncodedObjectAsID,
    GodotCallable,
    GodotObject,
    NodePath,
    PackedColorArray,
    PackedFloat32Array,
    PackedFloat64Array,
    PackedInt32Array,
    PackedInt64Array,
    PackedStringArray,
    PackedVector2Array,
    PackedVector3Array,
    PackedVector4Array,
    Plane,
    Projection,
    Quaternion,
    Rect2,
    Rect2i,
    Signal,
    StringName,
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
