"""DTLS record framing: finding record boundaries and packing records into datagrams.

A pyOpenSSL memory BIO is a byte stream: everything OpenSSL writes for one flight
(or for several application writes) comes out concatenated. On UDP each datagram must
hold whole records, so the output is split on the 13-byte DTLS record header
(content type, version, epoch, 48-bit sequence number, length) and packed greedily
into datagrams no larger than the MTU. A record is never split across datagrams; a
record larger than the MTU (a big application packet) travels alone in its own
datagram, as the engine does.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ALERT_BAD_RECORD_MAC",
    "CONTENT_ALERT",
    "CONTENT_APPLICATION_DATA",
    "CONTENT_CHANGE_CIPHER_SPEC",
    "CONTENT_HANDSHAKE",
    "HANDSHAKE_CLIENT_HELLO",
    "HANDSHAKE_HEADER_SIZE",
    "HANDSHAKE_HELLO_VERIFY_REQUEST",
    "MAX_DATAGRAM_SIZE",
    "MAX_PLAINTEXT_SIZE",
    "RECORD_HEADER_SIZE",
    "RecordHeader",
    "client_hello_cookie",
    "client_hello_random",
    "describe_record",
    "handshake_type",
    "has_protected_record",
    "hello_verify_cookie",
    "is_client_hello",
    "pack_datagrams",
    "parse_header",
    "plaintext_fatal_alert",
    "record_count",
    "record_headers",
    "split_records",
    "without_plaintext_application_data",
]

CONTENT_CHANGE_CIPHER_SPEC = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION_DATA = 23

#: Handshake message types (RFC 5246 / 6347), the first byte of a handshake body.
HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_SERVER_HELLO = 2
HANDSHAKE_HELLO_VERIFY_REQUEST = 3
HANDSHAKE_CERTIFICATE = 11
HANDSHAKE_SERVER_KEY_EXCHANGE = 12
HANDSHAKE_SERVER_HELLO_DONE = 14
HANDSHAKE_CLIENT_KEY_EXCHANGE = 16
#: DTLS handshake header: type 1, length 3, message_seq 2, fragment offset 3 and length 3.
HANDSHAKE_HEADER_SIZE = 12

RECORD_HEADER_SIZE = 13
#: DTLS 1.2 on the wire (record and ClientHello version field).
DTLS1_2_WIRE_VERSION = 0xFEFD
#: Alert level and the one description this package writes itself (RFC 5246 7.2).
_ALERT_FATAL = 2
ALERT_BAD_RECORD_MAC = 20
#: Largest application payload of one record (RFC 6347 / TLS 1.2 plaintext limit).
MAX_PLAINTEXT_SIZE = 16384
#: Largest inbound datagram worth handing to OpenSSL: one maximal record with the
#: largest ciphertext expansion TLS 1.2 allows (2048 bytes). Anything bigger cannot be
#: valid DTLS and is dropped before it reaches the TLS engine.
MAX_DATAGRAM_SIZE = RECORD_HEADER_SIZE + MAX_PLAINTEXT_SIZE + 2048


class RecordHeader(NamedTuple):
    """The 13-byte DTLS record header: content type, version, epoch, sequence, length."""

    content_type: int
    version: int
    epoch: int
    sequence: int
    length: int

    @property
    def encrypted(self) -> bool:
        """Records after ChangeCipherSpec (epoch ≥ 1) are protected."""
        return self.epoch != 0


def parse_header(data: bytes, offset: int = 0) -> RecordHeader | None:
    """The record header at ``offset``, or None when fewer than 13 bytes remain."""
    if len(data) - offset < RECORD_HEADER_SIZE:
        return None
    return RecordHeader(
        content_type=data[offset],
        version=int.from_bytes(data[offset + 1 : offset + 3], "big"),
        epoch=int.from_bytes(data[offset + 3 : offset + 5], "big"),
        sequence=int.from_bytes(data[offset + 5 : offset + 11], "big"),
        length=(data[offset + 11] << 8) | data[offset + 12],
    )


def record_headers(stream: bytes) -> list[RecordHeader]:
    """The headers of the whole records in ``stream`` (a trailing partial one is left out)."""
    headers = []
    start = 0
    for end in _record_ends(stream):
        header = parse_header(stream, start)
        assert header is not None  # _record_ends only reports whole records
        headers.append(header)
        start = end
    return headers


def has_protected_record(datagram: bytes) -> bool:
    """True when a whole record of the datagram is from epoch 1 or later (encrypted)."""
    start = 0
    for end in _record_ends(datagram):
        if datagram[start + 3] or datagram[start + 4]:
            return True
        start = end
    return False


def plaintext_fatal_alert(sequence: int, description: int) -> bytes:
    """An epoch-0 fatal alert record with the 48-bit record ``sequence``.

    Only for a side whose write state is still the initial null cipher (it has not sent
    its ChangeCipherSpec): that is the record OpenSSL itself would write there, but
    OpenSSL has no call to send an alert of the caller's choosing.
    """
    return (
        bytes((CONTENT_ALERT,))
        + DTLS1_2_WIRE_VERSION.to_bytes(2, "big")
        + (0).to_bytes(2, "big")
        + (sequence & 0xFFFFFFFFFFFF).to_bytes(6, "big")
        + (2).to_bytes(2, "big")
        + bytes((_ALERT_FATAL, description))
    )


def split_records(datagram: bytes) -> list[bytes]:
    """Cut a datagram on record boundaries; a trailing partial record is kept as it is
    (unlike :func:`pack_datagrams`, which drops it: this is for inspecting input)."""
    records: list[bytes] = []
    offset = 0
    total = len(datagram)
    while offset < total:
        header = parse_header(datagram, offset)
        if header is None:
            records.append(datagram[offset:])
            break
        end = offset + RECORD_HEADER_SIZE + header.length
        records.append(datagram[offset:end])
        offset = end
    return records


def record_count(datagram: bytes) -> int | None:
    """How many whole records ``datagram`` holds, or None if it does not end on a boundary."""
    ends = _record_ends(datagram)
    if (ends[-1] if ends else 0) != len(datagram):
        return None
    return len(ends)


def handshake_type(record: bytes) -> int | None:
    """The message type of an epoch-0 handshake record (None for anything else, for an
    encrypted Finished, or when the body is too short to have a handshake header)."""
    header = parse_header(record)
    if (
        header is None
        or header.content_type != CONTENT_HANDSHAKE
        or header.encrypted
        or len(record) <= RECORD_HEADER_SIZE
    ):
        return None
    return record[RECORD_HEADER_SIZE]


_HANDSHAKE_NAMES = {
    HANDSHAKE_CLIENT_HELLO: "ClientHello",
    HANDSHAKE_SERVER_HELLO: "ServerHello",
    HANDSHAKE_HELLO_VERIFY_REQUEST: "HelloVerifyRequest",
    HANDSHAKE_CERTIFICATE: "Certificate",
    HANDSHAKE_SERVER_KEY_EXCHANGE: "ServerKeyExchange",
    HANDSHAKE_SERVER_HELLO_DONE: "ServerHelloDone",
    HANDSHAKE_CLIENT_KEY_EXCHANGE: "ClientKeyExchange",
}


def describe_record(record: bytes) -> str:
    """What a record is, for reports: a handshake message name, an alert, application
    data, ChangeCipherSpec, or its content type number."""
    header = parse_header(record)
    if header is None:
        return "partial record"
    content = header.content_type
    if content == CONTENT_CHANGE_CIPHER_SPEC:
        return "ChangeCipherSpec"
    if content == CONTENT_ALERT:
        return "alert (encrypted)" if header.encrypted else "alert"
    if content == CONTENT_APPLICATION_DATA:
        return "application data"
    if content == CONTENT_HANDSHAKE:
        if header.encrypted:
            return "Finished (encrypted)"
        kind = handshake_type(record)
        if kind is not None:
            return _HANDSHAKE_NAMES.get(kind, f"handshake type {kind}")
    return f"content type {content}"


def _record_ends(stream: bytes) -> list[int]:
    """Offsets just past each complete record in ``stream``.

    Trailing bytes that do not form a whole record (which OpenSSL never writes) are
    left out, so they cannot leak into a datagram as a broken record.
    """
    ends: list[int] = []
    offset = 0
    total = len(stream)
    while offset + RECORD_HEADER_SIZE <= total:
        end = offset + RECORD_HEADER_SIZE + ((stream[offset + 11] << 8) | stream[offset + 12])
        if end > total:
            break
        ends.append(end)
        offset = end
    return ends


def pack_datagrams(stream: bytes, mtu: int) -> list[bytes]:
    """Split concatenated records into datagrams of whole records, each ≤ ``mtu``.

    Consecutive records are joined while they fit; because they are contiguous in
    ``stream`` each datagram is a single slice, with no joining of pieces.
    """
    if len(stream) <= mtu:
        # The common case (one application record, a small flight): no parsing needed
        # beyond making sure the stream ends on a record boundary.
        ends = _record_ends(stream)
        if ends and ends[-1] == len(stream):
            return [stream]
        return [stream[: ends[-1]]] if ends else []
    datagrams: list[bytes] = []
    start = 0
    previous_end = 0
    for end in _record_ends(stream):
        if end - start > mtu and previous_end > start:
            datagrams.append(stream[start:previous_end])
            start = previous_end
        previous_end = end
    if previous_end > start:
        datagrams.append(stream[start:previous_end])
    return datagrams


def is_client_hello(datagram: bytes) -> bool:
    """True when the datagram starts with an epoch-0 handshake record holding a ClientHello.

    Used on the server side to recognise a client that reconnects from the same
    address and port while its old connection is still established.
    """
    return (
        len(datagram) > RECORD_HEADER_SIZE
        and datagram[0] == CONTENT_HANDSHAKE
        and datagram[3] == 0
        and datagram[4] == 0
        and datagram[RECORD_HEADER_SIZE] == HANDSHAKE_CLIENT_HELLO
    )


def without_plaintext_application_data(datagram: bytes) -> bytes:
    """``datagram`` minus any epoch-0 application-data record.

    Application data is only ever sent encrypted (epoch 1 and later); in epoch 0 it can
    only be forged, and OpenSSL aborts the whole handshake on it. Dropping it keeps an
    off-path sender from ending a handshake with one datagram. Bytes after the last whole
    record are kept as they are (OpenSSL discards a cut-short record itself).
    """
    kept = []
    start = 0
    dropped = False
    for end in _record_ends(datagram):
        if (
            datagram[start] == CONTENT_APPLICATION_DATA
            and datagram[start + 3] == 0
            and datagram[start + 4] == 0
        ):
            dropped = True
        else:
            kept.append(datagram[start:end])
        start = end
    if not dropped:
        return datagram
    kept.append(datagram[start:])
    return b"".join(kept)


# In a datagram starting with a ClientHello record: record header (13), handshake header
# (msg_type 1, length 3, message_seq 2, fragment_offset 3, fragment_length 3), then
# client_version (2) and the 32-byte random.
_FRAGMENT_OFFSET = slice(RECORD_HEADER_SIZE + 6, RECORD_HEADER_SIZE + 9)
_CLIENT_RANDOM = slice(RECORD_HEADER_SIZE + 14, RECORD_HEADER_SIZE + 46)


def client_hello_random(datagram: bytes) -> bytes | None:
    """The client random of a datagram that starts with a whole-or-first ClientHello
    fragment, else None. A client keeps its random across the cookie exchange and its
    retransmissions; a new handshake (a real reconnect) has a new one."""
    if not is_client_hello(datagram) or len(datagram) < _CLIENT_RANDOM.stop:
        return None
    if datagram[_FRAGMENT_OFFSET] != b"\x00\x00\x00":
        return None
    return bytes(datagram[_CLIENT_RANDOM])


# After the record and handshake headers: a ClientHello has client_version (2), random
# (32), session_id (1 + n), cookie (1 + m); a HelloVerifyRequest server_version (2),
# cookie (1 + m).
_BODY = RECORD_HEADER_SIZE + HANDSHAKE_HEADER_SIZE


def _cookie_at(record: bytes, offset: int) -> bytes | None:
    if len(record) <= offset:
        return None
    end = offset + 1 + record[offset]
    return bytes(record[offset + 1 : end]) if end <= len(record) else None


def client_hello_cookie(record: bytes) -> bytes | None:
    """The cookie (b"" when none) of a record holding a whole-or-first ClientHello
    fragment, else None."""
    if handshake_type(record) != HANDSHAKE_CLIENT_HELLO or record[_FRAGMENT_OFFSET] != bytes(3):
        return None
    session_id_at = _BODY + 2 + 32
    if len(record) <= session_id_at:
        return None
    return _cookie_at(record, session_id_at + 1 + record[session_id_at])


def hello_verify_cookie(record: bytes) -> bytes | None:
    """The cookie of a record holding a HelloVerifyRequest, else None."""
    if handshake_type(record) != HANDSHAKE_HELLO_VERIFY_REQUEST:
        return None
    return _cookie_at(record, _BODY + 2)
