"""The sans-IO core: two DTLSConnections driven against each other in memory, no sockets."""

from __future__ import annotations

import time
from typing import Callable

import pytest

from godot_dtls import TLSOptions
from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.connection import (
    MAX_HANDSHAKE_RESTARTS,
    ConnectionState,
    DTLSConnection,
    InvalidStateError,
)
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    FailureReason,
    HandshakeCompleted,
    HelloVerifyRequestSent,
)
from godot_dtls.core.records import (
    HANDSHAKE_CLIENT_HELLO,
    HANDSHAKE_HELLO_VERIFY_REQUEST,
    MAX_PLAINTEXT_SIZE,
    client_hello_cookie,
    describe_record,
    handshake_type,
    has_protected_record,
    hello_verify_cookie,
    parse_header,
    record_count,
    split_records,
)
from godot_dtls.core.verification import CertificateVerifier
from support.memory_link import MemoryLink

SERVER_ADDRESS = ("127.0.0.1", 40000)


def record_lengths(datagram: bytes) -> list[int]:
    assert record_count(datagram) is not None, "datagram must end on a record boundary"
    return [parse_header(record).length for record in split_records(datagram)]


def events_of(connection: DTLSConnection) -> list:
    events = []
    event = connection.next_event()
    while event is not None:
        events.append(event)
        event = connection.next_event()
    return events


@pytest.fixture
def server_factory(pki) -> Callable[..., Callable[[], DTLSConnection]]:
    jar = CookieJar()

    def factory(mtu: int = 1400, options: TLSOptions | None = None) -> Callable[[], DTLSConnection]:
        context = server_context(options or pki.server_options(), jar)
        return lambda: DTLSConnection(
            context, is_client=False, peer_address=SERVER_ADDRESS, mtu=mtu
        )

    return factory


def new_client(
    options: TLSOptions, name: str | None = "localhost", mtu: int = 1400, timeout: float = 123.0
) -> DTLSConnection:
    verifier = None
    if not options.is_unsafe_client():
        verifier = CertificateVerifier(options.get_common_name_override() or name)
    return DTLSConnection(
        client_context(options),
        is_client=True,
        server_name=name,
        verifier=verifier,
        mtu=mtu,
        handshake_timeout=timeout,
    )


def connected_pair(pki, server_factory, **kwargs) -> MemoryLink:
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory(), **kwargs)
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED
    assert link.server is not None and link.server.state is ConnectionState.CONNECTED
    events_of(client)
    events_of(link.server)
    return link


def test_handshake_completes_after_one_cookie_exchange(pki, server_factory):
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    first_hello = client.datagrams_to_send()
    assert len(first_hello) == 1
    link.deliver_to_server(first_hello, 0.0)
    assert isinstance(link.server.next_event(), HelloVerifyRequestSent)
    assert link.server.state is ConnectionState.CLOSED
    link.deliver_to_client(link.server.datagrams_to_send(), 0.0)
    link.exchange(0.0)
    assert link.cookie_exchanges == 1
    client_events = events_of(client)
    assert isinstance(client_events[0], HandshakeCompleted)
    assert client_events[0].protocol == "DTLSv1.2"
    assert "GCM" in client_events[0].cipher or "CHACHA20" in client_events[0].cipher
    assert link.server.state is ConnectionState.CONNECTED


def test_client_hello_travels_in_one_datagram_even_with_a_small_mtu(pki):
    client = new_client(pki.client_options(), mtu=512)
    client.start(0.0)
    datagrams = client.datagrams_to_send()
    assert len(datagrams) == 1
    assert handshake_type(datagrams[0]) == HANDSHAKE_CLIENT_HELLO
    assert len(record_lengths(datagrams[0])) == 1


def test_every_datagram_respects_the_mtu_and_holds_whole_records(pki, server_factory):
    sizes: list[int] = []

    def observe(direction: str, datagrams: list[bytes]) -> list[bytes]:
        for datagram in datagrams:
            record_lengths(datagram)
            sizes.append(len(datagram))
        return datagrams

    client = new_client(pki.client_options(), mtu=300)
    link = MemoryLink(client, server_factory(mtu=300), fault=observe)
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED
    assert max(sizes) <= 300
    assert len(sizes) > 6  # the server flight really was cut into several datagrams


def test_application_data_keeps_packet_boundaries(pki, server_factory):
    link = connected_pair(pki, server_factory)
    payloads = [b"a", b"b" * 1200, b"c" * MAX_PLAINTEXT_SIZE, bytes(range(256))]
    for payload in payloads:
        link.client.send(payload)
    datagrams = link.client.datagrams_to_send()
    assert len(datagrams) == len(payloads)
    link.deliver_to_server(datagrams, 0.0)
    received = []
    packet = link.server.next_packet()
    while packet is not None:
        received.append(packet)
        packet = link.server.next_packet()
    assert received == payloads


def test_a_packet_larger_than_the_mtu_is_one_record_in_one_datagram(pki, server_factory):
    link = connected_pair(pki, server_factory)
    link.client.send(b"x" * 5000)
    datagrams = link.client.datagrams_to_send()
    assert len(datagrams) == 1
    assert len(record_lengths(datagrams[0])) == 1


def test_oversize_send_is_refused_and_the_connection_stays_up(pki, server_factory):
    link = connected_pair(pki, server_factory)
    with pytest.raises(ValueError, match="16384"):
        link.client.send(b"x" * (MAX_PLAINTEXT_SIZE + 1))
    assert link.client.state is ConnectionState.CONNECTED
    link.client.send(b"still fine")
    link.deliver_to_server(link.client.datagrams_to_send(), 0.0)
    assert link.server.next_packet() == b"still fine"


def test_send_before_the_handshake_completes_is_an_invalid_state(pki):
    client = new_client(pki.client_options())
    client.start(0.0)
    with pytest.raises(InvalidStateError):
        client.send(b"early")


def test_duplicated_records_are_dropped_by_replay_protection(pki, server_factory):
    link = connected_pair(pki, server_factory)
    link.client.send(b"once")
    datagram = link.client.datagrams_to_send()
    link.deliver_to_server(datagram + datagram + datagram, 0.0)
    assert link.server.next_packet() == b"once"
    assert link.server.next_packet() is None


def test_reordered_server_flight_still_completes(pki, server_factory):
    def reverse_server_flights(direction: str, datagrams: list[bytes]) -> list[bytes]:
        return list(reversed(datagrams)) if direction == "s2c" else datagrams

    client = new_client(pki.client_options(), mtu=300)
    link = MemoryLink(client, server_factory(mtu=300), fault=reverse_server_flights)
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED
    assert link.server.state is ConnectionState.CONNECTED


def test_lost_server_flight_is_retransmitted_on_the_timer(pki, server_factory):
    dropped = {"count": 0}

    def drop_first_server_flight(direction: str, datagrams: list[bytes]) -> list[bytes]:
        # The first s2c batch is the HelloVerifyRequest, the second the server flight.
        if direction == "s2c" and datagrams:
            dropped["count"] += 1
            if dropped["count"] == 2:
                return []
        return datagrams

    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory(), fault=drop_first_server_flight)
    start = time.monotonic()
    client.start(start)
    link.exchange(start)
    assert client.state is ConnectionState.HANDSHAKING
    timer = client.get_timer()
    assert timer is not None and 0.5 < timer - start <= 1.1
    deadline = start + 10.0
    while client.state is ConnectionState.HANDSHAKING and time.monotonic() < deadline:
        time.sleep(0.05)
        now = time.monotonic()
        link.fire_timers(now)
        link.exchange(now)
    assert client.state is ConnectionState.CONNECTED
    assert client.stats.retransmissions >= 1


def test_handshake_gives_up_at_its_deadline(pki):
    client = new_client(pki.client_options(), timeout=5.0)
    client.start(100.0)
    client.datagrams_to_send()
    assert client.get_timer() is not None and client.get_timer() <= 105.0
    client.handle_timer(105.0)
    assert client.state is ConnectionState.FAILED
    failure = events_of(client)[-1]
    assert isinstance(failure, ConnectionFailed)
    assert failure.reason is FailureReason.TIMEOUT
    assert client.get_timer() is None


def test_hostname_mismatch_is_reported_as_such(pki, server_factory):
    client = new_client(pki.client_options(), name="wrong.example")
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.FAILED
    assert client.failure.reason is FailureReason.HOSTNAME_MISMATCH
    assert "wrong.example" in client.failure.message
    # The client told the server with a fatal alert.
    assert link.server.state is ConnectionState.FAILED
    assert link.server.failure.reason is FailureReason.ALERT_RECEIVED


def test_common_name_override_is_the_checked_name(pki, server_factory):
    options = pki.client_options(common_name_override="localhost")
    client = new_client(options, name="not-the-name.example")
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED


def test_untrusted_certificate_is_a_certificate_failure(pki, other_pki, server_factory):
    client = new_client(other_pki.client_options())
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.FAILED
    assert client.failure.reason is FailureReason.CERTIFICATE
    assert "issuer" in client.failure.message


def test_client_unsafe_accepts_an_untrusted_certificate(other_pki, pki, server_factory):
    client = new_client(TLSOptions.client_unsafe(), name=None)
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED


def test_close_sends_close_notify_and_the_peer_answers(pki, server_factory):
    link = connected_pair(pki, server_factory)
    link.client.close()
    assert link.client.state is ConnectionState.CLOSED
    link.deliver_to_server(link.client.datagrams_to_send(), 0.0)
    assert link.server.state is ConnectionState.CLOSED
    assert events_of(link.server) == [ConnectionClosed(by_peer=True)]
    assert link.server.stats.alerts_received == ["close_notify"]
    assert link.server.stats.alerts_sent == ["close_notify"]


def test_close_while_handshaking_sends_nothing(pki):
    client = new_client(pki.client_options())
    client.start(0.0)
    client.datagrams_to_send()
    client.close()
    assert client.datagrams_to_send() == []
    assert client.state is ConnectionState.CLOSED


GARBAGE = [
    b"\x00",
    b"\xff" * 13,
    b"\x17\xfe\xfd\x00\x01" + b"\x00" * 6 + b"\xff\xff",  # app data claiming 65535 bytes
    b"\x16\xfe\xfd" + b"\x00" * 8 + b"\x00\x05" + b"\x01\x00\x00",  # truncated handshake
    bytes(range(256)) * 4,
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_never_breaks_an_established_connection(pki, server_factory, garbage):
    link = connected_pair(pki, server_factory)
    link.deliver_to_server([garbage], 0.0)
    link.deliver_to_client([garbage], 0.0)
    assert link.client.state is ConnectionState.CONNECTED
    assert link.server.state is ConnectionState.CONNECTED
    link.client.send(b"after garbage")
    link.deliver_to_server(link.client.datagrams_to_send(), 0.0)
    assert link.server.next_packet() == b"after garbage"


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_during_the_handshake_is_ignored(pki, server_factory, garbage):
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.deliver_to_client([garbage], 0.0)
    assert client.state is ConnectionState.HANDSHAKING
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED


def test_oversize_and_empty_datagrams_are_dropped_and_counted(pki, server_factory):
    link = connected_pair(pki, server_factory)
    link.client.receive_datagram(b"\x17" * 20000, 0.0)
    link.client.receive_datagram(b"", 0.0)
    assert link.client.stats.datagrams_dropped_oversize == 1
    assert link.client.stats.datagrams_dropped_empty == 1
    assert link.client.state is ConnectionState.CONNECTED


def test_server_answers_a_reconnecting_client_with_a_cookie_request(pki, server_factory):
    link = connected_pair(pki, server_factory)
    server = link.server
    newcomer = new_client(pki.client_options())
    newcomer.start(0.0)
    server.receive_datagram(newcomer.datagrams_to_send()[0], 0.0)
    hello_verify = server.datagrams_to_send()
    assert len(hello_verify) == 1
    assert handshake_type(hello_verify[0]) == HANDSHAKE_HELLO_VERIFY_REQUEST
    assert server.state is ConnectionState.CONNECTED
    # With the cookie, the reconnect ends the old association.
    newcomer.receive_datagram(hello_verify[0], 0.0)
    server.receive_datagram(newcomer.datagrams_to_send()[0], 0.0)
    assert server.state is ConnectionState.FAILED
    assert server.failure.reason is FailureReason.CLIENT_RECONNECTED


def test_stale_cookie_gets_a_fresh_hello_verify_request(pki, server_factory):
    client = new_client(pki.client_options())
    make_server = server_factory()
    client.start(0.0)
    first = make_server()
    first.receive_datagram(client.datagrams_to_send()[0], 0.0)
    client.receive_datagram(first.datagrams_to_send()[0], 0.0)
    hello_with_cookie = client.datagrams_to_send()[0]
    late = make_server()
    late.receive_datagram(hello_with_cookie, 61.5)  # cookies live 60 s
    assert isinstance(late.next_event(), HelloVerifyRequestSent)
    fresh = make_server()
    fresh.receive_datagram(hello_with_cookie, 30.0)
    assert fresh.state is ConnectionState.HANDSHAKING
    assert fresh.datagrams_to_send()


PLAINTEXT_APPLICATION_DATA = b"\x17\xfe\xfd" + b"\x00" * 8 + b"\x00\x05" + b"early"


def test_plaintext_application_data_before_the_handshake_is_discarded(pki, server_factory):
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    client.receive_datagram(PLAINTEXT_APPLICATION_DATA, 0.0)
    assert client.state is ConnectionState.HANDSHAKING
    link.deliver_to_server(client.datagrams_to_send(), 0.0)
    link.deliver_to_client(link.server.datagrams_to_send(), 0.0)
    link.deliver_to_server(client.datagrams_to_send(), 0.0)  # server mid-handshake now
    link.server.receive_datagram(PLAINTEXT_APPLICATION_DATA, 0.0)
    assert link.server.state is ConnectionState.HANDSHAKING
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED
    assert link.server.state is ConnectionState.CONNECTED
    assert client.next_packet() is None and link.server.next_packet() is None


def test_forged_application_data_next_to_a_real_record_keeps_the_real_one(pki, server_factory):
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory())
    client.start(0.0)
    link.deliver_to_server(client.datagrams_to_send(), 0.0)
    (hello_verify,) = link.server.datagrams_to_send()
    link.deliver_to_client([PLAINTEXT_APPLICATION_DATA + hello_verify], 0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED


def client_flight_towards(link: MemoryLink, client: DTLSConnection) -> list[bytes]:
    """Run the cookie exchange and the server's flight; the client's answer (its
    ClientKeyExchange, ChangeCipherSpec and encrypted Finished), not yet delivered."""
    client.start(0.0)
    link.deliver_to_server(client.datagrams_to_send(), 0.0)  # HelloVerifyRequest back
    link.deliver_to_client(link.server.datagrams_to_send(), 0.0)
    link.deliver_to_server(client.datagrams_to_send(), 0.0)  # server flight back
    link.deliver_to_client(link.server.datagrams_to_send(), 0.0)
    flight = client.datagrams_to_send()
    assert any(has_protected_record(datagram) for datagram in flight)
    return flight


def damaged(flight: list[bytes]) -> list[bytes]:
    """The flight with the last byte of its protected record (the AEAD tag) flipped."""
    return [
        datagram[:-1] + bytes((datagram[-1] ^ 0x5A,))
        if has_protected_record(datagram)
        else datagram
        for datagram in flight
    ]


def test_one_finished_that_does_not_decrypt_is_tolerated(pki, server_factory):
    client = new_client(pki.client_options())
    link = MemoryLink(client, server_factory())
    flight = client_flight_towards(link, client)
    link.deliver_to_server(damaged(flight), 0.0)  # damaged on the path: dropped
    assert link.server.state is ConnectionState.HANDSHAKING
    assert link.server.datagrams_to_send() == []
    link.deliver_to_server(flight, 0.0)  # the intact retransmission
    assert link.server.state is ConnectionState.CONNECTED


def test_a_finished_that_does_not_decrypt_twice_ends_both_sides_with_bad_record_mac():
    server_context_ = server_context(TLSOptions.server_psk({"player-1": b"k" * 16}), CookieJar())
    client = DTLSConnection(
        client_context(TLSOptions.client_psk("player-1", b"K" * 16)), is_client=True
    )
    link = MemoryLink(
        client,
        lambda: DTLSConnection(server_context_, is_client=False, peer_address=SERVER_ADDRESS),
    )
    flight = client_flight_towards(link, client)
    link.deliver_to_server(flight, 0.0)
    assert link.server.state is ConnectionState.HANDSHAKING  # once: maybe damage, wait
    link.deliver_to_server(flight, 1.0)  # the retransmission fails the same way
    server = link.server
    assert server.state is ConnectionState.FAILED
    assert server.failure.reason is FailureReason.KEY_MISMATCH
    assert server.stats.alerts_sent == ["bad_record_mac"]
    (alert,) = server.datagrams_to_send()
    assert describe_record(alert) == "alert" and alert[-2:] == b"\x02\x14"  # fatal, 20
    client.receive_datagram(alert, 1.0)
    assert client.state is ConnectionState.FAILED
    assert client.failure.reason is FailureReason.ALERT_RECEIVED
    assert "bad_record_mac" in client.failure.message


def test_bad_records_after_the_handshake_never_end_a_connection(pki, server_factory):
    link = connected_pair(pki, server_factory)
    for index in range(4):
        link.client.send(b"damaged %d" % index)
        link.deliver_to_server(damaged(link.client.datagrams_to_send()), 0.0)
    assert link.server.state is ConnectionState.CONNECTED
    assert link.server.datagrams_to_send() == []
    link.client.send(b"intact")
    link.deliver_to_server(link.client.datagrams_to_send(), 0.0)
    assert link.server.next_packet() == b"intact"


def refused_cookie_setup(
    pki,
) -> tuple[DTLSConnection, Callable[[], DTLSConnection], Callable[[], DTLSConnection], bytes]:
    """A client that answered a HelloVerifyRequest of an ``issuing`` server; a
    ``refusing`` server whose cookie secret is another (as after a restart); and the
    client's ClientHello carrying the issued cookie."""
    client = new_client(pki.client_options())
    first = server_context(pki.server_options(), CookieJar())
    restarted = server_context(pki.server_options(), CookieJar())

    def issuing() -> DTLSConnection:
        return DTLSConnection(first, is_client=False, peer_address=SERVER_ADDRESS)

    def refusing() -> DTLSConnection:
        return DTLSConnection(restarted, is_client=False, peer_address=SERVER_ADDRESS)

    client.start(0.0)
    return (
        client,
        issuing,
        refusing,
        answer_with_cookie(client, issuing(), client.datagrams_to_send()[0]),
    )


def answer_with_cookie(client: DTLSConnection, server: DTLSConnection, hello: bytes) -> bytes:
    """The client's ClientHello answering ``server``'s HelloVerifyRequest to ``hello``."""
    server.receive_datagram(hello, 0.0)
    client.receive_datagram(server.datagrams_to_send()[0], 0.0)
    (answer,) = client.datagrams_to_send()
    assert client_hello_cookie(answer)
    return answer


def test_a_refused_cookie_makes_the_client_start_a_new_handshake(pki):
    client, _issuing, refusing_server, hello = refused_cookie_setup(pki)
    refusing = refusing_server()
    refusing.receive_datagram(hello, 0.0)
    (refusal,) = refusing.datagrams_to_send()
    assert parse_header(refusal).sequence == parse_header(hello).sequence
    client.receive_datagram(refusal, 0.0)
    (fresh,) = client.datagrams_to_send()
    assert client_hello_cookie(fresh) == b""  # a new ClientHello, message_seq 0
    assert client.stats.handshake_restarts == 1
    link = MemoryLink(client, refusing_server)
    link.deliver_to_server([fresh], 0.0)
    link.exchange(0.0)
    assert client.state is ConnectionState.CONNECTED


def test_a_late_or_repeated_hello_verify_request_is_no_refusal(pki):
    client, _issuing, refusing_server, hello = refused_cookie_setup(pki)
    # A late answer to the first ClientHello (record sequence 0), with another cookie.
    other = new_client(pki.client_options())
    other.start(0.0)
    late = refusing_server()
    late.receive_datagram(other.datagrams_to_send()[0], 0.0)
    (late_answer,) = late.datagrams_to_send()
    assert parse_header(late_answer).sequence != parse_header(hello).sequence
    client.receive_datagram(late_answer, 0.0)
    # An answer to the cookie-bearing ClientHello that repeats the client's own cookie.
    refusing = refusing_server()
    refusing.receive_datagram(hello, 0.0)
    (refusal,) = refusing.datagrams_to_send()
    ours = client_hello_cookie(hello)
    fresh_cookie = hello_verify_cookie(refusal)
    assert ours and fresh_cookie and len(ours) == len(fresh_cookie)
    client.receive_datagram(refusal.replace(fresh_cookie, ours), 0.0)
    assert client.stats.handshake_restarts == 0
    assert client.datagrams_to_send() == []


def test_refusals_restart_a_handshake_a_bounded_number_of_times(pki):
    client, issuing, refusing_server, hello = refused_cookie_setup(pki)
    for _ in range(MAX_HANDSHAKE_RESTARTS + 2):
        refusing = refusing_server()
        refusing.receive_datagram(hello, 0.0)
        client.receive_datagram(refusing.datagrams_to_send()[0], 0.0)
        fresh = client.datagrams_to_send()
        if not fresh:
            break
        hello = answer_with_cookie(client, issuing(), fresh[0])
    assert client.stats.handshake_restarts == MAX_HANDSHAKE_RESTARTS
    assert client.state is ConnectionState.HANDSHAKING
