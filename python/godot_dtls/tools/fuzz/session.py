"""The fuzzer's world and its targets: a PKI, real captured records, and connections in
every state, each fed mutated datagrams and checked after every input.

:class:`FuzzWorld` makes the certificates and the reference session once;
:class:`Session` builds one target connection of a kind (see :data:`TARGET_KINDS`) with
its real peer, feeds it datagrams, and reports every broken rule as a :class:`Finding`.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import random
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

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
    record_count,
)
from godot_dtls.core.states import ConnectionState, reachable
from godot_dtls.core.verification import CertificateVerifier

from .mutators import random_bytes

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
KIND_WEIGHTS = (16, 16, 12, 8, 16, 16, 8, 2, 2, 2, 2)
TERMINAL_KINDS = frozenset(TARGET_KINDS[7:])
_MTUS = (256, 576, 1400)
_MAX_DETAILED_FINDINGS = 50
_MAX_SAVED_OUTPUTS = 256
_MAX_ALERTS_KEPT = 256

# ---------------------------------------------------------------------------- the world


def _x509_name(common_name: str) -> x509.Name:
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
        .subject_name(_x509_name(f"godot-dtls fuzz CA ({key_type})"))
        .issuer_name(_x509_name(f"godot-dtls fuzz CA ({key_type})"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_x509_name(SERVER_NAME))
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
            rotate_every=1e9, random_bytes=lambda n: random_bytes(secret_rng, n)
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
            payload = random_bytes(rng, rng.choice((1, 40, 300, 1300, 3000)))
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
