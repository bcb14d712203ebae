"""Fuzzing the sans-IO core: hypothesis properties and a short run of ``godot_dtls.tools.fuzz``.

Every target kind of :mod:`godot_dtls.tools.fuzz` (clients and servers before, during and
after the handshake, closed and failed) gets random bytes, mutated real records and
timer firings; the fuzzer's own checks (no exception, bounded time, datagrams of whole
records within the MTU, legal states, no forged packets, a working round trip whenever
the target claims CONNECTED) must find nothing. The last tests make sure those checks
are not vacuous: a connection with an injected fault is caught.
"""

from __future__ import annotations

import contextlib
import random
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godot_dtls.core.connection import ConnectionState, DTLSConnection
from godot_dtls.core.events import FailureReason
from godot_dtls.core.records import (
    MAX_DATAGRAM_SIZE,
    handshake_type,
    parse_header,
    record_count,
    split_records,
)
from godot_dtls.tools import cli, fuzz

_world: fuzz.FuzzWorld | None = None

LIVE_KINDS = fuzz.TARGET_KINDS[:7]
SETTINGS = settings(
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def world() -> fuzz.FuzzWorld:
    """One set of contexts and reference records for the whole module (built once)."""
    global _world
    if _world is None:
        _world = fuzz.FuzzWorld(seed=11)
    return _world


@contextlib.contextmanager
def watched_session(kind: str, rng: random.Random) -> Iterator[fuzz.Session]:
    """A new target whose calls also count tracebacks logged on "godot_dtls" as findings."""
    session = world().session(kind, rng)
    with fuzz.LogWatch() as watch:
        session.log_watch = watch
        yield session


def assert_sound(session: fuzz.Session, findings: list[fuzz.Finding]) -> None:
    """The fuzzer found nothing, and the target's visible state says the same."""
    assert not findings, "\n".join(f.describe() for f in findings)
    assert isinstance(session.target.state, ConnectionState)
    if session.target.state is ConnectionState.CONNECTED:
        verified, problems = session.verify()
        assert not problems, "\n".join(f.describe() for f in problems)
        assert verified or session.peer_closed


# ---------------------------------------------------------------- the records themselves


def test_every_target_kind_is_built_in_its_state_with_real_records():
    expected = {
        "client-hello-sent": ConnectionState.HANDSHAKING,
        "client-cookie-sent": ConnectionState.HANDSHAKING,
        "client-mid-handshake": ConnectionState.HANDSHAKING,
        "client-connected": ConnectionState.CONNECTED,
        "server-awaiting-cookie": ConnectionState.HANDSHAKING,
        "server-mid-handshake": ConnectionState.HANDSHAKING,
        "server-connected": ConnectionState.CONNECTED,
        "client-closed": ConnectionState.CLOSED,
        "server-closed": ConnectionState.CLOSED,
        "client-failed": ConnectionState.FAILED,
        "server-failed": ConnectionState.FAILED,
    }
    assert set(expected) == set(fuzz.TARGET_KINDS)
    for seed in range(4):
        for kind, state in expected.items():
            session = world().session(kind, random.Random(seed))
            assert session.target.state is state, kind
            assert session.corpus, kind
            for datagram in session.corpus:
                assert record_count(datagram), kind


def test_the_reference_corpus_holds_every_kind_of_record():
    corpus = world().reference_corpus
    records = [record for d in corpus for record in split_records(d)]
    content_types = {parse_header(record).content_type for record in records}
    assert content_types == {20, 21, 22, 23}  # CCS, alerts, handshake, application data
    handshake_types = {handshake_type(record) for record in records} - {None}
    # ClientHello, ServerHello, HelloVerifyRequest, Certificate, ServerKeyExchange,
    # ServerHelloDone, ClientKeyExchange.
    assert {1, 2, 3, 11, 12, 14, 16} <= handshake_types


def test_mutations_are_determined_by_the_seed():
    corpus = world().reference_corpus
    first = [fuzz.mutate(random.Random(99), d, corpus) for d in corpus[:20]]
    second = [fuzz.mutate(random.Random(99), d, corpus) for d in corpus[:20]]
    assert first == second
    for name in fuzz.MUTATORS:
        _, data = fuzz.mutate(random.Random(5), corpus[3], corpus, name)
        assert isinstance(data, bytes)
        assert len(data) <= 65507


# ---------------------------------------------------------------- hypothesis properties


@pytest.mark.parametrize("kind", fuzz.TARGET_KINDS)
@SETTINGS
@given(data=st.lists(st.binary(min_size=0, max_size=1600), min_size=1, max_size=4))
def test_random_bytes_never_break_a_connection_in_any_state(kind, data):
    with watched_session(kind, random.Random(len(data))) as session:
        for datagram in data:
            assert_sound(session, session.feed(datagram, "hypothesis-bytes"))


@pytest.mark.parametrize("kind", fuzz.TARGET_KINDS)
@SETTINGS
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    steps=st.lists(
        st.one_of(st.sampled_from(sorted(fuzz.MUTATORS)), st.just("timer")),
        min_size=1,
        max_size=8,
    ),
)
def test_mutated_real_records_never_break_a_connection_in_any_state(kind, seed, steps):
    # A seeded Random, not st.randoms(): how many draws a mutation makes depends on the
    # record sizes, which OpenSSL's own randomness varies from one handshake to the next.
    rng = random.Random(seed)
    with watched_session(kind, rng) as session:
        pool = session.corpus + world().reference_corpus
        for step in steps:
            if step == "timer":
                assert_sound(session, session.fire_timer())
                continue
            base = rng.choice(session.corpus if rng.random() < 0.7 else pool)
            _, datagram = fuzz.mutate(rng, base, pool, step)
            assert_sound(session, session.feed(datagram, step))


@pytest.mark.parametrize("kind", LIVE_KINDS)
@SETTINGS
@given(
    prefix=st.integers(min_value=0, max_value=13),
    header=st.binary(min_size=13, max_size=13),
    length=st.sampled_from([0, 1, 12, 48, 0x4000, 0x4801, 0xFFFF]),
    body=st.binary(max_size=300),
)
def test_forged_record_headers_never_break_a_connection(kind, prefix, header, length, body):
    with watched_session(kind, random.Random(prefix)) as session:
        forged = header[:11] + length.to_bytes(2, "big") + body
        real = session.corpus[prefix % len(session.corpus)]
        for datagram in (forged, real[:prefix] + forged, forged + real):
            assert_sound(session, session.feed(datagram, "hypothesis-header"))


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_the_real_records_shuffled_and_duplicated_still_complete_the_handshake(seed):
    # The client awaits the server's Finished; every record of its session (the whole
    # handshake, the Finished included) arrives in a random order, some of them twice.
    # (Noise is left out here on purpose: a spoofed epoch-0 HelloVerifyRequest makes
    # OpenSSL ignore the Finished until a retransmission, which runs on the real clock.)
    rng = random.Random(seed)
    with watched_session("client-mid-handshake", rng) as session:
        records = list(session.corpus)
        records += rng.sample(records, rng.randint(0, len(records)))
        rng.shuffle(records)
        for datagram in records:
            assert_sound(session, session.feed(datagram, "shuffled"))
        assert session.target.state is ConnectionState.CONNECTED, session.target.failure
        verified, problems = session.verify()
        assert verified and not problems


# ---------------------------------------------------------------- the mutation fuzzer


def test_short_fuzz_run_finds_nothing_and_reaches_every_state():
    report = fuzz.run_fuzz(20_000, seed=20240601)
    assert not report.findings, fuzz.format_report(report)
    assert report.findings_total == len(report.findings)  # none left out of the list
    assert report.datagrams == 20_000
    assert report.exceptions == 0
    assert set(report.by_kind) == set(fuzz.TARGET_KINDS)
    assert all(report.by_state[state.name] > 0 for state in ConnectionState)
    assert report.round_trips > 0
    assert report.transitions["HANDSHAKING->CONNECTED"] > 0  # real replays got through
    assert report.slowest_call < 1.0
    summary = fuzz.format_report(report)
    assert "datagrams/s" in summary and "result:" in summary


def corrupt_leaf_not_after(server_flight: bytes) -> bytes:
    """The first digit of the leaf's notAfter UTCTime replaced by a letter.

    OpenSSL's parser keeps the time as a string and accepts the certificate (it then
    fails its signature); `cryptography` refuses to parse it at all.
    """
    data = bytearray(server_flight)
    not_before = data.index(b"\x17\x0d")
    not_after = data.index(b"\x17\x0d", not_before + 1)
    data[not_after + 2] = ord("A")
    return bytes(data)


def test_a_server_certificate_cryptography_cannot_parse_is_a_certificate_failure():
    seed = 0
    session = world().session("client-cookie-sent", random.Random(seed))
    while session.target.mtu != 1400:  # the Certificate message whole in one datagram
        seed += 1
        session = world().session("client-cookie-sent", random.Random(seed))
    server_flight = session.corpus[3]
    with fuzz.LogWatch() as watch:
        session.target.receive_datagram(corrupt_leaf_not_after(server_flight), session.now)
    assert session.target.state is ConnectionState.FAILED
    assert watch.take() == []
    failure = session.target.failure
    assert failure is not None and failure.reason is FailureReason.CERTIFICATE, failure


def test_fuzz_command_prints_the_summary_and_exits_zero(capsys):
    assert cli.main(["fuzz", "--count", "3000", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "godot-dtls fuzz: seed 7, 3000 datagrams" in out
    assert "exceptions: 0   findings: 0" in out
    assert "result: OK, no findings" in out


def test_fuzz_command_stops_after_the_time_limit(capsys):
    assert cli.main(["fuzz", "--count", "100000000", "--seconds", "1", "--seed", "8"]) == 0
    assert "result: OK" in capsys.readouterr().out


# ---------------------------------------------------------------- the checks catch faults


def test_an_escaping_exception_is_a_finding_and_the_command_exits_nonzero(
    monkeypatch, capsys, tmp_path
):
    original = DTLSConnection.receive_datagram

    def explode_on_content_type_zero(self, data, now):
        if data[:1] == b"\x00":  # never a real record: only mutations start so
            raise KeyError("injected")
        return original(self, data, now)

    monkeypatch.setattr(DTLSConnection, "receive_datagram", explode_on_content_type_zero)
    saved = tmp_path / "findings.jsonl"
    assert cli.main(["fuzz", "--count", "3000", "--seed", "9", "--save-findings", str(saved)]) == 1
    out = capsys.readouterr().out
    assert "[exception]" in out and "KeyError" in out and "result: FAILED" in out
    # A saved finding replays on a new target of the same kind.
    first = saved.read_text().splitlines()[0]
    replayed = fuzz.replay(first, world())
    assert any(f.check == "exception" and "KeyError" in f.message for f in replayed)


def test_a_datagram_over_the_mtu_is_a_finding(monkeypatch):
    original = DTLSConnection.datagrams_to_send

    def glue(self):
        datagrams = original(self)
        return [b"".join(datagrams)] * 2 if len(datagrams) > 1 else datagrams

    seed = 0
    session = world().session("server-awaiting-cookie", random.Random(seed))
    while session.target.mtu != 256:  # a small MTU: the server flight takes datagrams
        seed += 1
        session = world().session("server-awaiting-cookie", random.Random(seed))
    monkeypatch.setattr(DTLSConnection, "datagrams_to_send", glue)
    hello_with_cookie = session.corpus[2]
    findings = session.feed(hello_with_cookie)
    assert any(f.check == "datagram" and "> MTU" in f.message for f in findings)


def test_a_connection_that_claims_connected_but_cannot_talk_is_a_finding(monkeypatch):
    seed = 3
    session = world().session("client-connected", random.Random(seed))
    while session.peer_closed:  # a peer that is still there to answer
        seed += 1
        session = world().session("client-connected", random.Random(seed))
    monkeypatch.setattr(DTLSConnection, "send", lambda self, data: None)
    verified, findings = session.verify()
    assert not verified
    assert any(f.check == "round-trip" for f in findings)


def test_a_forged_packet_and_an_illegal_transition_are_findings(monkeypatch):
    session = world().session("client-connected", random.Random(4))
    # Pretend the datagram decrypted into something the peer never sent.
    packets = [b"forged"]
    monkeypatch.setattr(
        DTLSConnection, "next_packet", lambda self: packets.pop() if packets else None
    )
    findings = session.feed(b"\x00")
    assert any(f.check == "forged-packet" for f in findings)
    monkeypatch.setattr(DTLSConnection, "state", property(lambda self: ConnectionState.HANDSHAKING))
    findings = session.feed(b"\x00")
    assert any(f.check == "state" and "illegal transition" in f.message for f in findings)


def test_oversize_datagrams_stay_out_of_the_tls_engine():
    session = world().session("client-connected", random.Random(5))
    _, datagram = fuzz.mutate(random.Random(1), session.corpus[0], session.corpus, "oversize")
    assert len(datagram) >= MAX_DATAGRAM_SIZE
    assert_sound(session, session.feed(datagram, "oversize"))
