"""Mutations of captured DTLS datagrams: byte, record and handshake-fragment edits.

Each mutator takes a seeded ``random.Random``, a base datagram and a pool of other
captured datagrams and returns a new datagram; :func:`mutate` draws one by weight. The
choices depend only on the seed, so a run can be repeated mutation for mutation.
"""

from __future__ import annotations

import random
from typing import Callable, Sequence

from godot_dtls.core.records import (
    HANDSHAKE_HEADER_SIZE,
    MAX_DATAGRAM_SIZE,
    RECORD_HEADER_SIZE,
    handshake_type,
    split_records,
)

# ---------------------------------------------------------------------------- records


def _set_length(record: bytearray, length: int) -> None:
    record[11:13] = (length & 0xFFFF).to_bytes(2, "big")


def _is_plain_handshake(record: bytes) -> bool:
    """An epoch-0 handshake record: its body starts with a readable handshake header."""
    return (
        handshake_type(record) is not None
        and len(record) >= RECORD_HEADER_SIZE + HANDSHAKE_HEADER_SIZE
    )


# ---------------------------------------------------------------------------- mutators

Mutator = Callable[[random.Random, bytes, Sequence[bytes]], bytes]
_INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_BAD_CONTENT_TYPES = (0, 1, 19, 24, 25, 63, 128, 255)
_VERSIONS = (0xFEFD, 0xFEFF, 0xFEFC, 0x0303, 0x0301, 0x0000, 0xFFFF, 0x0100)
_BIG_24 = (0xFFFFFF, 0x800000, 0x4000, 0x10000, 0xFFFF)


def random_bytes(rng: random.Random, length: int) -> bytes:
    return rng.getrandbits(8 * length).to_bytes(length, "little") if length else b""


def _pick_record(rng: random.Random, datagram: bytes) -> tuple[list[bytes], int]:
    records = split_records(datagram) or [b""]
    return records, rng.randrange(len(records))


def _edit_record(rng: random.Random, datagram: bytes, edit: Callable[[bytearray], None]) -> bytes:
    records, index = _pick_record(rng, datagram)
    record = bytearray(records[index])
    if len(record) < RECORD_HEADER_SIZE:
        record.extend(b"\x00" * (RECORD_HEADER_SIZE - len(record)))
    edit(record)
    records[index] = bytes(record)
    return b"".join(records)


def _edit_handshake(
    rng: random.Random, datagram: bytes, edit: Callable[[bytearray], None]
) -> bytes:
    """Edit the handshake header of an epoch-0 handshake record (any record if none)."""
    records = split_records(datagram)
    candidates = [i for i, r in enumerate(records) if _is_plain_handshake(r)]
    if not candidates:
        return _mut_bit_flip(rng, datagram, ())
    index = rng.choice(candidates)
    record = bytearray(records[index])
    edit(record)
    records[index] = bytes(record)
    return b"".join(records)


def _mut_replay(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return base


def _mut_random_bytes(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    length = rng.choice((1, 2, 12, 13, 14, 25, rng.randint(1, 200), rng.randint(1, 1500)))
    return random_bytes(rng, length)


def _mut_random_record(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Well-formed record headers around random bodies: gets past the header checks."""
    records = []
    for _ in range(rng.randint(1, 3)):
        body = random_bytes(rng, rng.choice((0, 1, 12, 16, 24, 40, rng.randint(0, 600))))
        header = bytes((rng.choice((20, 21, 22, 23)), 0xFE, 0xFD))
        header += rng.choice((0, 0, 1, 2)).to_bytes(2, "big")
        header += rng.choice((0, 1, rng.getrandbits(48))).to_bytes(6, "big")
        records.append(header + len(body).to_bytes(2, "big") + body)
    return b"".join(records)


def _mut_random_handshake(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """An epoch-0 handshake record with a consistent header and a random message."""
    body_length = rng.choice((0, 1, 2, 38, 100, rng.randint(0, 400)))
    total = body_length if rng.random() < 0.6 else rng.choice((body_length + 1, 0xFFFFFF))
    message = bytes((rng.choice((0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 20, 255)),))
    message += total.to_bytes(3, "big")
    message += rng.choice((0, 1, 2, 3, 5, 0xFFFF)).to_bytes(2, "big")
    message += rng.choice((0, 0, 0, 1, body_length)).to_bytes(3, "big")
    message += body_length.to_bytes(3, "big") + random_bytes(rng, body_length)
    header = b"\x16\xfe\xfd\x00\x00" + rng.getrandbits(8).to_bytes(6, "big")
    return header + len(message).to_bytes(2, "big") + message


def _mut_bit_flip(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    if not base:
        return b"\x01"
    data = bytearray(base)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
    return bytes(data)


def _mut_header_flip(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        record[rng.randrange(RECORD_HEADER_SIZE)] ^= 1 << rng.randrange(8)

    return _edit_record(rng, base, edit)


def _mut_byte_set(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    if not base:
        return bytes((rng.choice(_INTERESTING_BYTES),))
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.choice(_INTERESTING_BYTES)
    return bytes(data)


def _mut_length_large(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        length = len(record) - RECORD_HEADER_SIZE
        _set_length(
            record, rng.choice((length + 1, length + rng.randint(2, 64), 0x4000, 0x4801, 0xFFFF))
        )

    return _edit_record(rng, base, edit)


def _mut_length_small(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        length = len(record) - RECORD_HEADER_SIZE
        _set_length(record, max(0, length - rng.choice((1, 2, 8, rng.randint(1, max(1, length))))))

    return _edit_record(rng, base, edit)


def _mut_length_zero(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _edit_record(rng, base, lambda record: _set_length(record, 0))


def _mut_epoch(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        epoch = int.from_bytes(record[3:5], "big")
        choice = rng.choice((epoch ^ 1, epoch + 1, epoch + 2, 0, 0xFFFF, rng.getrandbits(16)))
        record[3:5] = (choice & 0xFFFF).to_bytes(2, "big")

    return _edit_record(rng, base, edit)


def _mut_sequence(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        sequence = rng.choice(
            (0, 1, (1 << 48) - 1, 1 << 47, rng.getrandbits(48), rng.getrandbits(12))
        )
        record[5:11] = sequence.to_bytes(6, "big")

    return _edit_record(rng, base, edit)


def _mut_content_type(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        record[0] = rng.choice((*_BAD_CONTENT_TYPES, 20, 21, 22, 23, rng.getrandbits(8)))

    return _edit_record(rng, base, edit)


def _mut_version(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    def edit(record: bytearray) -> None:
        record[1:3] = rng.choice((*_VERSIONS, rng.getrandbits(16))).to_bytes(2, "big")

    return _edit_record(rng, base, edit)


def _mut_truncate_header(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Cut the datagram inside a record header (1 to 12 bytes of it remain)."""
    starts = [0]
    for record in split_records(base)[:-1]:
        starts.append(starts[-1] + len(record))
    start = rng.choice(starts)
    return base[: start + rng.randint(1, RECORD_HEADER_SIZE - 1)]


def _mut_truncate(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    if len(base) <= 1:
        return base
    return base[: rng.randrange(1, len(base))]


def _hs_field(
    rng: random.Random, base: bytes, offset: int, width: int, values: Sequence[int]
) -> bytes:
    def edit(record: bytearray) -> None:
        start = RECORD_HEADER_SIZE + offset
        value = rng.choice((*tuple(values), rng.getrandbits(8 * width)))
        record[start : start + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big")

    return _edit_handshake(rng, base, edit)


def _mut_hs_fragment_offset(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _hs_field(rng, base, 6, 3, (*_BIG_24, 1, 2, 1000))


def _mut_hs_fragment_length(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _hs_field(rng, base, 9, 3, (*_BIG_24, 0, 1))


def _mut_hs_message_length(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _hs_field(rng, base, 1, 3, (*_BIG_24, 0, 1, 1048576))


def _mut_hs_message_seq(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _hs_field(rng, base, 4, 2, (0, 1, 2, 3, 7, 0xFFFF, 0x8000))


def _mut_hs_type(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return _hs_field(rng, base, 0, 1, (0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 20, 24, 254))


def _mut_refragment(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Cut an epoch-0 handshake message into fragments, possibly overlapping or with gaps."""
    records = split_records(base)
    candidates = [i for i, r in enumerate(records) if _is_plain_handshake(r)]
    if not candidates:
        return _mut_split_record(rng, base, pool)
    index = rng.choice(candidates)
    record = records[index]
    header, handshake = record[:RECORD_HEADER_SIZE], record[RECORD_HEADER_SIZE:]
    message_header, body = handshake[:12], handshake[12:]
    fragments = []
    position = 0
    while position < len(body) and len(fragments) < 8:
        size = rng.randint(1, max(1, len(body) // 2))
        start = max(0, position - rng.choice((0, 0, 0, 1, 5)))  # overlap now and then
        if rng.random() < 0.1:
            start = position + rng.randint(1, 8)  # a gap
        piece = body[start : start + size]
        fragment = bytearray(message_header)
        fragment[6:9] = start.to_bytes(3, "big")
        fragment[9:12] = len(piece).to_bytes(3, "big")
        fragment += piece
        new_header = bytearray(header)
        _set_length(new_header, len(fragment))
        fragments.append(bytes(new_header) + bytes(fragment))
        position = start + size
    if rng.random() < 0.5:
        rng.shuffle(fragments)
    records[index : index + 1] = fragments
    return b"".join(records)


def _mut_split_record(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Split one record's body over two records that both claim the original header."""
    records, index = _pick_record(rng, base)
    record = records[index]
    if len(record) <= RECORD_HEADER_SIZE + 1:
        return base + base
    header, body = bytearray(record[:RECORD_HEADER_SIZE]), record[RECORD_HEADER_SIZE:]
    cut = rng.randrange(1, len(body))
    first, second = bytearray(header), bytearray(header)
    _set_length(first, cut)
    _set_length(second, len(body) - cut)
    records[index : index + 1] = [bytes(first) + body[:cut], bytes(second) + body[cut:]]
    return b"".join(records)


def _mut_duplicate_record(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    records, index = _pick_record(rng, base)
    records.insert(index, records[index])
    return b"".join(records)


def _mut_drop_record(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    records, index = _pick_record(rng, base)
    if len(records) > 1:
        del records[index]
    return b"".join(records)


def _mut_swap_records(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    records = split_records(base)
    rng.shuffle(records)
    return b"".join(records)


def _mut_concatenate(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    parts = [base] + [rng.choice(pool) for _ in range(rng.randint(1, 4))] if pool else [base, base]
    rng.shuffle(parts)
    return b"".join(parts)


def _mut_splice(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    other = rng.choice(pool) if pool else base
    return base[: rng.randint(0, len(base))] + other[rng.randint(0, len(other)) :]


def _mut_insert_bytes(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    position = rng.randint(0, len(base))
    return base[:position] + random_bytes(rng, rng.choice((1, 2, 4, 13, 64))) + base[position:]


def _mut_delete_bytes(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    if not base:
        return base
    position = rng.randrange(len(base))
    return base[:position] + base[position + rng.choice((1, 2, 4, 13, 64)) :]


def _mut_append_garbage(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return base + random_bytes(rng, rng.choice((1, 5, 12, 13, 20, 100)))


def _mut_oversize(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Larger than any valid DTLS datagram (or just at the limit)."""
    size = rng.choice((MAX_DATAGRAM_SIZE, MAX_DATAGRAM_SIZE + 1, 65507))
    return (base * (size // max(1, len(base)) + 1))[:size] if base else bytes(size)


def _mut_empty(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return b""


#: name -> (weight, mutator). Weights favour structure-aware mutations of real records.
MUTATORS: dict[str, tuple[int, Mutator]] = {
    "replay": (8, _mut_replay),
    "random-bytes": (4, _mut_random_bytes),
    "random-record": (4, _mut_random_record),
    "random-handshake": (4, _mut_random_handshake),
    "bit-flip": (8, _mut_bit_flip),
    "header-flip": (5, _mut_header_flip),
    "byte-set": (4, _mut_byte_set),
    "length-too-large": (4, _mut_length_large),
    "length-too-small": (4, _mut_length_small),
    "length-zero": (2, _mut_length_zero),
    "bad-epoch": (4, _mut_epoch),
    "bad-sequence": (3, _mut_sequence),
    "bad-content-type": (4, _mut_content_type),
    "bad-version": (4, _mut_version),
    "truncated-header": (3, _mut_truncate_header),
    "truncated": (3, _mut_truncate),
    "hs-fragment-offset": (4, _mut_hs_fragment_offset),
    "hs-fragment-length": (4, _mut_hs_fragment_length),
    "hs-message-length": (3, _mut_hs_message_length),
    "hs-message-seq": (3, _mut_hs_message_seq),
    "hs-type": (2, _mut_hs_type),
    "refragment": (4, _mut_refragment),
    "split-record": (2, _mut_split_record),
    "duplicate-record": (3, _mut_duplicate_record),
    "drop-record": (2, _mut_drop_record),
    "swap-records": (2, _mut_swap_records),
    "concatenate": (3, _mut_concatenate),
    "splice": (4, _mut_splice),
    "insert-bytes": (2, _mut_insert_bytes),
    "delete-bytes": (2, _mut_delete_bytes),
    "append-garbage": (2, _mut_append_garbage),
    "oversize": (1, _mut_oversize),
    "empty": (1, _mut_empty),
}
_MUTATOR_NAMES = tuple(MUTATORS)
_MUTATOR_CUMULATIVE: list[int] = []
_total = 0
for name in _MUTATOR_NAMES:
    _total += MUTATORS[name][0]
    _MUTATOR_CUMULATIVE.append(_total)
del _total, name


def mutate(
    rng: random.Random, base: bytes, pool: Sequence[bytes], name: str | None = None
) -> tuple[str, bytes]:
    """Apply one mutator (``name``, or one drawn by weight; sometimes a stack of 2-3)."""
    if name is None:
        if rng.random() < 0.12:
            names = [_draw_mutator(rng) for _ in range(rng.randint(2, 3))]
            data = base
            for step in names:
                data = MUTATORS[step][1](rng, data, pool)
            return "+".join(names), data[: MAX_DATAGRAM_SIZE + 64]
        name = _draw_mutator(rng)
    data = MUTATORS[name][1](rng, base, pool)
    if name != "oversize":
        data = data[: MAX_DATAGRAM_SIZE + 64]
    return name, data


def _draw_mutator(rng: random.Random) -> str:
    point = rng.randrange(_MUTATOR_CUMULATIVE[-1])
    low, high = 0, len(_MUTATOR_CUMULATIVE) - 1
    while low < high:
        middle = (low + high) // 2
        if _MUTATOR_CUMULATIVE[middle] > point:
            high = middle
        else:
            low = middle + 1
    return _MUTATOR_NAMES[low]
