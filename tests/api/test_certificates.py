"""The certificate matrix: which server certificates a client accepts, and the status it ends in.

Each test drives a real handshake between a ``PacketPeerDTLS`` client and a
``DTLSServer`` peer, twice: over real UDP on 127.0.0.1 (``PacketPeerUDP`` / ``UDPServer``)
and over an in-memory datagram link with the same method names (no sockets, no waits).
It asserts the exact status (2 CONNECTED, 3 ERROR, 4 ERROR_HOSTNAME_MISMATCH), that a
failure is logged on the ``godot_dtls`` logger with its reason, and that
``get_last_error_message()`` tells it too. Certificates come from ``cert_factory``.
"""

from __future__ import annotations

import datetime
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import pytest
from OpenSSL import crypto

from godot_dtls import (
    DTLSServer,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    UDPServer,
    X509Certificate,
)
from support.cert_factory import (
    CLIENT_AUTH,
    Issued,
    issue,
    key_usage,
    new_key,
    root_ca,
    server_options,
    trust,
    with_ber_boolean,
)
from support.polling import poll_until

_DAY = datetime.timedelta(days=1)
_NOW = datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------- certificates


@dataclass
class Matrix:
    """Every certificate the tests use, made once per module."""

    root: Issued
    other_root: Issued
    intermediate: Issued
    valid: Issued
    expired: Issued
    not_yet_valid: Issued
    ip_san: Issued
    untrusted: Issued
    self_signed: Issued
    unrelated_self_signed: Issued
    behind_intermediate: Issued
    client_auth_only: Issued
    no_digital_signature: Issued
    not_a_ca: Issued
    issued_by_not_a_ca: Issued
    cn_only: Issued
    wildcard: Issued


@pytest.fixture(scope="module")
def certs() -> Matrix:
    root = root_ca("matrix root")
    other_root = root_ca("unrelated root")
    intermediate = issue(root, "matrix intermediate", ca=True, path_length=0)
    not_a_ca = issue(root, "leaf posing as a CA", dns_names=["issuer.example"])
    return Matrix(
        root=root,
        other_root=other_root,
        intermediate=intermediate,
        valid=issue(root, "localhost", dns_names=["localhost"]),
        expired=issue(
            root,
            "localhost",
            dns_names=["localhost"],
            not_before=_NOW - 30 * _DAY,
            not_after=_NOW - _DAY,
        ),
        not_yet_valid=issue(
            root,
            "localhost",
            dns_names=["localhost"],
            not_before=_NOW + _DAY,
            not_after=_NOW + 30 * _DAY,
        ),
        ip_san=issue(root, "127.0.0.1", ip_addresses=["127.0.0.1"]),
        untrusted=issue(other_root, "localhost", dns_names=["localhost"]),
        self_signed=issue(None, "localhost", dns_names=["localhost"]),
        unrelated_self_signed=issue(None, "localhost", dns_names=["localhost"]),
        behind_intermediate=issue(intermediate, "localhost", dns_names=["localhost"]),
        client_auth_only=issue(
            root, "localhost", dns_names=["localhost"], extended_key_usage=[CLIENT_AUTH]
        ),
        no_digital_signature=issue(
            root, "localhost", dns_names=["localhost"], usage=key_usage(key_agreement=True)
        ),
        not_a_ca=not_a_ca,
        issued_by_not_a_ca=issue(not_a_ca, "localhost", dns_names=["localhost"]),
        cn_only=issue(root, "localhost"),
        wildcard=issue(root, "*.example.com", dns_names=["*.example.com"]),
    )


# ---------------------------------------------------------------- an in-memory UDP path


class MemoryUDP:
    """One end of an in-memory UDP association, with ``PacketPeerUDP``'s method names."""

    def __init__(self, network: MemoryNetwork, is_client: bool) -> None:
        self._network = network
        self._is_client = is_client
        self.inbox: deque[bytes] = deque()
        self.closed = False

    def put_packet(self, buffer: bytes) -> Error:
        if self.closed:
            return Error.ERR_UNCONFIGURED
        self._network.carry(self._is_client, bytes(buffer))
        return Error.OK

    def get_packet(self) -> bytes:
        return self.inbox.popleft() if self.inbox else b""

    def get_available_packet_count(self) -> int:
        return -1 if self.closed else len(self.inbox)

    def is_socket_connected(self) -> bool:
        return not self.closed

    def get_packet_ip(self) -> str:
        return "127.0.0.1"

    def get_packet_port(self) -> int:
        return 50000

    def close(self) -> None:
        self.closed = True


class MemoryNetwork:
    """A client and the server side of one address, demultiplexed as ``UDPServer`` does:
    once the server's UDP peer for the client is closed, the next datagram makes a new one.
    """

    def __init__(self) -> None:
        self.client = MemoryUDP(self, is_client=True)
        self.pending: deque[MemoryUDP] = deque()
        self._server_side: MemoryUDP | None = None
        self.in_flight = 0

    def carry(self, from_client: bool, datagram: bytes) -> None:
        if from_client:
            side = self._server_side
            if side is None or side.closed:
                side = self._server_side = MemoryUDP(self, is_client=False)
                self.pending.append(side)
            side.inbox.append(datagram)
        else:
            self.client.inbox.append(datagram)


# ---------------------------------------------------------------- driving a handshake


@dataclass
class Outcome:
    status: Status
    message: str
    setup: Error
    echoed: bytes | None = None


def _take_new_peers(server: DTLSServer, udp_peers: list[Any], peers: list[PacketPeerDTLS]) -> None:
    for udp_peer in udp_peers:
        peer = server.take_connection(udp_peer)
        if peer is not None and peer.get_status() is Status.HANDSHAKING:
            peers.append(peer)


def _echo_once(client: PacketPeerDTLS, peers: list[PacketPeerDTLS], pump: Any) -> bytes | None:
    """A packet from the client must reach the server peer and come back."""
    if client.put_packet(b"ping over DTLS") != Error.OK:
        return None

    def echo_back() -> None:
        for peer in peers:
            if peer.get_status() is Status.CONNECTED and peer.get_available_packet_count():
                peer.put_packet(peer.get_packet())

    def arrived() -> bool:
        return client.get_status() is Status.CONNECTED and client.get_available_packet_count() > 0

    if poll_until(pump, echo_back, client, until=arrived, timeout=3.0, interval=0.0):
        return client.get_packet()
    return None


def handshake(
    transport: str,
    server_opts: TLSOptions,
    client_opts: TLSOptions | None,
    hostname: str = "localhost",
) -> Outcome:
    """Connect a client to a server presenting ``server_opts``; return how it ended."""
    server = DTLSServer()
    setup = server.setup(server_opts)
    if setup != Error.OK:
        return Outcome(Status.DISCONNECTED, "", setup)
    client = PacketPeerDTLS()
    peers: list[PacketPeerDTLS] = []
    if transport == "memory":
        network = MemoryNetwork()

        def pump() -> None:
            taken = list(network.pending)
            network.pending.clear()
            _take_new_peers(server, taken, peers)
            for peer in peers:
                peer.poll()

        client_udp: Any = network.client
        stop = None
    else:
        udp_server = UDPServer()
        assert udp_server.listen(0, "127.0.0.1") == Error.OK
        client_udp = PacketPeerUDP()
        assert client_udp.connect_to_host("127.0.0.1", udp_server.get_local_port()) == Error.OK

        def pump() -> None:
            udp_server.poll()
            taken = []
            while udp_server.is_connection_available():
                taken.append(udp_server.take_connection())
            _take_new_peers(server, taken, peers)
            for peer in peers:
                peer.poll()

        stop = udp_server.stop
    try:
        assert client.connect_to_peer(client_udp, hostname, client_opts) == Error.OK
        poll_until(
            pump,
            client,
            until=lambda: client.get_status() is not Status.HANDSHAKING,
            interval=0.0005 if transport == "udp" else 0.0,
        )
        for _ in range(20):  # let the server read the client's alert or Finished
            pump()
        status = client.get_status()
        echoed = _echo_once(client, peers, pump) if status is Status.CONNECTED else None
        return Outcome(status, client.get_last_error_message(), setup, echoed)
    finally:
        client.disconnect_from_peer()
        if stop is not None:
            stop()


@pytest.fixture(params=["udp", "memory"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="godot_dtls")
    return caplog


def assert_connected(outcome: Outcome) -> None:
    assert outcome.status == Status.CONNECTED == 2, outcome.message
    assert outcome.echoed == b"ping over DTLS"


def assert_failed(
    outcome: Outcome, status: Status, reason: str, log: pytest.LogCaptureFixture
) -> None:
    """The exact error status, a clear reason in the message and a log line naming it."""
    assert outcome.status == status, outcome.message
    assert outcome.message, "get_last_error_message() must say why"
    assert reason in outcome.message
    lines = [r.getMessage() for r in log.records if r.name.startswith("godot_dtls")]
    assert any(reason in line for line in lines), lines


# ---------------------------------------------------------------- the rules


def test_trusted_and_valid_certificate_connects(certs, transport):
    outcome = handshake(
        transport, server_options(certs.valid, certs.root), TLSOptions.client(trust(certs.root))
    )
    assert_connected(outcome)


def test_expired_certificate_is_an_error(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.expired), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "expired", log)


def test_not_yet_valid_certificate_is_an_error(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.not_yet_valid), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "not yet valid", log)


def test_wrong_hostname_is_a_hostname_mismatch(certs, transport, log):
    outcome = handshake(
        transport,
        server_options(certs.valid),
        TLSOptions.client(trust(certs.root)),
        "other.example",
    )
    assert_failed(outcome, Status.ERROR_HOSTNAME_MISMATCH, "name mismatch", log)
    assert "other.example" in outcome.message


def test_ip_hostname_matches_an_ip_san(certs, transport):
    outcome = handshake(
        transport, server_options(certs.ip_san), TLSOptions.client(trust(certs.root)), "127.0.0.1"
    )
    assert_connected(outcome)


def test_other_ip_hostname_is_a_hostname_mismatch(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.ip_san), TLSOptions.client(trust(certs.root)), "127.0.0.2"
    )
    assert_failed(outcome, Status.ERROR_HOSTNAME_MISMATCH, "name mismatch", log)
    assert "127.0.0.2" in outcome.message


def test_certificate_from_an_untrusted_ca_is_an_error(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.untrusted), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "unable to get local issuer", log)


def test_untrusted_ca_sent_along_by_the_server_is_still_an_error(certs, transport, log):
    outcome = handshake(
        transport,
        server_options(certs.untrusted, certs.other_root),
        TLSOptions.client(trust(certs.root)),
    )
    assert_failed(outcome, Status.ERROR, "self-signed certificate in certificate chain", log)


def test_self_signed_leaf_is_refused_by_the_default_ca_bundle(certs, transport, log):
    outcome = handshake(transport, server_options(certs.self_signed), TLSOptions.client())
    assert_failed(outcome, Status.ERROR, "self-signed", log)


def test_client_unsafe_accepts_a_self_signed_leaf(certs, transport):
    outcome = handshake(
        transport, server_options(certs.self_signed), TLSOptions.client_unsafe(), "any.name.at.all"
    )
    assert_connected(outcome)


def test_client_unsafe_with_the_self_signed_cert_as_chain_connects(certs, transport):
    outcome = handshake(
        transport,
        server_options(certs.self_signed),
        TLSOptions.client_unsafe(trust(certs.self_signed)),
        "not-checked.example",
    )
    assert_connected(outcome)


def test_client_unsafe_with_an_unrelated_chain_is_an_error(certs, transport, log):
    outcome = handshake(
        transport,
        server_options(certs.self_signed),
        TLSOptions.client_unsafe(trust(certs.unrelated_self_signed)),
    )
    assert_failed(outcome, Status.ERROR, "self-signed", log)


def test_leaf_without_its_intermediate_is_an_error(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.behind_intermediate), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "unable to get local issuer", log)


def test_leaf_with_the_intermediate_sent_by_the_server_connects(certs, transport):
    outcome = handshake(
        transport,
        server_options(certs.behind_intermediate, certs.intermediate),
        TLSOptions.client(trust(certs.root)),
    )
    assert_connected(outcome)


def test_intermediate_as_the_clients_trust_anchor_connects(certs, transport):
    outcome = handshake(
        transport,
        server_options(certs.behind_intermediate),
        TLSOptions.client(trust(certs.intermediate)),
    )
    assert_connected(outcome)


def test_client_auth_only_extended_key_usage_is_an_error(certs, transport, log):
    outcome = handshake(
        transport, server_options(certs.client_auth_only), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "unsuitable certificate purpose", log)


def test_key_usage_without_digital_signature_is_an_error(certs, transport, log):
    # An ECDSA key that may not sign cannot do ECDHE-ECDSA: OpenSSL's server finds no
    # usable cipher suite and says so to the client with a handshake_failure alert.
    outcome = handshake(
        transport, server_options(certs.no_digital_signature), TLSOptions.client(trust(certs.root))
    )
    assert_failed(outcome, Status.ERROR, "handshake_failure", log)
    assert any("no shared cipher" in r.getMessage() for r in log.records)


def test_issuer_that_is_not_a_ca_is_an_error(certs, transport, log):
    outcome = handshake(
        transport,
        server_options(certs.issued_by_not_a_ca, certs.not_a_ca),
        TLSOptions.client(trust(certs.root)),
    )
    assert_failed(outcome, Status.ERROR, "certificate verification failed at depth 1", log)
    assert "leaf posing as a CA" in outcome.message


def test_issuer_that_is_not_a_ca_is_reported_as_an_invalid_ca(certs, log):
    outcome = handshake(
        "memory",
        server_options(certs.issued_by_not_a_ca, certs.not_a_ca),
        TLSOptions.client(trust(certs.root)),
    )
    assert_failed(outcome, Status.ERROR, "invalid CA certificate", log)


def test_matching_common_name_override_wins_over_a_wrong_hostname(certs, transport):
    options = TLSOptions.client(trust(certs.root), common_name_override="localhost")
    outcome = handshake(transport, server_options(certs.valid), options, "wrong.example")
    assert_connected(outcome)


def test_non_matching_common_name_override_is_a_hostname_mismatch(certs, transport, log):
    options = TLSOptions.client(trust(certs.root), common_name_override="other.example")
    outcome = handshake(transport, server_options(certs.valid), options, "localhost")
    assert_failed(outcome, Status.ERROR_HOSTNAME_MISMATCH, "name mismatch", log)
    assert "other.example" in outcome.message


def test_certificate_without_san_matches_its_common_name(certs, transport):
    outcome = handshake(
        transport, server_options(certs.cn_only), TLSOptions.client(trust(certs.root))
    )
    assert_connected(outcome)


def test_wildcard_san_matches_one_label(certs, transport):
    outcome = handshake(
        transport,
        server_options(certs.wildcard),
        TLSOptions.client(trust(certs.root)),
        "a.example.com",
    )
    assert_connected(outcome)


def test_wildcard_san_does_not_match_two_labels(certs, transport, log):
    outcome = handshake(
        transport,
        server_options(certs.wildcard),
        TLSOptions.client(trust(certs.root)),
        "a.b.example.com",
    )
    assert_failed(outcome, Status.ERROR_HOSTNAME_MISMATCH, "name mismatch", log)


def test_server_key_that_does_not_match_its_certificate_is_refused_by_setup(certs, log):
    server = DTLSServer()
    error = server.setup(server_options(certs.valid, key=new_key()))
    assert error == Error.ERR_INVALID_PARAMETER == 31
    lines = [r.getMessage() for r in log.records if r.name.startswith("godot_dtls")]
    assert any("does not match" in line for line in lines), lines


@pytest.mark.filterwarnings("ignore:Passing pyOpenSSL:DeprecationWarning")
def test_validly_signed_certificate_with_a_ber_boolean_connects_as_with_openssl(certs, log):
    from godot_dtls.api.context import client_context, server_context
    from godot_dtls.core.connection import ConnectionState, DTLSConnection
    from godot_dtls.core.cookies import CookieJar
    from godot_dtls.core.verification import CertificateVerifier
    from support.memory_link import MemoryLink

    ber_der = with_ber_boolean(certs.valid, certs.root)
    openssl_view = crypto.load_certificate(crypto.FILETYPE_ASN1, ber_der)
    store = crypto.X509Store()
    store.add_cert(crypto.X509.from_cryptography(certs.root.certificate))
    crypto.X509StoreContext(store, openssl_view).verify_certificate()  # OpenSSL: valid
    # The package cannot load it as a server certificate (X509Certificate parses with
    # `cryptography`), so the server context is given the certificate through OpenSSL.
    context = server_context(server_options(certs.valid), CookieJar())
    context.use_certificate(openssl_view)
    context.use_privatekey(crypto.PKey.from_cryptography_key(certs.valid.key))
    options = TLSOptions.client(trust(certs.root))
    client = DTLSConnection(
        client_context(options),
        is_client=True,
        server_name="localhost",
        verifier=CertificateVerifier("localhost"),
    )
    link = MemoryLink(
        client, lambda: DTLSConnection(context, is_client=False, peer_address=("127.0.0.1", 1))
    )
    client.start(0.0)
    link.exchange(0.0)
    assert not any(r.exc_info for r in log.records), "a traceback was logged"
    assert client.state is ConnectionState.CONNECTED, client.failure


def test_x509_certificate_cannot_load_the_ber_certificate_either(certs):
    # The same strictness on the loading side: the server-side API refuses the file.
    ber_der = with_ber_boolean(certs.valid, certs.root)
    assert X509Certificate().load_from_string(ber_der) == Error.FAILED
