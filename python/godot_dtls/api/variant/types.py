"""The Python values of Godot's Variant types: what ``get_var`` returns and ``put_var``
takes besides the plain ``None``/``bool``/``int``/``float``/``str``/``list``/``dict``/bytes.

Small immutable NamedTuples for the math types (``Vector2``, ``Color``, ...), ``list``
subclasses that mark a packed array's element type, and :class:`VariantType`, the
engine's type ids.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

from godot_dtls.api.errors import Error

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
