"""Tests for godot_dtls.api.variant: Godot 4's binary Variant format (put_var / get_var).

Expected bytes come from the spec (section 7) and from the rules in Godot 4's
core/io/marshalls.cpp; every test is named after the rule it checks.
"""

from __future__ import annotations

import math
import struct
import time
import tracemalloc
from array import array
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godot_dtls.api.errors import Error
from godot_dtls.api.variant import (
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
    decode_variant,
    encode_variant,
)

FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def u32(*values: int) -> bytes:
    """Little-endian uint32 words."""
    return struct.pack(f"<{len(values)}I", *values)


def gstr(text: str) -> bytes:
    """A Godot string body: length, UTF-8 bytes, zero padding."""
    raw = text.encode("utf-8")
    return u32(len(raw)) + raw + b"\0" * (-len(raw) % 4)


def raises_code(data: bytes, allow_objects: bool = False) -> Error:
    """Decode ``data`` expecting a VariantError; return its error code."""
    with pytest.raises(VariantError) as info:
        decode_variant(data, allow_objects=allow_objects)
    return info.value.error


def same(a: Any, b: Any) -> bool:
    """Equality that also requires identical types and identical float bits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    return a == b


def round_trip(value: Any, **kwargs: Any) -> Any:
    data = encode_variant(value, full_objects=kwargs.get("full_objects", False))
    decoded, used = decode_variant(data, allow_objects=kwargs.get("allow_objects", False))
    assert used == len(data)
    assert len(data) % 4 == 0
    return decoded


# ---------------------------------------------------------------------------------------
# Spec section 7 examples and header rules
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, "02 00 00 00 05 00 00 00"),
        (2**40, "02 00 01 00 00 00 00 00 00 01 00 00"),
        (0.5, "03 00 00 00 00 00 00 3f"),
        (0.1, "03 00 01 00 9a 99 99 99 99 99 b9 3f"),
        ("ab", "04 00 00 00 02 00 00 00 61 62 00 00"),
    ],
)
def test_spec_section7_examples_are_byte_exact(value: Any, expected: str) -> None:
    data = encode_variant(value)
    assert data == bytes.fromhex(expected)
    assert decode_variant(data) == (value, len(data))


@pytest.mark.parametrize(
    ("value", "wide"),
    [
        (0, False),
        (-1, False),
        (2**31 - 1, False),
        (-(2**31), False),
        (2**31, True),
        (-(2**31) - 1, True),
        (2**63 - 1, True),
        (-(2**63), True),
    ],
)
def test_int_sets_64bit_flag_only_outside_int32_range(value: int, wide: bool) -> None:
    data = encode_variant(value)
    header = struct.unpack_from("<I", data)[0]
    assert header == (VariantType.INT | (1 << 16) if wide else VariantType.INT)
    assert len(data) == (12 if wide else 8)
    assert same(decode_variant(data)[0], value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_int_outside_int64_is_invalid_parameter(value: int) -> None:
    with pytest.raises(VariantError) as info:
        encode_variant(value)
    assert info.value.error == Error.ERR_INVALID_PARAMETER


@pytest.mark.parametrize(
    ("value", "wide"),
    [
        (0.5, False),
        (-0.0, False),
        (1.5e38, True),  # not exactly a float32 value
        (3.4028234663852886e38, False),  # FLT_MAX is exact
        (1e39, True),  # beyond float32 range
        (1e-46, True),  # underflows float32
        (float("inf"), False),  # Godot: float(inf) == inf, so 32 bits
        (float("-inf"), False),
        (0.1, True),
    ],
)
def test_float_sets_64bit_flag_only_when_not_exact_as_float32(value: float, wide: bool) -> None:
    data = encode_variant(value)
    header = struct.unpack_from("<I", data)[0]
    assert header == (VariantType.FLOAT | (1 << 16) if wide else VariantType.FLOAT)
    assert same(decode_variant(data)[0], value)


def test_nan_is_sent_as_float64_because_nan_never_equals_itself() -> None:
    data = encode_variant(float("nan"))
    assert data[:4] == u32(VariantType.FLOAT | (1 << 16))
    assert math.isnan(decode_variant(data)[0])


def test_bool_is_checked_before_int() -> None:
    assert encode_variant(True) == u32(1, 1)
    assert encode_variant(False) == u32(1, 0)
    assert same(decode_variant(u32(1, 7))[0], True)  # any non-zero is true


def test_nil_is_a_bare_header() -> None:
    assert encode_variant(None) == u32(0)
    assert decode_variant(u32(0)) == (None, 4)


def test_header_bits_8_to_15_are_ignored_by_the_type_mask() -> None:
    assert decode_variant(u32(0x0000FF02, 9)) == (9, 8)


@pytest.mark.parametrize("type_id", [39, 40, 0xFF])
def test_type_id_39_and_above_is_invalid_data(type_id: int) -> None:
    assert raises_code(u32(type_id, 0, 0, 0)) == Error.ERR_INVALID_DATA


# ---------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hex_body"),
    [
        ("", "00 00 00 00"),
        ("a", "01 00 00 00 61 00 00 00"),
        ("abcd", "04 00 00 00 61 62 63 64"),
        ("abcde", "05 00 00 00 61 62 63 64 65 00 00 00"),
    ],
)
def test_string_length_excludes_zero_padding_to_four(text: str, hex_body: str) -> None:
    assert encode_variant(text) == u32(4) + bytes.fromhex(hex_body)


@pytest.mark.parametrize("text", ["héllo", "日本語", "🎮 game", "Ωmega\u00e9\u4e2d"])
def test_unicode_strings_are_utf8_with_byte_length(text: str) -> None:
    raw = text.encode("utf-8")
    data = encode_variant(text)
    assert data[4:8] == u32(len(raw))
    assert data[8 : 8 + len(raw)] == raw
    assert decode_variant(data) == (text, len(data))


@pytest.mark.parametrize(
    "raw",
    [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe6\x97", b"\xf4\x90\x80\x80", b"a\x80b"],
)
def test_invalid_utf8_is_invalid_data(raw: bytes) -> None:
    data = u32(4, len(raw)) + raw + b"\0" * (-len(raw) % 4)
    assert raises_code(data) == Error.ERR_INVALID_DATA


def test_string_stops_at_first_nul_like_godot_parse_utf8() -> None:
    data = u32(4, 5) + b"ab\0\xffx" + b"\0\0\0"  # bytes after the NUL are not even checked
    assert decode_variant(data) == ("ab", len(data))


def test_string_leading_bom_is_dropped() -> None:
    data = u32(4) + gstr("\ufeffhi")
    assert decode_variant(data)[0] == "hi"


@pytest.mark.parametrize(
    "data",
    [
        u32(4, 5) + b"abcd",  # body shorter than the length
        u32(4, 5) + b"abcde",  # padding missing
        u32(4, 0x7FFFFFFF) + b"abcd",
        u32(4, 0xFFFFFFFF) + b"abcd",  # negative length
    ],
)
def test_string_running_past_the_buffer_is_file_eof(data: bytes) -> None:
    assert raises_code(data) == Error.ERR_FILE_EOF


def test_string_length_word_missing_is_invalid_data() -> None:
    assert raises_code(u32(4) + b"\x01\0") == Error.ERR_INVALID_DATA


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(VariantError) as info:
        encode_variant("\ud800")
    assert info.value.error == Error.ERR_INVALID_PARAMETER


def test_string_name_uses_type_21() -> None:
    data = encode_variant(StringName("jump"))
    assert data == u32(21) + gstr("jump")
    value = decode_variant(data)[0]
    assert type(value) is StringName and value == "jump"


# ---------------------------------------------------------------------------------------
# Round trips of every supported type
# ---------------------------------------------------------------------------------------

ROUND_TRIPS = [
    (None, VariantType.NIL),
    (True, VariantType.BOOL),
    (-123, VariantType.INT),
    (2.25, VariantType.FLOAT),
    ("text", VariantType.STRING),
    (Vector2(1.5, -2.0), VariantType.VECTOR2),
    (Vector2i(-3, 2**31 - 1), VariantType.VECTOR2I),
    (Rect2(1.0, 2.0, 3.0, 4.0), VariantType.RECT2),
    (Rect2i(1, 2, 3, -4), VariantType.RECT2I),
    (Vector3(0.5, 0.25, -8.0), VariantType.VECTOR3),
    (Vector3i(1, -2, 3), VariantType.VECTOR3I),
    (Transform2D(1.0, 0.0, 0.0, 1.0, 5.0, 6.0), VariantType.TRANSFORM2D),
    (Vector4(1.0, 2.0, 3.0, 4.0), VariantType.VECTOR4),
    (Vector4i(1, 2, 3, 4), VariantType.VECTOR4I),
    (Plane(0.0, 1.0, 0.0, 2.5), VariantType.PLANE),
    (Quaternion(0.0, 0.0, 0.0, 1.0), VariantType.QUATERNION),
    (AABB(0.0, 1.0, 2.0, 3.0, 4.0, 5.0), VariantType.AABB),
    (Basis(*[float(i) for i in range(9)]), VariantType.BASIS),
    (Transform3D(*[float(i) for i in range(12)]), VariantType.TRANSFORM3D),
    (Projection(*[float(i) for i in range(16)]), VariantType.PROJECTION),
    (Color(1.0, 0.5, 0.25), VariantType.COLOR),
    (StringName("name"), VariantType.STRING_NAME),
    (NodePath(("root", "Main"), ("position", "x"), True), VariantType.NODE_PATH),
    (RID(2**40 + 7), VariantType.RID),
    (EncodedObjectAsID(123456789012), VariantType.OBJECT),
    (GodotCallable(), VariantType.CALLABLE),
    (Signal("pressed", 42), VariantType.SIGNAL),
    ({"a": 1, 2: [3.5, None]}, VariantType.DICTIONARY),
    ([1, "two", 3.0, [4]], VariantType.ARRAY),
    (b"\x00\x01\x02", VariantType.PACKED_BYTE_ARRAY),
    (PackedInt32Array([1, -2, 2**31 - 1]), VariantType.PACKED_INT32_ARRAY),
    (PackedInt64Array([2**40, -(2**63)]), VariantType.PACKED_INT64_ARRAY),
    (PackedFloat32Array([0.5, -1.25]), VariantType.PACKED_FLOAT32_ARRAY),
    (PackedFloat64Array([0.1, 1e300]), VariantType.PACKED_FLOAT64_ARRAY),
    (PackedStringArray(["", "a", "héllo"]), VariantType.PACKED_STRING_ARRAY),
    (PackedVector2Array([Vector2(1.0, 2.0)]), VariantType.PACKED_VECTOR2_ARRAY),
    (PackedVector3Array([Vector3(1.0, 2.0, 3.0)] * 2), VariantType.PACKED_VECTOR3_ARRAY),
    (PackedColorArray([Color(0.0, 0.5, 1.0, 0.25)]), VariantType.PACKED_COLOR_ARRAY),
    (PackedVector4Array([Vector4(1.0, 2.0, 3.0, 4.0)]), VariantType.PACKED_VECTOR4_ARRAY),
]


@pytest.mark.parametrize(("value", "type_id"), ROUND_TRIPS, ids=lambda v: type(v).__name__)
def test_every_supported_type_round_trips_with_its_godot_type_id(
    value: Any, type_id: VariantType
) -> None:
    data = encode_variant(value)
    assert data[0] == type_id
    assert same(round_trip(value), value)


def test_empty_containers_round_trip() -> None:
    for value in ([], {}, b"", PackedInt32Array(), PackedStringArray(), PackedVector2Array()):
        assert same(round_trip(value), value)


def test_tuples_encode_as_arrays_and_decode_as_lists() -> None:
    assert encode_variant((1, 2)) == encode_variant([1, 2])
    assert same(round_trip((1, (2,))), [1, [2]])


def test_bytearray_and_memoryview_encode_as_packed_byte_array() -> None:
    expected = u32(29, 5) + b"hello\0\0\0"
    assert encode_variant(b"hello") == expected
    assert encode_variant(bytearray(b"hello")) == expected
    assert encode_variant(memoryview(b"xhellox")[1:6]) == expected


def test_nested_containers_round_trip() -> None:
    value = {
        "players": [{"id": 1, "pos": Vector2(1.0, 2.0)}, {"id": 2, "pos": Vector2(3.0, 4.0)}],
        "tags": PackedStringArray(["a", "b"]),
        "blob": b"\xff" * 5,
        "nested": [[[], {}], [None, [True, [2**40]]]],
        "color": Color(1.0, 0.0, 0.0),
    }
    assert same(round_trip(value), value)


def test_dictionary_preserves_insertion_order() -> None:
    value = {"z": 1, "a": 2, 10: 3, None: 4}
    assert list(round_trip(value)) == ["z", "a", 10, None]


def test_value_classes_compare_equal_to_plain_tuples() -> None:
    assert Vector2(1.0, 2.0) == (1.0, 2.0)
    assert Vector3i(1, 2, 3) == (1, 2, 3)
    assert Color(1.0, 0.0, 0.0) == (1.0, 0.0, 0.0, 1.0)
    assert Rect2(1.0, 2.0, 3.0, 4.0).size == Vector2(3.0, 4.0)
    with pytest.raises(AttributeError):
        Vector2(1.0, 2.0).x = 5.0  # type: ignore[misc]


def test_node_path_text_form_parses_and_prints() -> None:
    path = NodePath.from_string("/root/Main:position:x")
    assert path == NodePath(("root", "Main"), ("position", "x"), True)
    assert str(path) == "/root/Main:position:x"
    assert str(NodePath.from_string("Child")) == "Child"


def test_node_path_wire_format_marks_new_format_and_absolute_flag() -> None:
    data = encode_variant(NodePath(("a",), ("b",), True))
    assert data == u32(22, 0x80000001, 1, 1) + gstr("a") + gstr("b")


def test_node_path_obsolete_property_flag_counts_one_more_subname() -> None:
    data = u32(22, 0x80000001, 0, 2) + gstr("node") + gstr("prop")
    assert decode_variant(data)[0] == NodePath(("node",), ("prop",), False)


def test_node_path_old_string_format_is_invalid_data() -> None:
    assert raises_code(u32(22) + gstr("old")) == Error.ERR_INVALID_DATA


def test_callable_has_no_body_and_signal_is_name_plus_object_id() -> None:
    assert encode_variant(GodotCallable()) == u32(25)
    assert encode_variant(Signal("hit", 7)) == u32(26) + gstr("hit") + struct.pack("<Q", 7)


def test_math_types_are_float32_on_the_wire() -> None:
    assert encode_variant(Vector2(1.0, 2.0)) == u32(5) + struct.pack("<2f", 1.0, 2.0)
    assert encode_variant(Color(1.0, 0.5, 0.0, 1.0)) == u32(20) + struct.pack(
        "<4f", 1.0, 0.5, 0.0, 1.0
    )


def test_math_types_with_64bit_flag_decode_doubles_from_double_builds() -> None:
    data = u32(5 | 1 << 16) + struct.pack("<2d", 0.1, 0.2)
    assert decode_variant(data) == (Vector2(0.1, 0.2), 20)
    packed = u32(35 | 1 << 16, 1) + struct.pack("<2d", 0.1, 0.2)
    assert decode_variant(packed) == ([Vector2(0.1, 0.2)], len(packed))


def test_color_ignores_the_64bit_flag() -> None:
    data = u32(20 | 1 << 16) + struct.pack("<4f", 1.0, 0.0, 0.0, 1.0)
    assert decode_variant(data) == (Color(1.0, 0.0, 0.0, 1.0), 20)


# ---------------------------------------------------------------------------------------
# Packed arrays
# ---------------------------------------------------------------------------------------


def test_packed_string_array_sends_nul_terminator_in_each_length() -> None:
    # Godot writes utf8.length() + 1 bytes per element (the C string's NUL included).
    data = encode_variant(PackedStringArray(["ab", "abc"]))
    assert data == u32(34, 2, 3) + b"ab\0\0" + u32(4) + b"abc\0"
    assert decode_variant(data) == (["ab", "abc"], len(data))


def test_packed_arrays_decode_from_hand_built_godot_bytes() -> None:
    assert decode_variant(u32(30, 2) + struct.pack("<2i", 1, -1))[0] == [1, -1]
    assert decode_variant(u32(31, 1) + struct.pack("<q", -(2**40)))[0] == [-(2**40)]
    assert decode_variant(u32(32, 1) + struct.pack("<f", 0.5))[0] == [0.5]
    assert decode_variant(u32(33, 1) + struct.pack("<d", 0.1))[0] == [0.1]
    assert decode_variant(u32(36, 1) + struct.pack("<3f", 1, 2, 3))[0] == [Vector3(1, 2, 3)]
    assert decode_variant(u32(37, 1) + struct.pack("<4f", 1, 0, 0, 1))[0] == [Color(1, 0, 0, 1)]
    decoded = decode_variant(u32(34, 2) + gstr("x") + gstr("yz"))[0]
    assert decoded == ["x", "yz"] and isinstance(decoded, list)


def test_packed_string_array_negative_count_is_empty_like_godot() -> None:
    assert decode_variant(u32(34, 0xFFFFFFFF)) == ([], 8)


@pytest.mark.parametrize(
    ("typecode", "values", "type_id"),
    [
        ("i", [1, -2, 3], VariantType.PACKED_INT32_ARRAY),
        ("b", [-1, 2], VariantType.PACKED_INT32_ARRAY),
        ("H", [65535], VariantType.PACKED_INT32_ARRAY),
        ("I", [2**32 - 1], VariantType.PACKED_INT64_ARRAY),
        ("q", [2**62, -1], VariantType.PACKED_INT64_ARRAY),
        ("f", [0.5, 2.0], VariantType.PACKED_FLOAT32_ARRAY),
        ("d", [0.1], VariantType.PACKED_FLOAT64_ARRAY),
    ],
)
def test_array_module_encodes_as_the_matching_packed_array(
    typecode: str, values: list, type_id: VariantType
) -> None:
    data = encode_variant(array(typecode, values))
    assert data[0] == type_id
    assert decode_variant(data) == (values, len(data))


def test_array_module_unsupported_or_overflowing_values_are_invalid_parameter() -> None:
    for bad in (array("u", "ab"), array("Q", [2**64 - 1])):
        with pytest.raises(VariantError) as info:
            encode_variant(bad)
        assert info.value.error == Error.ERR_INVALID_PARAMETER


# ---------------------------------------------------------------------------------------
# Typed containers, objects
# ---------------------------------------------------------------------------------------


def test_typed_array_builtin_type_description_is_skipped() -> None:
    data = u32(28 | 1 << 16, VariantType.INT, 2) + u32(2, 7) + u32(2, 8)
    assert decode_variant(data) == ([7, 8], len(data))


def test_typed_array_class_name_and_script_descriptions_are_skipped() -> None:
    for kind, text in ((2, "Node"), (3, "res://player.gd")):
        data = u32(28 | kind << 16) + gstr(text) + u32(1) + u32(0)
        assert decode_variant(data) == ([None], len(data))


def test_typed_array_invalid_builtin_type_is_invalid_data() -> None:
    assert raises_code(u32(28 | 1 << 16, 39, 0)) == Error.ERR_INVALID_DATA
    assert raises_code(u32(28 | 1 << 16)) == Error.ERR_INVALID_DATA


def test_typed_array_script_path_must_be_res_when_objects_are_allowed() -> None:
    data = u32(28 | 3 << 16) + gstr("/etc/passwd") + u32(0)
    assert decode_variant(data)[0] == []
    assert raises_code(data, allow_objects=True) == Error.ERR_INVALID_DATA


def test_typed_dictionary_key_and_value_descriptions_are_skipped() -> None:
    header = 27 | 1 << 16 | 2 << 18  # builtin key type, class-name value type
    data = u32(header, VariantType.STRING) + gstr("Node") + u32(1) + u32(4) + gstr("k") + u32(0)
    assert decode_variant(data) == ({"k": None}, len(data))


def test_container_count_bit31_is_masked() -> None:
    assert decode_variant(u32(28, 0x80000001, 0)) == ([None], 12)
    assert decode_variant(u32(27, 0x80000000)) == ({}, 8)


def test_full_object_without_allow_objects_is_unauthorized() -> None:
    data = u32(24) + gstr("Node") + u32(0)
    assert raises_code(data) == Error.ERR_UNAUTHORIZED


def test_object_sent_as_id_decodes_to_encoded_object_as_id() -> None:
    data = u32(24 | 1 << 16) + struct.pack("<Q", 2**40)
    value, used = decode_variant(data)
    assert type(value) is EncodedObjectAsID and value == 2**40 and used == 12
    assert encode_variant(value) == data
    assert decode_variant(u32(24 | 1 << 16) + bytes(8)) == (None, 12)


def test_full_object_round_trips_with_full_objects_and_allow_objects() -> None:
    obj = GodotObject("Resource", {"name": "x", "script": None, "data": [1, {"k": 2}]})
    data = encode_variant(obj, full_objects=True)
    assert data.startswith(u32(24) + gstr("Resource") + u32(3) + gstr("name"))
    assert decode_variant(data, allow_objects=True) == (obj, len(data))


def test_full_object_needs_full_objects_to_encode() -> None:
    with pytest.raises(VariantError) as info:
        encode_variant(GodotObject("Node", {}))
    assert info.value.error == Error.ERR_INVALID_PARAMETER


def test_null_full_object_decodes_to_none() -> None:
    assert encode_variant(GodotObject("", {}), full_objects=True) == u32(24, 0)
    assert decode_variant(u32(24, 0), allow_objects=True) == (None, 8)


def test_full_object_script_property_must_be_a_res_path() -> None:
    data = u32(24) + gstr("Node") + u32(1) + gstr("script") + u32(2, 5)
    assert raises_code(data, allow_objects=True) == Error.ERR_INVALID_DATA


# ---------------------------------------------------------------------------------------
# Unencodable values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        ({1, 2}, "set"),
        (1j, "complex"),
        ([1, frozenset()], "frozenset"),
        ({"k": Ellipsis}, "ellipsis"),
    ],
)
def test_unencodable_python_values_are_invalid_parameter_naming_the_type(
    value: Any, type_name: str
) -> None:
    with pytest.raises(VariantError) as info:
        encode_variant(value)
    assert info.value.error == Error.ERR_INVALID_PARAMETER
    assert type_name in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        Vector2i(2**31, 0),
        Vector2("a", 1.0),  # type: ignore[arg-type]
        Vector2(1e300, 0.0),
        PackedInt32Array([2**31]),
        PackedStringArray(["ok", 5]),
        PackedVector2Array([(1.0, 2.0, 3.0)]),
        RID(-1),
        EncodedObjectAsID(2**64),
    ],
)
def test_out_of_range_fields_are_invalid_parameter(value: Any) -> None:
    with pytest.raises(VariantError) as info:
        encode_variant(value)
    assert info.value.error == Error.ERR_INVALID_PARAMETER


def test_int_enum_values_encode_as_int() -> None:
    assert encode_variant(Error.ERR_INVALID_DATA) == u32(2, 30)


# ---------------------------------------------------------------------------------------
# Framing: consumed counts, trailing bytes, truncation
# ---------------------------------------------------------------------------------------


def test_trailing_bytes_are_ignored_and_consumed_count_is_exact() -> None:
    for value in (5, "abc", [1, b"xy"], {"k": 2.5}):
        data = encode_variant(value)
        decoded, used = decode_variant(data + b"TRAILING\x00\x01")
        assert same(decoded, value) and used == len(data)


def test_decode_accepts_bytes_bytearray_and_memoryview() -> None:
    data = encode_variant([1, "x"])
    for view in (data, bytearray(data), memoryview(data), memoryview(b"\0" + data)[1:]):
        assert decode_variant(view) == ([1, "x"], len(data))


def test_decode_of_a_non_buffer_is_a_variant_error() -> None:
    with pytest.raises(VariantError) as info:
        decode_variant("not bytes")  # type: ignore[arg-type]
    assert info.value.error == Error.ERR_INVALID_PARAMETER


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x02\0\0", u32(2), u32(3) + b"\0\0", u32(9)])
def test_short_header_or_body_is_invalid_data(data: bytes) -> None:
    assert raises_code(data) == Error.ERR_INVALID_DATA


def test_byte_array_missing_final_padding_is_tolerated_like_godot() -> None:
    data = u32(29, 3) + b"abc"  # Godot only checks count <= remaining bytes
    assert decode_variant(data) == (b"abc", len(data))


def test_large_byte_array_encodes_quickly_and_exactly() -> None:
    payload = bytes(range(256)) * 4096 + b"x"  # 1 MiB + 1
    started = time.perf_counter()
    data = encode_variant(payload)
    elapsed = time.perf_counter() - started
    assert data == u32(29, len(payload)) + payload + b"\0\0\0"
    assert elapsed < 0.5
    assert decode_variant(data) == (payload, len(data))


# ---------------------------------------------------------------------------------------
# Hostile input: lying counts, nesting depth, unhashable keys
# ---------------------------------------------------------------------------------------

LYING = [
    ("array", u32(28, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("dictionary", u32(27, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("byte_array", u32(29, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("int32_array", u32(30, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("int32_overflow", u32(30, 0x40000000) + bytes(8), Error.ERR_INVALID_DATA),
    ("int64_array", u32(31, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("float32_array", u32(32, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("float64_array", u32(33, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("string_array", u32(34, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("vector2_array", u32(35, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("vector3_array", u32(36, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("color_array", u32(37, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("vector4_array", u32(38 | 1 << 16, 0x7FFFFFFF) + bytes(8), Error.ERR_INVALID_DATA),
    ("node_path", u32(22, 0xFFFFFFFF, 0xFFFFFFFF, 0) + bytes(8), Error.ERR_INVALID_DATA),
    ("string", u32(4, 0x7FFFFFFF) + bytes(8), Error.ERR_FILE_EOF),
]


@pytest.mark.parametrize(
    ("data", "code"), [(d, c) for _, d, c in LYING], ids=[n for n, *_ in LYING]
)
def test_lying_counts_fail_fast_without_allocating(data: bytes, code: Error) -> None:
    tracemalloc.start()
    try:
        started = time.perf_counter()
        assert raises_code(data) == code
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1 << 20


def test_lying_object_property_count_fails_fast() -> None:
    data = u32(24) + gstr("Node") + u32(0x7FFFFFFF) + bytes(2)
    assert raises_code(data, allow_objects=True) == Error.ERR_INVALID_DATA


def nested_arrays(levels: int) -> bytes:
    """``levels`` one-element arrays wrapped around an empty array."""
    return u32(28, 1) * levels + u32(28, 0)


def measure_depth(value: Any) -> int:
    depth = 0
    while value:
        value = value[0]
        depth += 1
    return depth


def test_decoding_nesting_at_the_recursion_limit_succeeds() -> None:
    data = nested_arrays(MAX_RECURSION_DEPTH)  # innermost array sits at depth 1024
    value, used = decode_variant(data)
    assert used == len(data)
    assert measure_depth(value) == MAX_RECURSION_DEPTH


def test_decoding_nesting_past_the_recursion_limit_is_out_of_memory() -> None:
    assert raises_code(nested_arrays(MAX_RECURSION_DEPTH + 1)) == Error.ERR_OUT_OF_MEMORY
    assert raises_code(nested_arrays(100_000)) == Error.ERR_OUT_OF_MEMORY
    deep_dicts = (u32(27, 1) + u32(0)) * (MAX_RECURSION_DEPTH + 1) + u32(0)
    assert raises_code(deep_dicts) == Error.ERR_OUT_OF_MEMORY


def test_encoding_nesting_at_the_recursion_limit_matches_godot_bytes() -> None:
    value: list = []
    for _ in range(MAX_RECURSION_DEPTH):
        value = [value]
    assert encode_variant(value) == nested_arrays(MAX_RECURSION_DEPTH)


def test_encoding_nesting_past_the_recursion_limit_is_out_of_memory() -> None:
    value: list = []
    for _ in range(MAX_RECURSION_DEPTH + 1):
        value = [value]
    with pytest.raises(VariantError) as info:
        encode_variant(value)
    assert info.value.error == Error.ERR_OUT_OF_MEMORY


def test_self_containing_list_is_out_of_memory_not_recursion_error() -> None:
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(VariantError) as info:
        encode_variant(loop)
    assert info.value.error == Error.ERR_OUT_OF_MEMORY


def test_array_dictionary_keys_become_tuples() -> None:
    data = u32(27, 1) + u32(28, 2) + u32(2, 1) + u32(28, 1) + u32(2, 2) + u32(4) + gstr("v")
    assert decode_variant(data)[0] == {(1, (2,)): "v"}


def test_dictionary_key_that_python_cannot_hash_is_invalid_data() -> None:
    data = u32(27, 1) + u32(27, 0) + u32(0)  # {{}: null}
    assert raises_code(data) == Error.ERR_INVALID_DATA


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\ufeff"),
    max_size=12,
)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
FLOAT32 = st.floats(allow_nan=False, width=32)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.floats(allow_nan=False),
    TEXT,
    st.binary(max_size=12),
    st.builds(StringName, TEXT),
    st.builds(Vector2, FLOAT32, FLOAT32),
    st.builds(Vector3i, INT32, INT32, INT32),
    st.builds(Color, FLOAT32, FLOAT32, FLOAT32, FLOAT32),
    st.builds(PackedInt32Array, st.lists(INT32, max_size=4)),
    st.builds(PackedStringArray, st.lists(TEXT, max_size=3)),
)
KEYS = st.one_of(
    st.none(), st.booleans(), INT64, st.floats(allow_nan=False), TEXT, st.binary(max_size=4)
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


@FAST
@given(VALUES)
def test_property_plain_python_values_round_trip_exactly(value: Any) -> None:
    assert same(round_trip(value), value)


def check_decode_contract(data: bytes, allow_objects: bool = False) -> None:
    """Decoding returns a sane consumed count or raises VariantError (never a bug)."""
    try:
        _, used = decode_variant(data, allow_objects=allow_objects)
    except VariantError as exc:
        assert exc.error != Error.ERR_BUG, exc
    else:
        assert 4 <= used <= len(data)


@FAST
@given(st.binary(max_size=96), st.booleans())
def test_property_random_bytes_only_raise_variant_error(data: bytes, allow: bool) -> None:
    check_decode_contract(data, allow)


@FAST
@given(
    st.integers(min_value=0, max_value=38),
    st.integers(min_value=0, max_value=0xF),
    st.binary(max_size=64),
    st.booleans(),
)
def test_property_well_formed_headers_with_random_bodies_only_raise_variant_error(
    type_id: int, flags: int, body: bytes, allow: bool
) -> None:
    check_decode_contract(u32(type_id | flags << 16) + body, allow)


@settings(FAST, max_examples=60)
@given(VALUES)
def test_property_truncated_encodings_only_raise_variant_error(value: Any) -> None:
    data = encode_variant(value)
    for cut in range(len(data)):
        check_decode_contract(data[:cut])


@FAST
@given(VALUES, st.data())
def test_property_corrupted_encodings_only_raise_variant_error(value: Any, data: Any) -> None:
    encoded = bytearray(encode_variant(value))
    for _ in range(3):
        index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
        encoded[index] = data.draw(st.integers(min_value=0, max_value=255))
    check_decode_contract(bytes(encoded), data.draw(st.booleans()))
