"""Encoding Python values into Godot 4's binary Variant format, byte for byte as the engine."""

from __future__ import annotations

import struct
from array import array
from itertools import chain
from typing import Any, Iterator, NamedTuple

from godot_dtls.api.errors import Error

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
    Vector2,
    Vector2i,
    Vector3,
    Vector3i,
    Vector4,
    Vector4i,
)
from .wire import (
    BIG_ENDIAN,
    F32,
    F64,
    FIXED,
    HDR,
    HDR_FLOAT64,
    HDR_INT64,
    HDR_NIL,
    HDR_OBJECT_AS_ID,
    II,
    IIII,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    PADDING,
    TC_I32,
    U32,
    U64,
    T,
    fail,
)

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
        raise fail(
            Error.ERR_INVALID_PARAMETER, f"string cannot be encoded as UTF-8: {exc.reason}"
        ) from None


def _put_string(out: bytearray, text: str) -> None:
    raw = _utf8_bytes(text)
    out += U32.pack(len(raw))
    out += raw
    out += PADDING[len(raw) & 3]


def _enc_nil(value: Any, out: bytearray, full: bool) -> None:
    out += HDR_NIL


def _enc_bool(value: Any, out: bytearray, full: bool) -> None:
    out += II.pack(T.BOOL, 1 if value else 0)


def _enc_int(value: Any, out: bytearray, full: bool) -> None:
    if INT32_MIN <= value <= INT32_MAX:
        out += II.pack(T.INT, value & 0xFFFFFFFF)
    elif INT64_MIN <= value <= INT64_MAX:
        out += HDR_INT64
        out += U64.pack(value & 0xFFFFFFFFFFFFFFFF)
    else:
        raise fail(Error.ERR_INVALID_PARAMETER, f"int {value} does not fit in 64 bits")


def _enc_float(value: Any, out: bytearray, full: bool) -> None:
    try:
        single = F32.pack(value)
        exact = F32.unpack(single)[0] == value  # NaN != NaN: NaN goes out as float64
    except OverflowError:
        exact = False
    if exact:
        out += HDR[T.FLOAT]
        out += single
    else:
        out += HDR_FLOAT64
        out += F64.pack(value)


def _enc_string(value: Any, out: bytearray, full: bool) -> None:
    out += HDR[T.STRING]
    _put_string(out, value)


def _enc_string_name(value: Any, out: bytearray, full: bool) -> None:
    out += HDR[T.STRING_NAME]
    _put_string(out, value)


def _enc_node_path(value: NodePath, out: bytearray, full: bool) -> None:
    names, subnames = tuple(value.names), tuple(value.subnames)
    out += HDR[T.NODE_PATH]
    out += IIII.pack(len(names) | 0x80000000, len(subnames), 1 if value.absolute else 0)
    for text in chain(names, subnames):
        if not isinstance(text, str):
            raise fail(Error.ERR_INVALID_PARAMETER, "NodePath parts must be str")
        _put_string(out, text)


def _fixed_encoder(vtype: int, layout: struct.Struct) -> Any:
    header = HDR[vtype]

    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            body = layout.pack(*value)
        except (struct.error, OverflowError, TypeError) as exc:
            raise fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += header
        out += body

    return encode


def _enc_signal(value: Signal, out: bytearray, full: bool) -> None:
    if not isinstance(value.name, str):
        raise fail(Error.ERR_INVALID_PARAMETER, "Signal name must be str")
    out += HDR[T.SIGNAL]
    _put_string(out, value.name)
    try:
        out += U64.pack(value.object_id)
    except (struct.error, OverflowError, TypeError) as exc:
        raise fail(Error.ERR_INVALID_PARAMETER, f"bad Signal object id: {exc}") from None


def _enc_object_id(value: Any, out: bytearray, full: bool) -> None:
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise fail(Error.ERR_INVALID_PARAMETER, f"object id {int(value)} is not a uint64")
    out += HDR_OBJECT_AS_ID
    out += U64.pack(value)


def _enc_object(value: GodotObject, out: bytearray, full: bool) -> Iterator[Any] | None:
    if not full:
        raise fail(
            Error.ERR_INVALID_PARAMETER,
            "GodotObject can only be sent with full_objects=True (no instance id to send)",
        )
    if not isinstance(value.class_name, str) or not isinstance(value.properties, dict):
        raise fail(Error.ERR_INVALID_PARAMETER, "GodotObject needs a str and a dict")
    out += HDR[T.OBJECT]
    if not value.class_name:
        out += U32.pack(0)  # a null object
        return None
    _put_string(out, value.class_name)
    out += U32.pack(len(value.properties))
    for name in value.properties:
        if not isinstance(name, str):
            raise fail(Error.ERR_INVALID_PARAMETER, "GodotObject property names must be str")
    return chain.from_iterable((_RawName(k), v) for k, v in value.properties.items())


def _enc_dict(value: Any, out: bytearray, full: bool) -> Iterator[Any]:
    out += II.pack(T.DICTIONARY, len(value))
    return chain.from_iterable(value.items())


def _enc_list(value: Any, out: bytearray, full: bool) -> Iterator[Any]:
    out += II.pack(T.ARRAY, len(value))
    return iter(value)


def _put_bytes_array(out: bytearray, data: Any) -> None:
    out += II.pack(T.PACKED_BYTE_ARRAY, len(data))
    out += data
    out += PADDING[len(data) & 3]


def _enc_bytes(value: Any, out: bytearray, full: bool) -> None:
    _put_bytes_array(out, value)


def _enc_memoryview(value: memoryview, out: bytearray, full: bool) -> None:
    _put_bytes_array(out, value.tobytes())


def _put_numbers(out: bytearray, vtype: int, values: array) -> None:
    if BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    out += II.pack(vtype, len(values))
    out += values.tobytes()


def _enc_array_module(value: array, out: bytearray, full: bool) -> None:
    code = value.typecode
    try:
        if code == "f":
            _put_numbers(out, T.PACKED_FLOAT32_ARRAY, value)
        elif code == "d":
            _put_numbers(out, T.PACKED_FLOAT64_ARRAY, value)
        elif (code in "bhilq" and value.itemsize <= 4) or code in "BH":
            converted = value if code == TC_I32 else array(TC_I32, value)
            _put_numbers(out, T.PACKED_INT32_ARRAY, converted)
        elif code in "bhilqBHILQ":
            _put_numbers(out, T.PACKED_INT64_ARRAY, value if code == "q" else array("q", value))
        else:
            raise fail(Error.ERR_INVALID_PARAMETER, f"array typecode {code!r} has no packed type")
    except OverflowError as exc:
        raise fail(Error.ERR_INVALID_PARAMETER, f"array value out of range: {exc}") from None


def _packed_number_encoder(vtype: int, fmt: str) -> Any:
    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            body = struct.pack(f"<{len(value)}{fmt}", *value)
        except (struct.error, OverflowError, TypeError) as exc:
            raise fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += II.pack(vtype, len(value))
        out += body

    return encode


def _packed_vector_encoder(vtype: int, width: int) -> Any:
    def encode(value: Any, out: bytearray, full: bool) -> None:
        try:
            if any(len(item) != width for item in value):
                raise TypeError(f"every element needs {width} components")
            body = struct.pack(f"<{len(value) * width}f", *chain.from_iterable(value))
        except (struct.error, OverflowError, TypeError) as exc:
            raise fail(
                Error.ERR_INVALID_PARAMETER, f"cannot encode {type(value).__name__}: {exc}"
            ) from None
        out += II.pack(vtype, len(value))
        out += body

    return encode


def _enc_string_array(value: Any, out: bytearray, full: bool) -> None:
    chunk = bytearray(II.pack(T.PACKED_STRING_ARRAY, len(value)))
    for text in value:
        if not isinstance(text, str):
            raise fail(
                Error.ERR_INVALID_PARAMETER,
                f"PackedStringArray element of type {type(text).__name__} is not str",
            )
        raw = _utf8_bytes(text) + b"\0"  # Godot sends the NUL terminator here
        chunk += U32.pack(len(raw))
        chunk += raw
        chunk += PADDING[len(raw) & 3]
    out += chunk


_ENCODERS: dict[type, Any] = {
    type(None): _enc_nil,
    bool: _enc_bool,
    int: _enc_int,
    float: _enc_float,
    str: _enc_string,
    StringName: _enc_string_name,
    NodePath: _enc_node_path,
    Vector2: _fixed_encoder(T.VECTOR2, FIXED[T.VECTOR2][0]),
    Vector2i: _fixed_encoder(T.VECTOR2I, FIXED[T.VECTOR2I][0]),
    Rect2: _fixed_encoder(T.RECT2, FIXED[T.RECT2][0]),
    Rect2i: _fixed_encoder(T.RECT2I, FIXED[T.RECT2I][0]),
    Vector3: _fixed_encoder(T.VECTOR3, FIXED[T.VECTOR3][0]),
    Vector3i: _fixed_encoder(T.VECTOR3I, FIXED[T.VECTOR3I][0]),
    Transform2D: _fixed_encoder(T.TRANSFORM2D, FIXED[T.TRANSFORM2D][0]),
    Vector4: _fixed_encoder(T.VECTOR4, FIXED[T.VECTOR4][0]),
    Vector4i: _fixed_encoder(T.VECTOR4I, FIXED[T.VECTOR4I][0]),
    Plane: _fixed_encoder(T.PLANE, FIXED[T.PLANE][0]),
    Quaternion: _fixed_encoder(T.QUATERNION, FIXED[T.QUATERNION][0]),
    AABB: _fixed_encoder(T.AABB, FIXED[T.AABB][0]),
    Basis: _fixed_encoder(T.BASIS, FIXED[T.BASIS][0]),
    Transform3D: _fixed_encoder(T.TRANSFORM3D, FIXED[T.TRANSFORM3D][0]),
    Projection: _fixed_encoder(T.PROJECTION, FIXED[T.PROJECTION][0]),
    Color: _fixed_encoder(T.COLOR, FIXED[T.COLOR][0]),
    RID: _fixed_encoder(T.RID, FIXED[T.RID][0]),
    GodotCallable: _fixed_encoder(T.CALLABLE, FIXED[T.CALLABLE][0]),
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
    PackedInt32Array: _packed_number_encoder(T.PACKED_INT32_ARRAY, "i"),
    PackedInt64Array: _packed_number_encoder(T.PACKED_INT64_ARRAY, "q"),
    PackedFloat32Array: _packed_number_encoder(T.PACKED_FLOAT32_ARRAY, "f"),
    PackedFloat64Array: _packed_number_encoder(T.PACKED_FLOAT64_ARRAY, "d"),
    PackedStringArray: _enc_string_array,
    PackedVector2Array: _packed_vector_encoder(T.PACKED_VECTOR2_ARRAY, 2),
    PackedVector3Array: _packed_vector_encoder(T.PACKED_VECTOR3_ARRAY, 3),
    PackedColorArray: _packed_vector_encoder(T.PACKED_COLOR_ARRAY, 4),
    PackedVector4Array: _packed_vector_encoder(T.PACKED_VECTOR4_ARRAY, 4),
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
    raise fail(
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
                raise fail(Error.ERR_OUT_OF_MEMORY, "value nested too deeply (or contains itself)")
            children = _encoder_for(item)(item, out, full)
            if children is not None:
                stack.append((children, depth + 1))
    except VariantError:
        raise
    except MemoryError as exc:
        raise fail(Error.ERR_OUT_OF_MEMORY, f"value too large: {exc!r}") from None
    except Exception as exc:  # e.g. a dict changing size while it is being encoded
        raise fail(Error.ERR_INVALID_PARAMETER, f"cannot encode value: {exc!r}") from exc
    return bytes(out)
