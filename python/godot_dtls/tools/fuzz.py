"""A seeded mutation fuzzer for the sans-IO :class:`~godot_dtls.core.connection.DTLSConnection`.

Modelled on OpenSSL's DTLS fuzzers (``fuzz/dtlsclient.c``, ``fuzz/dtlsserver.c``): the
inputs are *real* records, captured from in-memory handshakes between a client and a
server of this package (ClientHello, HelloVerifyRequest, ClientHello with cookie, the
server flight, the client flight, the server's Finished, application data, alerts), then
mutated at the byte, record and handshake-fragment level and fed one datagram at a time
to connections in every state:

============================  ==============================================================
target kind                   the connection fed
============================  ==============================================================
``client-hello-sent``         client after its first ClientHello, before any server flight
``client-cookie-sent``        client after the HelloVerifyRequest, awaiting the server flight
``client-mid-handshake``      client after its own flight, awaiting the server's Finished
``client-connected``          established client
``server-awaiting-cookie``    fresh server connection, before a ClientHello with a cookie
``server-mid-handshake``      server after its flight, awaiting the client's flight
``server-connected``          established server
``client-closed``             client after ``close()``
``server-closed``             server after the peer's close_notify / a HelloVerifyRequest
``client-failed``             client after a handshake timeout or a hostname mismatch
``server-failed``             server after the client's fatal alert
============================  ==============================================================

Each target has the real peer it was made with, and its own session's records (which
it can decrypt or which continue its handshake) are mixed with those of a reference
session. After every datagram, and every ``handle_timer`` call, the fuzzer checks:

- no exception escapes ``receive_datagram`` / ``handle_timer``, and none is swallowed by a
  catch-all that logs its traceback on the ``godot_dtls`` logger (:class:`LogWatch`);
- the call returns within ``max_call_seconds``;
- every datagram produced holds whole records and is at most the MTU, or holds a single
  record (a big application record travels alone);
- the state is a :class:`ConnectionState` and changed only along a legal transition
  (``HANDSHAKING`` → anything; ``CONNECTED`` → ``CLOSED``/``FAILED``; the end states stay),
  a failure carries a reason, no timer runs outside ``HANDSHAKING``;
- every application packet delivered is one the real peer sent (nothing is forged);
- a connection that claims ``CONNECTED`` still works: periodically (and whenever it
  becomes connected) the datagrams it produced are delivered to its peer and one packet
  goes each way and must arrive intact;
- memory stays bounded: the process RSS (and, optionally, the Python heap through
  :mod:`tracemalloc`) may not grow by more than a limit after a warm-up.

Time is virtual: ``now`` advances a few milliseconds per datagram and jumps to the
target's timer when :meth:`Session.fire_timer` runs. That drives the package's own
handshake deadline; OpenSSL's retransmission timer reads the real clock, so
retransmissions (counted in the report) are rare within a run.

The mutation choices are fully determined by the seed; the captured records are not
(OpenSSL draws its randoms and ECDHE keys itself), so a finding carries the exact
datagram that triggered it and every datagram fed to that target before it
(``godot-dtls fuzz --save-findings FILE`` writes them; :func:`replay` feeds one to a new
target). Command line: ``godot-dtls fuzz [--count N] [--seed S] [--seconds T]``, exit
status 1 on any finding.
"""

from __future__ import annotations

import argparse
import datetime
import faulthandler
import json
import logging
import os
import random
import sys
import time
import traceback
import tracemalloc
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TextIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from godot_dtls.api.context import client_context, server_context
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import CryptoKey, X509Certificate
from godot_dtls.core.connection import DTLSConnection
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.events import ConnectionFailed, HandshakeCompleted
from godot_dtls.core.log import logger
from godot_dtls.core.records import (
    HANDSHAKE_HEADER_SIZE,
    MAX_DATAGRAM_SIZE,
    RECORD_HEADER_SIZE,
    describe_record,
    handshake_type,
    record_count,
    split_records,
)
from godot_dtls.core.states import ConnectionState, reachable
from godot_dtls.core.verification import CertificateVerifier

__all__ = [
    "MUTATORS",
    "TARGET_KINDS",
    "Finding",
    "FuzzReport",
    "FuzzWorld",
    "LogWatch",
    "Session",
    "add_fuzz_parser",
    "format_report",
    "mutate",
    "replay",
    "run_cli",
    "run_fuzz",
]

#: The name the fuzzing PKI's server certificate carries.
SERVER_NAME = "fuzz.example"
#: The address the server-side targets believe their client has (cookies are bound to it).
PEER_ADDRESS = ("192.0.2.7", 40000)
#: Every kind of target connection, in the order they are reported.
TARGET_KINDS = (
    "client-hello-sent",
    "client-cookie-sent",
    "client-mid-handshake",
    "client-connected",
    "server-awaiting-cookie",
    "server-mid-handshake",
    "server-connected",
    "client-closed",
    "server-closed",
    "client-failed",
    "server-failed",
)
# Live kinds are fed more often than the end states (which can only drop datagrams).
_KIND_WEIGHTS = (16, 16, 12, 8, 16, 16, 8, 2, 2, 2, 2)
_TERMINAL_KINDS = frozenset(TARGET_KINDS[7:])
_MTUS = (256, 576, 1400)
_MAX_DETAILED_FINDINGS = 50
_MAX_SAVED_OUTPUTS = 256
_MAX_ALERTS_KEPT = 256


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


def _random_bytes(rng: random.Random, length: int) -> bytes:
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
    return _random_bytes(rng, length)


def _mut_random_record(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    """Well-formed record headers around random bodies: gets past the header checks."""
    records = []
    for _ in range(rng.randint(1, 3)):
        body = _random_bytes(rng, rng.choice((0, 1, 12, 16, 24, 40, rng.randint(0, 600))))
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
    message += body_length.to_bytes(3, "big") + _random_bytes(rng, body_length)
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
    return base[:position] + _random_bytes(rng, rng.choice((1, 2, 4, 13, 64))) + base[position:]


def _mut_delete_bytes(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    if not base:
        return base
    position = rng.randrange(len(base))
    return base[:position] + base[position + rng.choice((1, 2, 4, 13, 64)) :]


def _mut_append_garbage(rng: random.Random, base: bytes, pool: Sequence[bytes]) -> bytes:
    return base + _random_bytes(rng, rng.choice((1, 5, 12, 13, 20, 100)))


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
for _name in _MUTATOR_NAMES:
    _total += MUTATORS[_name][0]
    _MUTATOR_CUMULATIVE.append(_total)
del _total, _name


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


# ---------------------------------------------------------------------------- the world


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_pki(key_type: str) -> tuple[X509Certificate, CryptoKey, X509Certificate]:
    """A CA and a server certificate for :data:`SERVER_NAME` (``key_type``: ec or rsa)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        leaf_key: object = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"godot-dtls fuzz CA ({key_type})"))
        .issuer_name(_name(f"godot-dtls fuzz CA ({key_type})"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAME))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return X509Certificate([ca]), CryptoKey(leaf_key), X509Certificate([leaf, ca])  # type: ignore[arg-type]


class FuzzWorld:
    """The contexts every target is made from: one client, ECDSA and RSA servers.

    The cookie secret is drawn from ``seed`` so cookie handling is reproducible.
    """

    def __init__(self, seed: int = 0) -> None:
        secret_rng = random.Random(seed ^ 0x5EED)
        self.cookies = CookieJar(
            rotate_every=1e9, random_bytes=lambda n: _random_bytes(secret_rng, n)
        )
        self.server_contexts: list[SSL.Context] = []
        ca_chain: list[x509.Certificate] = []
        for key_type in ("ec", "rsa"):
            ca, key, chain = _make_pki(key_type)
            self.server_contexts.append(server_context(TLSOptions.server(key, chain), self.cookies))
            ca_chain.extend(ca.certificates)
        # Keep the options alive: client contexts are cached per options object.
        self.client_options = TLSOptions.client(X509Certificate(ca_chain))
        self.client_context = client_context(self.client_options)
        self.reference_corpus: list[bytes] = _reference_corpus(self, random.Random(seed + 1))

    def client(self, mtu: int, name: str = SERVER_NAME) -> DTLSConnection:
        return DTLSConnection(
            self.client_context,
            is_client=True,
            server_name=SERVER_NAME,
            verifier=CertificateVerifier(name),
            mtu=mtu,
        )

    def server(self, context: SSL.Context, mtu: int) -> DTLSConnection:
        return DTLSConnection(context, is_client=False, peer_address=PEER_ADDRESS, mtu=mtu)

    def session(self, kind: str, rng: random.Random, now: float = 1000.0) -> Session:
        """A new target of ``kind`` with its peer and its session corpus."""
        return Session.build(self, kind, rng, now)


def _reference_corpus(world: FuzzWorld, rng: random.Random) -> list[bytes]:
    """Records of complete sessions of both key types, closes and fatal alerts included."""
    corpus: list[bytes] = []
    for kind in ("client-connected", "server-closed", "client-failed", "server-failed"):
        for _ in range(3):
            corpus.extend(Session.build(world, kind, rng, 1000.0).corpus)
    return corpus


# ---------------------------------------------------------------------------- findings


@dataclass
class Finding:
    """One broken rule: what was fed to which target, and what went wrong."""

    check: str
    target: str
    state: str
    mutation: str
    index: int
    message: str
    datagram: bytes = b""
    #: What the target was fed before, oldest first ("timer" entries are handle_timer
    #: calls): handshake fragments are reassembled across datagrams, so the datagram that
    #: triggered a finding may be innocent and the state built by earlier ones.
    history: list[bytes] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        shown = self.datagram[:96].hex()
        more = "..." if len(self.datagram) > 96 else ""
        return (
            f"[{self.check}] #{self.index} {self.target} ({self.state}) <- {self.mutation}: "
            f"{self.message}; datagram {len(self.datagram)} B {shown}{more}"
        )

    def to_json(self) -> str:
        """One JSON line with every byte needed to replay the finding on a new target."""
        return json.dumps(
            {
                "check": self.check,
                "target": self.target,
                "state": self.state,
                "mutation": self.mutation,
                "index": self.index,
                "message": self.message,
                "datagram": self.datagram.hex(),
                "history": [entry.hex() for entry in self.history],
            }
        )


@dataclass
class FuzzReport:
    """Counts and findings of one run."""

    seed: int
    datagrams: int = 0
    timer_calls: int = 0
    sessions: int = 0
    round_trips: int = 0
    round_trips_skipped: int = 0
    packets_delivered: int = 0
    retransmissions: int = 0
    elapsed: float = 0.0
    slowest_call: float = 0.0
    slowest_call_what: str = ""
    exceptions: int = 0
    findings_total: int = 0
    findings: list[Finding] = field(default_factory=list)
    by_kind: Counter = field(default_factory=Counter)
    by_state: Counter = field(default_factory=Counter)
    by_mutation: Counter = field(default_factory=Counter)
    transitions: Counter = field(default_factory=Counter)
    failure_reasons: Counter = field(default_factory=Counter)
    findings_by_check: Counter = field(default_factory=Counter)
    corpus_sizes: dict[str, int] = field(default_factory=dict)
    rss_start: int | None = None
    rss_baseline: int | None = None
    rss_peak: int | None = None
    rss_end: int | None = None
    traced_baseline: int | None = None
    traced_peak: int | None = None
    traced_end: int | None = None

    @property
    def ok(self) -> bool:
        return self.findings_total == 0

    @property
    def rate(self) -> float:
        return self.datagrams / self.elapsed if self.elapsed > 0 else 0.0

    def add(self, finding: Finding) -> None:
        self.findings_total += 1
        self.findings_by_check[finding.check] += 1
        if finding.check == "exception":
            self.exceptions += 1
        if len(self.findings) < _MAX_DETAILED_FINDINGS:
            self.findings.append(finding)


# ---------------------------------------------------------------------------- sessions


class LogWatch(logging.Handler):
    """Collects tracebacks logged on the ``godot_dtls`` logger.

    The package never raises into its caller; a catch-all that logs an exception instead
    hides the same bug, so the fuzzer counts those as findings too. Use as a context
    manager around the calls to watch.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.swallowed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.swallowed.append(
                f"logged {type(exc).__name__} ({str(exc)[:120]}) under '{record.getMessage()}'"
            )

    def take(self) -> list[str]:
        taken, self.swallowed = self.swallowed, []
        return taken

    def __enter__(self) -> LogWatch:
        logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logger.removeHandler(self)


def _drain(connection: DTLSConnection) -> list[bytes]:
    return connection.datagrams_to_send()


def _deliver(datagrams: Sequence[bytes], to: DTLSConnection, now: float) -> None:
    for datagram in datagrams:
        to.receive_datagram(datagram, now)


class Session:
    """One target connection, its real peer, and the records of their handshake.

    :meth:`feed` and :meth:`fire_timer` drive the target under every check and return
    the findings; :meth:`verify` does the round trip of a target claiming CONNECTED.
    """

    def __init__(
        self,
        kind: str,
        target: DTLSConnection,
        peer: DTLSConnection | None,
        corpus: list[bytes],
        payloads: set[bytes],
        now: float,
        peer_closed: bool = False,
    ) -> None:
        self.kind = kind
        self.target = target
        self.peer = peer
        self.corpus = corpus
        #: Application payloads the peer really sent: the only packets the target may get.
        self.payloads = payloads
        self.now = now
        self.peer_closed = peer_closed
        self.index = 0
        self.state = target.state
        self.slowest = 0.0
        self.transitions: list[tuple[ConnectionState, ConnectionState]] = []
        self.packets_delivered = 0
        self._saved: deque[bytes] = deque(maxlen=_MAX_SAVED_OUTPUTS)
        self._probe = 0
        self._last_elapsed = 0.0
        #: Every datagram fed to the target so far (b"timer" for a handle_timer call).
        self.history: list[bytes] = []
        #: When set, a traceback logged on "godot_dtls" during a call is a finding too.
        self.log_watch: LogWatch | None = None

    # -- construction

    @classmethod
    def build(cls, world: FuzzWorld, kind: str, rng: random.Random, now: float) -> Session:
        if kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {kind!r}")
        mtu = rng.choice(_MTUS)
        context = rng.choice(world.server_contexts)
        corpus: list[bytes] = []
        payloads: set[bytes] = set()
        if kind == "server-failed":
            return cls._server_failed(world, context, mtu, now, corpus)

        def keep(datagrams: list[bytes]) -> list[bytes]:
            corpus.extend(datagrams)
            return datagrams

        name = "wrong.example" if kind == "client-failed" and rng.random() < 0.5 else SERVER_NAME
        client = world.client(mtu, name)
        client.start(now)
        hello = keep(_drain(client))
        if kind == "client-failed" and name == SERVER_NAME:
            client.handle_timer(now + client.handshake_timeout)  # timed out
            return cls(kind, client, None, corpus, payloads, now + client.handshake_timeout)
        first = world.server(context, mtu)
        _deliver(hello, first, now)
        hello_verify = keep(_drain(first))
        if kind == "server-closed" and rng.random() < 0.5:
            return cls(kind, first, None, corpus, payloads, now)  # closed after the cookie
        if kind == "client-hello-sent":
            return cls(kind, client, None, corpus, payloads, now)
        _deliver(hello_verify, client, now)
        hello_cookie = keep(_drain(client))
        if kind == "server-awaiting-cookie":
            return cls(kind, world.server(context, mtu), client, corpus, payloads, now)
        server = world.server(context, mtu)
        _deliver(hello_cookie, server, now)
        server_flight = keep(_drain(server))
        if kind == "client-cookie-sent":
            return cls(kind, client, server, corpus, payloads, now)
        _deliver(server_flight, client, now)
        client_flight = keep(_drain(client))
        if kind == "client-failed":  # hostname mismatch: the client sent a fatal alert
            return cls(kind, client, server, corpus, payloads, now)
        if kind == "server-mid-handshake":
            return cls(kind, server, client, corpus, payloads, now)
        _deliver(client_flight, server, now)
        server_finished = keep(_drain(server))
        if kind == "client-mid-handshake":
            return cls(kind, client, server, corpus, payloads, now)
        _deliver(server_finished, client, now)
        if client.state is not ConnectionState.CONNECTED:
            raise RuntimeError(f"the {kind} handshake did not complete: {client.failure}")
        for _ in range(rng.randint(1, 3)):
            payload = _random_bytes(rng, rng.choice((1, 40, 300, 1300, 3000)))
            payloads.add(payload)
            server.send(payload)
            keep(_drain(server))
            client.send(payload)
            keep(_drain(client))
        if kind == "client-closed":
            client.close()
            keep(_drain(client))
            return cls(kind, client, server, corpus, payloads, now)
        if kind == "server-closed":
            client.close()
            _deliver(keep(_drain(client)), server, now)
            keep(_drain(server))
            return cls(kind, server, None, corpus, payloads, now)
        peer_closed = rng.random() < 0.15
        if kind == "server-connected":
            target, peer = server, client
        else:
            target, peer = client, server
        if peer_closed:  # the peer's close_notify is in the corpus, not yet delivered
            peer.close()
            keep(_drain(peer))
        return cls(kind, target, peer, corpus, payloads, now, peer_closed=peer_closed)

    @classmethod
    def _server_failed(
        cls,
        world: FuzzWorld,
        context: SSL.Context,
        mtu: int,
        now: float,
        corpus: list[bytes],
    ) -> Session:
        """A server that received a client's fatal alert (the client rejected its name)."""
        client = world.client(mtu, "wrong.example")
        client.start(now)
        first = world.server(context, mtu)
        _deliver(_drain(client), first, now)
        _deliver(_drain(first), client, now)
        hello_cookie = _drain(client)
        server = world.server(context, mtu)
        _deliver(hello_cookie, server, now)
        _deliver(_drain(server), client, now)
        alert = _drain(client)
        corpus.extend(alert)
        _deliver(alert, server, now)
        _drain(server)
        return cls("server-failed", server, None, corpus, set(), now)

    # -- driving under the checks

    def feed(self, datagram: bytes, mutation: str = "direct") -> list[Finding]:
        """Feed one datagram to the target; return what broke."""
        self.index += 1
        findings = self._call("receive_datagram", mutation, datagram)
        self.history.append(datagram)
        return findings

    def fire_timer(self) -> list[Finding]:
        """Advance the clock to the target's timer (if any) and run ``handle_timer``."""
        timer = self.target.get_timer()
        if timer is not None and timer > self.now:
            self.now = timer
        findings = self._call("handle_timer", "timer", b"")
        self.history.append(b"timer")
        return findings

    def _call(self, what: str, mutation: str, datagram: bytes) -> list[Finding]:
        target = self.target
        before = self.state
        findings: list[Finding] = []

        def found(check: str, message: str) -> None:
            findings.append(
                Finding(
                    check,
                    self.kind,
                    before.name,
                    mutation,
                    self.index,
                    message,
                    datagram,
                    list(self.history),
                )
            )

        started = time.perf_counter()
        try:
            if what == "receive_datagram":
                target.receive_datagram(datagram, self.now)
            else:
                target.handle_timer(self.now)
        except Exception as exc:  # the finding this fuzzer exists for
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            found(
                "exception",
                f"{what} raised {type(exc).__name__}: {exc} "
                f"(at {os.path.basename(frame.filename)}:{frame.lineno})",
            )
        elapsed = time.perf_counter() - started
        if elapsed > self.slowest:
            self.slowest = elapsed
        self._last_elapsed = elapsed
        self._check_outputs(found)
        watch = self.log_watch
        if watch is not None and watch.swallowed:
            for message in watch.take():
                found("logged-exception", message)
        self._check_state(before, found)
        return findings

    def _check_outputs(self, found: Callable[[str, str], None]) -> None:
        target = self.target
        mtu = target.mtu
        for out in target.datagrams_to_send():
            count = record_count(out)
            if count is None or count == 0:
                found("datagram", f"output of {len(out)} B does not hold whole records")
            elif len(out) > mtu and count > 1:
                found("datagram", f"output of {len(out)} B > MTU {mtu} holds {count} records")
            self._saved.append(out)
        packet = target.next_packet()
        while packet is not None:
            self.packets_delivered += 1
            if packet not in self.payloads:
                found("forged-packet", f"a packet of {len(packet)} B the peer never sent")
            packet = target.next_packet()

    def _check_state(self, before: ConnectionState, found: Callable[[str, str], None]) -> None:
        target = self.target
        after = target.state
        if not isinstance(after, ConnectionState):
            found("state", f"state {after!r} is not a ConnectionState")
            return
        if after not in reachable(before):
            found("state", f"illegal transition {before.name} -> {after.name}")
        if after is not before:
            self.transitions.append((before, after))
        self.state = after
        events = []
        event = target.next_event()
        while event is not None:
            events.append(event)
            event = target.next_event()
        if after is ConnectionState.FAILED and before is not ConnectionState.FAILED:
            failure = target.failure
            if failure is None or not failure.message:
                found("state", "FAILED without a failure reason")
            if not any(isinstance(e, ConnectionFailed) for e in events):
                found("state", "FAILED without a ConnectionFailed event")
        completed = any(isinstance(e, HandshakeCompleted) for e in events)
        if after is ConnectionState.CONNECTED and before is not after and not completed:
            found("state", "CONNECTED without a HandshakeCompleted event")
        if after is not ConnectionState.HANDSHAKING and target.get_timer() is not None:
            found("state", f"a timer runs in state {after.name}")
        stats = target.stats
        if (
            len(stats.alerts_received) > _MAX_ALERTS_KEPT
            or len(stats.alerts_sent) > _MAX_ALERTS_KEPT
        ):
            found("memory", "the connection's alert lists keep growing")

    def verify(self) -> tuple[bool, list[Finding]]:
        """Round trip of a target claiming CONNECTED; returns (verified, findings)."""
        target = self.target
        findings: list[Finding] = []

        def found(check: str, message: str) -> None:
            findings.append(
                Finding(check, self.kind, self.state.name, "verify", self.index, message)
            )

        if target.state is not ConnectionState.CONNECTED:
            return False, findings
        peer = self.peer
        if peer is None:
            found("connected", "CONNECTED although no peer could have completed a handshake")
            return False, findings
        if self.peer_closed:
            return False, findings
        try:
            self._pump_with_peer(peer)
        except Exception as exc:
            found("exception", f"delivering to or from the peer raised {type(exc).__name__}: {exc}")
            return False, findings
        if target.state is not ConnectionState.CONNECTED:
            self._check_state(ConnectionState.CONNECTED, found)
            return False, findings
        if peer.state is not ConnectionState.CONNECTED:
            reason = peer.failure.message if peer.failure is not None else peer.state.name
            found(
                "connected", f"target claims CONNECTED but its peer is {peer.state.name}: {reason}"
            )
            return False, findings
        while peer.next_packet() is not None:
            pass
        self._probe += 1
        probe = b"probe %d from the target" % self._probe
        reply = b"reply %d from the peer" % self._probe
        self.payloads.add(reply)
        try:
            target.send(probe)
            _deliver(target.datagrams_to_send(), peer, self.now)
            got = peer.next_packet()
            peer.send(reply)
            _deliver(peer.datagrams_to_send(), target, self.now)
        except Exception as exc:
            found("round-trip", f"the round trip raised {type(exc).__name__}: {exc}")
            return False, findings
        back = target.next_packet()
        if got != probe or back != reply:
            found("round-trip", f"sent {probe!r} / {reply!r}, received {got!r} / {back!r}")
            return False, findings
        return True, findings

    def _pump_with_peer(self, peer: DTLSConnection) -> None:
        """Give the peer what the target sent, and back, until both sides are quiet."""
        target = self.target
        outgoing = list(self._saved)
        self._saved.clear()
        for attempt in range(4):
            for _ in range(12):
                _deliver(outgoing, peer, self.now)
                back = peer.datagrams_to_send()
                _deliver(back, target, self.now)
                outgoing = target.datagrams_to_send()
                if not outgoing and not back:
                    break
            if peer.state is not ConnectionState.HANDSHAKING or attempt == 3:
                break
            timer = peer.get_timer()  # e.g. the peer lost a Finished: retransmit
            if timer is not None:
                self.now = max(self.now, timer)
                peer.handle_timer(self.now)
            outgoing = []
        while target.next_packet() is not None:
            self.packets_delivered += 1


# ---------------------------------------------------------------------------- the run


def _rss_bytes() -> int | None:
    """Resident set size of this process (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            resident = int(handle.read().split()[1])
        return resident * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _arm_watchdog(seconds: float | None) -> bool:
    """Exit the process with every stack dumped if the next session hangs for ``seconds``."""
    if not seconds:
        return False
    stream = sys.__stderr__
    try:
        if stream is None:
            return False
        stream.fileno()
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)
    except (AttributeError, OSError, ValueError):
        return False  # no real stderr to dump to (e.g. captured output): no watchdog
    return True


def run_fuzz(
    count: int = 100_000,
    seed: int = 0,
    seconds: float | None = None,
    *,
    max_call_seconds: float = 1.0,
    verify_every: int = 64,
    max_rss_growth_mib: float = 64.0,
    trace_python_memory: bool = False,
    max_traced_growth_mib: float = 16.0,
    watchdog_seconds: float | None = None,
    progress: Callable[[FuzzReport], None] | None = None,
) -> FuzzReport:
    """Feed ``count`` mutated datagrams (or stop after ``seconds``) and report.

    ``watchdog_seconds``: if one session (a few hundred datagrams) takes longer, dump
    every thread's stack and exit the process (a hang inside the TLS library cannot be
    interrupted any other way).
    """
    rng = random.Random(seed)
    report = FuzzReport(seed=seed)
    started = time.perf_counter()
    deadline = started + seconds if seconds else None
    if trace_python_memory:
        tracemalloc.start()
    watch = LogWatch().__enter__()
    try:
        try:
            world = FuzzWorld(seed)
        except Exception as exc:  # the package's own handshake broke before any fuzzing
            report.add(Finding("setup", "-", "-", "-", 0, f"{type(exc).__name__}: {exc}"))
            return report
        reference = world.reference_corpus
        report.corpus_sizes = dict(
            Counter(describe_record(r) for d in reference for r in split_records(d))
        )
        report.rss_start = _rss_bytes()
        warmup = min(max(count // 10, 1), 20_000)
        next_progress = 100_000
        while report.datagrams < count:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            kind = rng.choices(TARGET_KINDS, weights=_KIND_WEIGHTS)[0]
            batch = rng.choice((20, 60, 150, 400)) if rng.random() < 0.97 else 3000
            armed = _arm_watchdog(watchdog_seconds)
            _run_session(
                world,
                kind,
                batch,
                rng,
                reference,
                report,
                count,
                max_call_seconds,
                verify_every,
                watch,
            )
            if armed:
                faulthandler.cancel_dump_traceback_later()
            if report.rss_baseline is None and report.datagrams >= warmup:
                report.rss_baseline = _rss_bytes()
                if trace_python_memory:
                    report.traced_baseline = tracemalloc.get_traced_memory()[0]
            rss = _rss_bytes()
            if rss is not None and (report.rss_peak is None or rss > report.rss_peak):
                report.rss_peak = rss
            if progress is not None and report.datagrams >= next_progress:
                next_progress += 100_000
                report.elapsed = time.perf_counter() - started
                progress(report)
        report.rss_end = _rss_bytes()
        if trace_python_memory:
            report.traced_end, report.traced_peak = tracemalloc.get_traced_memory()
    finally:
        watch.__exit__()
        if trace_python_memory:
            tracemalloc.stop()
    report.elapsed = time.perf_counter() - started
    _check_memory(report, max_rss_growth_mib, max_traced_growth_mib)
    return report


def _check_memory(report: FuzzReport, max_rss_mib: float, max_traced_mib: float) -> None:
    mib = 1024 * 1024
    if report.rss_baseline is not None and report.rss_end is not None:
        growth = (max(report.rss_end, report.rss_peak or 0) - report.rss_baseline) / mib
        if growth > max_rss_mib:
            report.add(
                Finding(
                    "memory",
                    "-",
                    "-",
                    "-",
                    report.datagrams,
                    f"RSS grew {growth:.1f} MiB after the warm-up (limit {max_rss_mib:g})",
                )
            )
    if report.traced_baseline is not None and report.traced_end is not None:
        growth = (report.traced_end - report.traced_baseline) / mib
        if growth > max_traced_mib:
            report.add(
                Finding(
                    "memory",
                    "-",
                    "-",
                    "-",
                    report.datagrams,
                    f"Python heap grew {growth:.1f} MiB (limit {max_traced_mib:g})",
                )
            )


def _run_session(
    world: FuzzWorld,
    kind: str,
    batch: int,
    rng: random.Random,
    reference: Sequence[bytes],
    report: FuzzReport,
    count: int,
    max_call_seconds: float,
    verify_every: int,
    watch: LogWatch | None = None,
) -> None:
    now = 1000.0 + rng.random() * 100.0
    try:
        session = Session.build(world, kind, rng, now)
    except Exception as exc:  # a real handshake of the package's own peers broke
        report.add(
            Finding(
                "setup",
                kind,
                "-",
                "-",
                report.datagrams,
                f"could not build the target: {type(exc).__name__}: {exc}",
            )
        )
        return
    report.sessions += 1
    if watch is not None:
        for message in watch.take():  # logged while the real handshake was made
            report.add(Finding("logged-exception", kind, "-", "setup", 0, message))
        session.log_watch = watch
    own = session.corpus or reference
    pool = list(own) + list(reference)
    terminal_left = 5
    since_verify = 0
    if kind in _TERMINAL_KINDS:
        batch = min(batch, 60)  # an ended connection only drops datagrams: cheap, brief
    for _ in range(batch):
        if report.datagrams >= count:
            break
        if rng.random() < 0.02:
            before = session.state
            findings = session.fire_timer()
            report.timer_calls += 1
            _record(report, session, findings, max_call_seconds, "timer", before)
        base = rng.choice(own) if rng.random() < 0.7 else rng.choice(reference)
        mutation, datagram = mutate(rng, base, pool)
        session.now += rng.random() * 0.004
        before = session.state
        report.by_kind[kind] += 1
        report.by_state[before.name] += 1
        report.by_mutation[mutation.split("+", 1)[0] if "+" not in mutation else "stacked"] += 1
        report.datagrams += 1
        findings = session.feed(datagram, mutation)
        _record(report, session, findings, max_call_seconds, mutation, before, datagram)
        state = session.state
        if state is ConnectionState.CONNECTED:
            since_verify += 1
            if before is not ConnectionState.CONNECTED or since_verify >= verify_every:
                since_verify = 0
                _verify(session, report)
        elif state is not ConnectionState.HANDSHAKING:
            terminal_left -= 1
            if terminal_left <= 0 and kind not in _TERMINAL_KINDS:
                break
    if session.state is ConnectionState.CONNECTED:
        _verify(session, report)
    report.packets_delivered += session.packets_delivered
    report.retransmissions += session.target.stats.retransmissions
    failure = session.target.failure
    if failure is not None and session.transitions:
        origin = session.transitions[-1][0].name
        report.failure_reasons[f"{origin} {failure.reason.value}: {failure.message[:60]}"] += 1
    for before, after in session.transitions:
        report.transitions[f"{before.name}->{after.name}"] += 1


def _record(
    report: FuzzReport,
    session: Session,
    findings: list[Finding],
    max_call_seconds: float,
    mutation: str,
    before: ConnectionState,
    datagram: bytes = b"",
) -> None:
    elapsed = session._last_elapsed
    if elapsed > report.slowest_call:
        report.slowest_call = elapsed
        report.slowest_call_what = f"{session.kind} ({before.name}) <- {mutation}"
    if elapsed > max_call_seconds:
        findings.append(
            Finding(
                "slow",
                session.kind,
                before.name,
                mutation,
                session.index,
                f"the call took {elapsed:.3f} s (limit {max_call_seconds:g} s)",
                datagram,
            )
        )
    for finding in findings:
        report.add(finding)


def _verify(session: Session, report: FuzzReport) -> None:
    verified, findings = session.verify()
    if verified:
        report.round_trips += 1
    else:
        report.round_trips_skipped += 1
    for finding in findings:
        report.add(finding)


# ---------------------------------------------------------------------------- output


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / (1024 * 1024):.1f} MiB"


def format_report(report: FuzzReport) -> str:
    """The human summary the CLI prints."""
    lines = [
        f"godot-dtls fuzz: seed {report.seed}, {report.datagrams} datagrams fed to "
        f"{report.sessions} target connections in {report.elapsed:.1f} s "
        f"({report.rate:.0f} datagrams/s)",
        f"  exceptions: {report.exceptions}   findings: {report.findings_total}",
        "  reference corpus (real records captured in memory): "
        + ", ".join(f"{name} {n}" for name, n in sorted(report.corpus_sizes.items())),
        "  datagrams by target: "
        + ", ".join(f"{k} {report.by_kind[k]}" for k in TARGET_KINDS if report.by_kind[k]),
        "  datagrams by state before: "
        + ", ".join(f"{s.name} {report.by_state[s.name]}" for s in ConnectionState),
        "  state changes caused: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.transitions.items())) or "none"),
        f"  handle_timer calls: {report.timer_calls} (retransmissions: "
        f"{report.retransmissions})   round trips verified: "
        f"{report.round_trips} (not checkable: {report.round_trips_skipped})   "
        f"packets delivered from replays: {report.packets_delivered}",
        f"  slowest call: {report.slowest_call * 1000:.2f} ms ({report.slowest_call_what})",
        f"  memory: RSS {_mib(report.rss_start)} at start, {_mib(report.rss_baseline)} after "
        f"the warm-up, {_mib(report.rss_peak)} peak, {_mib(report.rss_end)} at the end",
    ]
    if report.traced_end is not None:
        lines.append(
            f"  Python heap (tracemalloc): {_mib(report.traced_baseline)} after the warm-up, "
            f"{_mib(report.traced_end)} at the end, {_mib(report.traced_peak)} peak"
        )
    if report.failure_reasons:
        lines.append(
            "  why targets failed: "
            + "; ".join(f"{reason} ({n})" for reason, n in report.failure_reasons.most_common(8))
        )
    top = report.by_mutation.most_common()
    lines.append("  mutations: " + ", ".join(f"{name} {n}" for name, n in top))
    if report.findings_total:
        lines.append(
            "  findings by check: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.findings_by_check.items()))
        )
        lines.extend("  " + finding.describe() for finding in report.findings)
    lines.append("result: " + ("OK, no findings" if report.ok else "FAILED"))
    return "\n".join(lines)


def run_cli(
    count: int,
    seed: int,
    seconds: float | None,
    out: TextIO | None = None,
    trace_python_memory: bool = False,
    save_findings: str | None = None,
) -> int:
    """``godot-dtls fuzz``: run, print the summary, 0 when there is no finding, else 1.

    ``save_findings``: a file to write the detailed findings to, one JSON line each (see
    :meth:`Finding.to_json` and :func:`replay`).
    """
    stream = sys.stdout if out is None else out

    def show_progress(report: FuzzReport) -> None:
        print(
            f"  ... {report.datagrams} datagrams, {report.findings_total} findings, "
            f"{report.elapsed:.0f} s",
            file=stream,
            flush=True,
        )

    report = run_fuzz(
        count,
        seed,
        seconds or None,
        trace_python_memory=trace_python_memory,
        watchdog_seconds=300.0,
        progress=show_progress,
    )
    print(format_report(report), file=stream, flush=True)
    if save_findings and report.findings:
        with open(save_findings, "w", encoding="ascii") as handle:
            for finding in report.findings:
                handle.write(finding.to_json() + "\n")
        print(f"findings saved to {save_findings}", file=stream, flush=True)
    return 0 if report.ok else 1


def replay(line: str, world: FuzzWorld | None = None, seed: int = 0) -> list[Finding]:
    """Feed a saved finding (a :meth:`Finding.to_json` line) to a new target of its kind.

    The new target has new keys and randoms, so what depended on the old session's own
    records (its MACs, its signatures) does not come back; malformed input does.
    """
    saved = json.loads(line)
    session = (world or FuzzWorld(seed)).session(saved["target"], random.Random(seed))
    findings: list[Finding] = []
    with LogWatch() as watch:
        session.log_watch = watch
        for entry in saved["history"]:
            data = bytes.fromhex(entry)
            findings += session.fire_timer() if data == b"timer" else session.feed(data, "replay")
        findings += session.feed(bytes.fromhex(saved["datagram"]), saved["mutation"])
    return findings


def _cmd_fuzz(args: argparse.Namespace) -> int:
    return run_cli(
        args.count,
        args.seed,
        args.seconds,
        trace_python_memory=args.tracemalloc,
        save_findings=args.save_findings,
    )


def add_fuzz_parser(commands: Any) -> None:
    """Register ``godot-dtls fuzz`` on the CLI's subparsers."""
    fuzz = commands.add_parser(
        "fuzz", help="seeded mutation fuzzer of the DTLS state machine (exit 1 on a finding)"
    )
    fuzz.add_argument("--count", type=int, default=100_000, help="datagrams to feed")
    fuzz.add_argument("--seed", type=int, default=0, help="seed of every mutation choice")
    fuzz.add_argument(
        "--seconds", type=float, default=0, help="stop after T seconds (0: only --count)"
    )
    fuzz.add_argument(
        "--tracemalloc", action="store_true", help="also bound the Python heap (slower)"
    )
    fuzz.add_argument("--save-findings", metavar="FILE", help="write findings as JSON lines")
    fuzz.set_defaults(handler=_cmd_fuzz)
