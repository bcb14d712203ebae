"""The record parser and datagram packer of ``godot_dtls.core.records``.

Synthetic records are built field by field here; the ClientHello and HelloVerifyRequest
come from real OpenSSL connections in memory.
"""

from __future__ import annotations

import pytest

from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.connection import DTLSConnection
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.records import (
    CONTENT_ALERT,
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    CONTENT_HANDSHAKE,
    HANDSHAKE_CLIENT_HELLO,
    HANDSHAKE_HELLO_VERIFY_REQUEST,
    RECORD_HEADER_SIZE,
    client_hello_random,
    describe_record,
    handshake_type,
    is_client_hello,
    pack_datagrams,
    parse_header,
    record_count,
    split_records,
    without_plaintext_application_data,
)

DTLS_1_2 = 0xFEFD


def record(content: int, body: bytes, epoch: int = 0, sequence: int = 0) -> bytes:
    """One DTLS record: header fields in network order, then ``body``."""
    return (
        bytes([content])
        + DTLS_1_2.to_bytes(2, "big")
        + epoch.to_bytes(2, "big")
        + sequence.to_bytes(6, "big")
        + len(body).to_bytes(2, "big")
        + body
    )


def handshake(kind: int, body: bytes = b"") -> bytes:
    """An epoch-0 handshake record holding one whole message."""
    length = len(body).to_bytes(3, "big")
    header = bytes([kind]) + length + b"\x00\x00" + b"\x00\x00\x00" + length
    return record(CONTENT_HANDSHAKE, header + body)


def real_client_hello(pki) -> bytes:
    client = DTLSConnection(client_context(pki.client_options()), is_client=True)
    client.start(0.0)
    (datagram,) = client.datagrams_to_send()
    return datagram


# ------------------------------------------------------------------------ header parsing


def test_parse_header_reads_every_field():
    data = record(CONTENT_APPLICATION_DATA, b"abc", epoch=1, sequence=0x010203040506)
    header = parse_header(data)
    assert header == (CONTENT_APPLICATION_DATA, DTLS_1_2, 1, 0x010203040506, 3)
    assert header.encrypted


def test_parse_header_at_an_offset_and_too_short():
    first, second = record(CONTENT_ALERT, b"\x01\x00"), record(CONTENT_HANDSHAKE, b"x")
    assert parse_header(first + second, len(first)).content_type == CONTENT_HANDSHAKE
    assert parse_header(first[: RECORD_HEADER_SIZE - 1]) is None
    assert parse_header(first, len(first)) is None


def test_split_records_follows_the_length_fields_and_keeps_a_partial_tail():
    one = record(CONTENT_APPLICATION_DATA, b"abc", epoch=1)
    assert split_records(one + one) == [one, one]
    assert split_records(one + one[:5]) == [one, one[:5]]
    assert split_records(b"") == []


def test_record_count_is_none_unless_the_datagram_ends_on_a_boundary():
    one = record(CONTENT_APPLICATION_DATA, b"abc", epoch=1)
    assert record_count(one + one) == 2
    assert record_count(one + one[:5]) is None
    assert record_count(one[:-1]) is None  # length field promises more than is there
    assert record_count(b"") == 0


def test_handshake_type_only_for_plain_handshake_records():
    assert handshake_type(handshake(HANDSHAKE_CLIENT_HELLO)) == HANDSHAKE_CLIENT_HELLO
    assert handshake_type(record(CONTENT_HANDSHAKE, b"\x14" * 12, epoch=1)) is None
    assert handshake_type(record(CONTENT_ALERT, b"\x02\x28")) is None
    assert handshake_type(record(CONTENT_HANDSHAKE, b"")) is None


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (record(CONTENT_CHANGE_CIPHER_SPEC, b"\x01"), "ChangeCipherSpec"),
        (record(CONTENT_ALERT, b"\x02\x28"), "alert"),
        (record(CONTENT_ALERT, b"\x00" * 26, epoch=1), "alert (encrypted)"),
        (record(CONTENT_APPLICATION_DATA, b"x", epoch=1), "application data"),
        (record(CONTENT_HANDSHAKE, b"\x00" * 40, epoch=1), "Finished (encrypted)"),
        (handshake(HANDSHAKE_HELLO_VERIFY_REQUEST), "HelloVerifyRequest"),
        (handshake(99), "handshake type 99"),
        (record(77, b""), "content type 77"),
        (b"\x16\xfe", "partial record"),
    ],
)
def test_describe_record(data: bytes, label: str):
    assert describe_record(data) == label


# ------------------------------------------------------------------------ pack_datagrams


def test_pack_datagrams_returns_a_small_stream_whole():
    stream = handshake(HANDSHAKE_CLIENT_HELLO, b"x" * 100) + record(CONTENT_ALERT, b"\x01\x00")
    assert pack_datagrams(stream, 1400) == [stream]


def test_pack_datagrams_joins_records_while_they_fit_and_never_splits_one():
    records = [record(CONTENT_HANDSHAKE, bytes([n]) * 300) for n in range(5)]  # 313 bytes each
    datagrams = pack_datagrams(b"".join(records), 700)
    assert datagrams == [records[0] + records[1], records[2] + records[3], records[4]]
    assert all(len(d) <= 700 for d in datagrams)


def test_pack_datagrams_sends_a_record_larger_than_the_mtu_alone():
    small, big = record(CONTENT_ALERT, b"\x01\x00"), record(CONTENT_APPLICATION_DATA, b"z" * 2000)
    assert pack_datagrams(small + big + small, 1400) == [small, big, small]


def test_pack_datagrams_drops_a_trailing_partial_record():
    whole = record(CONTENT_APPLICATION_DATA, b"abc", epoch=1)
    assert pack_datagrams(whole + whole[:7], 1400) == [whole]
    assert pack_datagrams(whole[:7], 1400) == []
    assert pack_datagrams(b"", 1400) == []


# -------------------------------------------------- without_plaintext_application_data


def test_plaintext_application_data_is_removed_and_everything_else_kept():
    hello = handshake(HANDSHAKE_CLIENT_HELLO, b"h" * 20)
    forged = record(CONTENT_APPLICATION_DATA, b"forged")  # epoch 0: can only be forged
    real = record(CONTENT_APPLICATION_DATA, b"sealed", epoch=1)
    assert without_plaintext_application_data(forged + hello + real) == hello + real
    assert without_plaintext_application_data(forged) == b""


def test_a_datagram_without_forged_records_is_returned_as_the_same_object():
    datagram = handshake(HANDSHAKE_CLIENT_HELLO, b"h" * 20)
    assert without_plaintext_application_data(datagram) is datagram


def test_bytes_after_the_last_whole_record_are_kept_for_openssl_to_judge():
    forged = record(CONTENT_APPLICATION_DATA, b"forged")
    tail = record(CONTENT_HANDSHAKE, b"partial")[:9]
    assert without_plaintext_application_data(forged + tail) == tail


# ---------------------------------------------------------- ClientHello recognition


def test_a_real_client_hello_is_recognised_and_its_random_read(pki):
    datagram = real_client_hello(pki)
    assert is_client_hello(datagram)
    random = client_hello_random(datagram)
    assert random is not None and len(random) == 32
    assert random != client_hello_random(real_client_hello(pki))  # fresh per handshake


def test_the_client_random_survives_the_cookie_exchange(pki):
    client = DTLSConnection(client_context(pki.client_options()), is_client=True)
    server = DTLSConnection(
        server_context(pki.server_options(), CookieJar()),
        is_client=False,
        peer_address=("127.0.0.1", 9),
    )
    client.start(0.0)
    (first_hello,) = client.datagrams_to_send()
    server.receive_datagram(first_hello, 0.0)
    (hello_verify,) = server.datagrams_to_send()
    assert handshake_type(hello_verify) == HANDSHAKE_HELLO_VERIFY_REQUEST
    assert not is_client_hello(hello_verify) and client_hello_random(hello_verify) is None
    client.receive_datagram(hello_verify, 0.0)
    (second_hello,) = client.datagrams_to_send()
    assert client_hello_random(second_hello) == client_hello_random(first_hello)


def test_no_random_from_a_later_fragment_or_a_truncated_hello(pki):
    datagram = bytearray(real_client_hello(pki))
    truncated = bytes(datagram[: RECORD_HEADER_SIZE + 30])
    assert is_client_hello(truncated) and client_hello_random(truncated) is None
    datagram[RECORD_HEADER_SIZE + 8] = 1  # fragment_offset 1: not the first fragment
    assert client_hello_random(bytes(datagram)) is None


def test_an_encrypted_handshake_record_is_not_a_client_hello():
    assert not is_client_hello(record(CONTENT_HANDSHAKE, b"\x01" * 60, epoch=1))
