"""The stateless listener: one OpenSSL object answers every new address, in memory."""

from __future__ import annotations

import pytest
from OpenSSL._util import lib as openssl_lib

from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.connection import ConnectionState, DTLSConnection
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.listener import MAX_LISTEN_DATAGRAM, CookieListener, ListenOutcome
from godot_dtls.core.records import HANDSHAKE_HELLO_VERIFY_REQUEST, handshake_type
from godot_dtls.core.verification import CertificateVerifier

ALICE = ("192.0.2.1", 5000)
MALLORY = ("192.0.2.66", 5000)


@pytest.fixture
def listener(pki) -> CookieListener:
    return CookieListener(server_context(pki.server_options(), CookieJar()), 1400)


def new_client(pki) -> DTLSConnection:
    return DTLSConnection(
        client_context(pki.client_options()),
        is_client=True,
        server_name="localhost",
        verifier=CertificateVerifier("localhost"),
    )


def hello_with_cookie(listener: CookieListener, client: DTLSConnection, address) -> bytes:
    client.start(0.0)
    result = listener.receive(client.datagrams_to_send()[0], address, 0.0)
    assert result.outcome is ListenOutcome.VERIFY_REQUESTED
    (hello_verify,) = result.datagrams
    assert handshake_type(hello_verify) == HANDSHAKE_HELLO_VERIFY_REQUEST
    client.receive_datagram(hello_verify, 0.0)
    (hello,) = client.datagrams_to_send()
    return hello


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00",
        b"\x16\xfe\xfd" + bytes(10),
        bytes(range(256)),
        b"\x16" * (MAX_LISTEN_DATAGRAM + 1),
    ],
)
def test_junk_is_dropped_without_a_word_or_a_trace(listener, junk):
    result = listener.receive(junk, ALICE, 0.0)
    assert result.outcome is ListenOutcome.DROPPED and result.datagrams == []
    assert openssl_lib.ERR_peek_error() == 0  # nothing left for another connection to trip on


def test_a_valid_cookie_hands_the_listening_object_to_a_connection_that_completes(pki, listener):
    client = new_client(pki)
    hello = hello_with_cookie(listener, client, ALICE)
    listening = listener._listening_ssl()
    result = listener.receive(hello, ALICE, 1.0)
    assert result.outcome is ListenOutcome.ACCEPTED
    accepted = result.accepted
    assert accepted is not None and accepted.ssl is listening
    assert accepted.peer_address == ALICE and accepted.client_random is not None
    assert listener._listening_ssl() is not listening  # a fresh one for the next sender
    server = DTLSConnection(listener.context, is_client=False, accepted=accepted)
    assert server.ssl is listening and server.peer_address == ALICE
    server.start(1.0)
    for _ in range(10):
        for datagram in server.datagrams_to_send():
            client.receive_datagram(datagram, 1.0)
        for datagram in client.datagrams_to_send():
            server.receive_datagram(datagram, 1.0)
    assert client.state is ConnectionState.CONNECTED
    assert server.state is ConnectionState.CONNECTED
    assert listener.stats.accepted == 1 and listener.stats.verify_requests == 1


def test_a_cookie_only_works_for_the_address_it_was_issued_to(pki, listener):
    hello = hello_with_cookie(listener, new_client(pki), ALICE)
    result = listener.receive(hello, MALLORY, 0.0)
    assert result.outcome is ListenOutcome.VERIFY_REQUESTED


def test_one_listening_object_serves_many_senders_in_turn(pki, listener):
    listening = listener._listening_ssl()
    for port in range(40):
        client = new_client(pki)
        client.start(0.0)
        address = ("192.0.2.9", 6000 + port)
        assert listener.receive(bytes(50), address, 0.0).outcome is ListenOutcome.DROPPED
        result = listener.receive(client.datagrams_to_send()[0], address, 0.0)
        assert result.outcome is ListenOutcome.VERIFY_REQUESTED
    assert listener._listening_ssl() is listening
    assert listener.stats.datagrams == 80 and listener.stats.dropped == 40
