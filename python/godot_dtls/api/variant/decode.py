"""Decoding Godot 4's binary Variant format, iteratively and without trusting the input."""

from __future__ import annotations

from array import array
from typing import Any

from godot_dtls.api.errors import Error

from .types import (
    MAX_RECURSION_DEPTH,
    Color,
    EncodedObjectAsID,
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
    Signal,
    StringName,
    VariantError,
    Vector2,
    Vector3,
    Vector4,
)
from .wire import (
    BIG_ENDIAN,
    BOM,
    FIXED,
    FLAG_64,
    I32,
    II,
    INT_MAX,
    TC_I32,
    TYPE_MASK,
    U32,
    U64,
    T,
    fail,
)

# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """Return the input as ``bytes`` (no copy for ``bytes``)."""
    if type(data) is bytes:
        return data
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise fail(
            Error.ERR_INVALID_PARAMETER,
            f"decode_variant needs bytes, bytearray or memoryview, not {type(data).__name__}",
        ) from None


def _utf8(raw: bytes) -> str:
    """Decode like Godot's ``String::parse_utf8``: skip a BOM, stop at NUL, be strict."""
    if raw[:3] == BOM:
        raw = raw[3:]
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(Error.ERR_INVALID_DATA, f"invalid UTF-8 in string: {exc.reason}") from None


def _read_string(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    """Read a length-prefixed, zero-padded UTF-8 string (``_decode_string``)."""
    if end - pos < 4:
        raise fail(Error.ERR_INVALID_DATA, "truncated string length")
    length = I32.unpack_from(buf, pos)[0]
    pos += 4
    padded = (length + 3) & ~3
    if length < 0 or padded > end - pos:
        raise fail(Error.ERR_FILE_EOF, f"string of {length} bytes runs past the buffer")
    return _utf8(buf[pos : pos + length]), pos + padded


def _read_count(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """Read a signed 32-bit element count."""
    if end - pos < 4:
        raise fail(Error.ERR_INVALID_DATA, f"truncated {what} count")
    return I32.unpack_from(buf, pos)[0], pos + 4


def _dec_string(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    return _read_string(buf, pos, end)


def _dec_string_name(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    text, pos = _read_string(buf, pos, end)
    return StringName(text), pos


def _dec_node_path(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    if end - pos < 4:
        raise fail(Error.ERR_INVALID_DATA, "truncated NodePath")
    first = U32.unpack_from(buf, pos)[0]
    if not first & 0x80000000:
        raise fail(Error.ERR_INVALID_DATA, "NodePath in the obsolete string format")
    if end - pos < 12:
        raise fail(Error.ERR_INVALID_DATA, "truncated NodePath")
    name_count = first & 0x7FFFFFFF
    subname_count, flags = II.unpack_from(buf, pos + 4)
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
        raise fail(Error.ERR_INVALID_DATA, "truncated Signal object id")
    return Signal(name, U64.unpack_from(buf, pos)[0]), pos + 8


def _dec_byte_array(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    count, pos = _read_count(buf, pos, end, "PackedByteArray")
    if count < 0 or count > end - pos:
        raise fail(Error.ERR_INVALID_DATA, f"PackedByteArray of {count} bytes is too long")
    # Godot only checks the bytes themselves; padding missing at the very end is tolerated.
    return buf[pos : pos + count], pos + ((count + 3) & ~3)


def _packed_items(buf: bytes, pos: int, end: int, item_size: int, what: str) -> tuple[int, int]:
    """Read and validate a packed-array count; return (count, position of the data)."""
    count, pos = _read_count(buf, pos, end, what)
    if count < 0 or count > INT_MAX // item_size or count * item_size > end - pos:
        raise fail(Error.ERR_INVALID_DATA, f"{what} of {count} elements is too long")
    return count, pos


def _unpack_numbers(buf: bytes, pos: int, count: int, typecode: str, size: int) -> list[Any]:
    values = array(typecode)
    values.frombytes(buf[pos : pos + count * size])
    if BIG_ENDIAN:
        values.byteswap()
    return values.tolist()


def _numeric_decoder(typecode: str, size: int, wrap: type, what: str) -> Any:
    def decode(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
        count, pos = _packed_items(buf, pos, end, size, what)
        return wrap(_unpack_numbers(buf, pos, count, typecode, size)), pos + count * size

    return decode


def _vector_decoder(width: int, maker: Any, wrap: type, what: str, has_64: bool) -> Any:
    def decode(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
        wide = has_64 and bool(header & FLAG_64)
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
    T.STRING: _dec_string,
    T.STRING_NAME: _dec_string_name,
    T.NODE_PATH: _dec_node_path,
    T.SIGNAL: _dec_signal,
    T.PACKED_BYTE_ARRAY: _dec_byte_array,
    T.PACKED_INT32_ARRAY: _numeric_decoder(TC_I32, 4, PackedInt32Array, "PackedInt32Array"),
    T.PACKED_INT64_ARRAY: _numeric_decoder("q", 8, PackedInt64Array, "PackedInt64Array"),
    T.PACKED_FLOAT32_ARRAY: _numeric_decoder("f", 4, PackedFloat32Array, "PackedFloat32Array"),
    T.PACKED_FLOAT64_ARRAY: _numeric_decoder("d", 8, PackedFloat64Array, "PackedFloat64Array"),
    T.PACKED_STRING_ARRAY: _dec_string_array,
    T.PACKED_VECTOR2_ARRAY: _vector_decoder(
        2, Vector2._make, PackedVector2Array, "PackedVector2Array", True
    ),
    T.PACKED_VECTOR3_ARRAY: _vector_decoder(
        3, Vector3._make, PackedVector3Array, "PackedVector3Array", True
    ),
    T.PACKED_COLOR_ARRAY: _vector_decoder(
        4, Color._make, PackedColorArray, "PackedColorArray", False
    ),
    T.PACKED_VECTOR4_ARRAY: _vector_decoder(
        4, Vector4._make, PackedVector4Array, "PackedVector4Array", True
    ),
}


def _skip_container_type(buf: bytes, pos: int, end: int, kind: int, allow_objects: bool) -> int:
    """Parse and discard a typed Array/Dictionary element type description."""
    if kind == 0:  # untyped
        return pos
    if kind == 1:  # builtin: one uint32 Variant type id
        if end - pos < 4:
            raise fail(Error.ERR_INVALID_DATA, "truncated container element type")
        builtin = I32.unpack_from(buf, pos)[0]
        if not 0 <= builtin < T.VARIANT_MAX:
            raise fail(Error.ERR_INVALID_DATA, f"invalid container element type {builtin}")
        return pos + 4
    text, pos = _read_string(buf, pos, end)  # 2: class name, 3: script path
    if kind == 3 and allow_objects and not text.startswith("res://"):
        raise fail(Error.ERR_INVALID_DATA, f"invalid script path {text!r}")
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
        raise fail(Error.ERR_OUT_OF_MEMORY, f"variant too large: {exc!r}") from None
    except Exception as exc:  # pragma: no cover - safety net for the "only VariantError" rule
        raise fail(Error.ERR_BUG, f"unexpected failure while decoding: {exc!r}") from exc


#: Returned by :func:`_decode_container` when it pushed a frame: the items come next.
_OPENED: Any = object()
_CONTAINER_TYPES = frozenset((T.ARRAY, T.DICTIONARY, T.OBJECT))


def _decode(buf: bytes, allow_objects: bool) -> tuple[Any, int]:
    """Read one header at a time; scalars are finished at once, containers push a frame
    that :func:`_attach` fills and closes as their items arrive (no recursion)."""
    end = len(buf)
    pos = 0
    stack: list[_Frame] = []
    while True:
        depth = 0
        if stack:
            top = stack[-1]
            depth = top.depth
            if top.kind == _OBJECT and top.name is None:
                top.name, pos = _read_string(buf, pos, end)
        if depth > MAX_RECURSION_DEPTH:
            raise fail(Error.ERR_OUT_OF_MEMORY, "variant nested too deeply")
        if end - pos < 4:
            raise fail(Error.ERR_INVALID_DATA, "truncated variant header")
        header = U32.unpack_from(buf, pos)[0]
        pos += 4
        if header & TYPE_MASK in _CONTAINER_TYPES:
            value, pos = _decode_container(buf, pos, end, header, stack, depth, allow_objects)
            if value is _OPENED:
                continue
        else:
            value, pos = _decode_scalar(buf, pos, end, header)
        finished, value = _attach(stack, value)
        if finished:
            return value, min(pos, end)


def _decode_scalar(buf: bytes, pos: int, end: int, header: int) -> tuple[Any, int]:
    """A value without items: a fixed-size body, nil, or a length-prefixed one."""
    vtype = header & TYPE_MASK
    fixed = FIXED.get(vtype)
    if fixed is not None:
        layout = fixed[1] if fixed[1] is not None and header & FLAG_64 else fixed[0]
        if end - pos < layout.size:
            raise fail(Error.ERR_INVALID_DATA, f"truncated {T(vtype).name} body")
        return fixed[2](layout.unpack_from(buf, pos)), pos + layout.size
    if vtype == T.NIL:
        return None, pos
    decoder = _SIMPLE.get(vtype)
    if decoder is None:
        raise fail(Error.ERR_INVALID_DATA, f"invalid variant type id {vtype}")
    return decoder(buf, pos, end, header)


def _decode_container(
    buf: bytes,
    pos: int,
    end: int,
    header: int,
    stack: list[_Frame],
    depth: int,
    allow_objects: bool,
) -> tuple[Any, int]:
    """An Array, Dictionary or Object: an empty one is returned finished; otherwise a
    frame for its items is pushed and :data:`_OPENED` returned."""
    vtype = header & TYPE_MASK
    if vtype == T.OBJECT:
        return _decode_object(buf, pos, end, header, stack, depth, allow_objects)
    pos = _skip_container_type(buf, pos, end, (header >> 16) & 3, allow_objects)
    if vtype == T.DICTIONARY:
        pos = _skip_container_type(buf, pos, end, (header >> 18) & 3, allow_objects)
    if end - pos < 4:
        raise fail(Error.ERR_INVALID_DATA, "truncated container count")
    count = U32.unpack_from(buf, pos)[0] & 0x7FFFFFFF  # bit 31 is masked off
    pos += 4
    if not count:
        return ([] if vtype == T.ARRAY else {}), pos
    parent = stack[-1] if stack else None
    # Inside a dictionary key, lists must become tuples to be hashable.
    freeze = parent is not None and (parent.freeze or (parent.kind == _DICT and not parent.has_key))
    if vtype == T.ARRAY:
        stack.append(_Frame(_ARRAY, count, [], depth + 1, freeze))
    else:
        stack.append(_Frame(_DICT, count, {}, depth + 1, freeze))
    return _OPENED, pos


def _decode_object(
    buf: bytes,
    pos: int,
    end: int,
    header: int,
    stack: list[_Frame],
    depth: int,
    allow_objects: bool,
) -> tuple[Any, int]:
    """An object sent as its id (always allowed) or in full (only with allow_objects)."""
    if header & FLAG_64:
        if end - pos < 8:
            raise fail(Error.ERR_INVALID_DATA, "truncated object id")
        object_id = U64.unpack_from(buf, pos)[0]
        return (EncodedObjectAsID(object_id) if object_id else None), pos + 8
    if not allow_objects:
        raise fail(Error.ERR_UNAUTHORIZED, "full objects are not allowed here")
    class_name, pos = _read_string(buf, pos, end)
    if not class_name:
        return None, pos
    count, pos = _read_count(buf, pos, end, "object property")
    if count == 0:
        return GodotObject(class_name, {}), pos
    frame = _Frame(_OBJECT, count, {}, depth + 1, False)
    frame.class_name = class_name
    stack.append(frame)
    return _OPENED, pos


def _attach(stack: list[_Frame], value: Any) -> tuple[bool, Any]:
    """Hand a finished value to the enclosing containers, closing every one it completes.

    ``(True, root)`` when the outermost value is complete, else ``(False, None)``.
    """
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
                return False, None
            top.has_key = False
            try:
                top.items[top.key] = value
            except TypeError:
                raise fail(
                    Error.ERR_INVALID_DATA,
                    f"dictionary key of type {type(top.key).__name__} is not hashable in Python",
                ) from None
            top.key = None
        else:
            _set_property(top, value)
        top.remaining -= 1
        if top.remaining:
            return False, None
        stack.pop()
        value = GodotObject(top.class_name, top.items) if top.kind == _OBJECT else top.items
    return True, value


def _set_property(frame: _Frame, value: Any) -> None:
    """One property of a full object; a ``script`` must be a ``res://`` path, as in Godot."""
    name = frame.name
    frame.name = None
    if (
        name == "script"
        and value is not None
        and (type(value) is not str or not value.startswith("res://"))
    ):
        raise fail(Error.ERR_INVALID_DATA, "invalid value for 'script'")
    frame.items[name] = value
