"""Beyond the engine: pinning, revocation, PSK, resumption, SNI, ALPN, key log, stats.

Each feature is exercised over real loopback UDP against this package's own server,
and against OpenSSL and GnuTLS where those peers offer the feature.
"""

from __future__ import annotations

import base64
import datetime
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from godot_dtls import (
    CryptoKey,
    DTLSServer,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    X509Certificate,
)
from godot_dtls.api.crypto import Crypto
from godot_dtls.api.tls_options import parse_spki_pin
from godot_dtls.api.x509 import X509CRL
from godot_dtls.core.verification import pin_text, spki_sha256
from godot_dtls.tools.cli import main as cli_main
from godot_dtls.tools.serve import EchoServer
from support.gnutls_peer import start_gnutls_serv, write_psk_passwd
from support.loopback import connect, echo, serving
from support.openssl_peer import start_s_server
from support.polling import poll_until


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required in CI")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture
def server(pki):
    echo_server = EchoServer(pki.server_options())
    yield echo_server
    echo_server.stop()


def leaf_pin(pki) -> bytes:
    return spki_sha256(pki.server_chain().certificates[0])


# ----------------------------------------------------------------------------- pinning


def test_pin_parsing_accepts_base64_hex_and_hpkp_forms(pki):
    digest = leaf_pin(pki)
    b64 = base64.b64encode(digest).decode()
    assert parse_spki_pin(b64) == digest
    assert parse_spki_pin(digest.hex()) == digest
    assert parse_spki_pin(":".join(f"{b:02X}" for b in digest)) == digest
    assert parse_spki_pin("sha256/" + b64) == digest
    assert parse_spki_pin(digest) == digest
    with pytest.raises(ValueError):
        parse_spki_pin("not a pin")


def test_matching_pin_connects(pki, server):
    options = TLSOptions.client(pki.ca_certificate(), pinned_spki_sha256=[pin_text(leaf_pin(pki))])
    assert connect(server, options).get_status() is Status.CONNECTED


def test_pin_of_the_ca_key_also_matches(pki, server):
    ca_pin = spki_sha256(pki.ca_certificate().certificates[0])
    options = TLSOptions.client(pki.ca_certificate(), pinned_spki_sha256=[ca_pin.hex()])
    assert connect(server, options).get_status() is Status.CONNECTED


def test_wrong_pin_fails_naming_the_keys_seen(pki, server, dtls_log):
    options = TLSOptions.client(pki.ca_certificate(), pinned_spki_sha256=[b"\x01" * 32])
    peer = connect(server, options)
    assert peer.get_status() is Status.ERROR
    message = peer.get_last_error_message()
    assert "no pinned key" in message
    assert pin_text(leaf_pin(pki)) in message
    assert any("no pinned key" in r.getMessage() for r in dtls_log.records)


def test_pin_only_trust_with_client_unsafe_accepts_a_self_signed_server(tmp_path):
    crypto = Crypto()
    key = crypto.generate_ec()
    certificate = crypto.generate_self_signed_certificate(key, "CN=game-server")
    pin = pin_text(spki_sha256(certificate.certificates[0]))
    server = EchoServer(TLSOptions.server(key, certificate))
    try:
        good = connect(server, TLSOptions.client_unsafe(pinned_spki_sha256=[pin]))
        assert good.get_status() is Status.CONNECTED
        assert echo(good, server, b"pinned") == b"pinned"
        other = pin_text(
            spki_sha256(
                Crypto().generate_self_signed_certificate(Crypto().generate_ec()).certificates[0]
            )
        )
        bad = connect(server, TLSOptions.client_unsafe(pinned_spki_sha256=[other]))
        assert bad.get_status() is Status.ERROR
    finally:
        server.stop()


def test_pin_command_prints_the_pin_of_a_certificate_file(pki, capsys):
    assert cli_main(["pin", str(pki.cert_path)]) == 0
    out = capsys.readouterr().out
    assert pin_text(leaf_pin(pki)) in out


def test_pin_command_reads_the_pin_from_a_live_server(pki, server, capsys):
    with serving(server):
        assert cli_main(["pin", f"127.0.0.1:{server.port}"]) == 0
    assert pin_text(leaf_pin(pki)) in capsys.readouterr().out


# ----------------------------------------------------------------------------- revocation


def make_crl(
    ca: trustme.CA,
    revoked_serials: list[int],
    next_update_in: datetime.timedelta = datetime.timedelta(days=1),
) -> bytes:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(days=2))
        .next_update(now + next_update_in)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=1))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)


def serial_of(pki) -> int:
    return pki.server_chain().certificates[0].serial_number


def test_unrevoked_certificate_passes_the_crl_check(pki, server):
    options = TLSOptions.client(pki.ca_certificate(), crls=[make_crl(pki.ca, [])])
    assert connect(server, options).get_status() is Status.CONNECTED


def test_revoked_leaf_fails(pki, server):
    crl = X509CRL()
    assert crl.load_from_string(make_crl(pki.ca, [serial_of(pki)])) == Error.OK
    peer = connect(server, TLSOptions.client(pki.ca_certificate(), crls=[crl]))
    assert peer.get_status() is Status.ERROR
    assert "revoked" in peer.get_last_error_message()


def test_revoked_intermediate_fails(tmp_path):
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    chain = X509Certificate.from_pem(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    server = EchoServer(TLSOptions.server(CryptoKey.from_pem(leaf.private_key_pem.bytes()), chain))
    try:
        trusted = X509Certificate.from_pem(root.cert_pem.bytes())
        intermediate_serial = chain.certificates[1].serial_number
        clean = [make_crl(root, []), make_crl(intermediate, [])]
        assert connect(server, TLSOptions.client(trusted, crls=clean)).get_status() is (
            Status.CONNECTED
        )
        revoking = [make_crl(root, [intermediate_serial]), make_crl(intermediate, [])]
        peer = connect(server, TLSOptions.client(trusted, crls=revoking))
        assert peer.get_status() is Status.ERROR
        assert "revoked" in peer.get_last_error_message()
    finally:
        server.stop()


def test_expired_crl_hard_fails_by_default_and_soft_fails_on_request(pki, server, dtls_log):
    stale = make_crl(pki.ca, [], next_update_in=-datetime.timedelta(hours=1))
    hard = connect(server, TLSOptions.client(pki.ca_certificate(), crls=[stale]))
    assert hard.get_status() is Status.ERROR
    assert "CRL has expired" in hard.get_last_error_message()
    soft = connect(
        server, TLSOptions.client(pki.ca_certificate(), crls=[stale], crl_soft_fail=True)
    )
    assert soft.get_status() is Status.CONNECTED
    assert any("soft-failed" in r.getMessage() for r in dtls_log.records)


def test_crl_loads_from_pem_der_and_files(pki, tmp_path):
    pem = make_crl(pki.ca, [5])
    der = x509.load_pem_x509_crl(pem).public_bytes(serialization.Encoding.DER)
    path = tmp_path / "ca.crl"
    path.write_bytes(der)
    crl = X509CRL()
    assert crl.load(path) == Error.OK
    assert crl.crl is not None and crl.crl.get_revoked_certificate_by_serial_number(5)
    assert X509CRL().load_from_string("garbage") == Error.FAILED
    assert X509CRL().load(tmp_path / "missing.crl") == Error.ERR_INVALID_PARAMETER
    assert "BEGIN X509 CRL" in X509CRL.from_data(pem).save_to_string()


# ----------------------------------------------------------------------------- PSK


PSK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_psk_client_and_server_connect_without_certificates():
    server = EchoServer(TLSOptions.server_psk({"player-1": PSK_KEY}))
    try:
        peer = connect(server, TLSOptions.client_psk("player-1", PSK_KEY))
        assert peer.get_status() is Status.CONNECTED
        assert echo(peer, server, b"psk data") == b"psk data"
        assert "PSK" in peer.get_stats()["cipher"]
    finally:
        server.stop()


def test_psk_server_with_a_key_lookup_callable():
    lookups: list[str] = []

    def lookup(identity: str) -> bytes | None:
        lookups.append(identity)
        return PSK_KEY if identity.startswith("team-") else None

    server = EchoServer(TLSOptions.server_psk(lookup, identity_hint="game"))
    try:
        assert connect(server, TLSOptions.client_psk("team-7", PSK_KEY)).get_status() is (
            Status.CONNECTED
        )
        assert connect(server, TLSOptions.client_psk("stranger", PSK_KEY)).get_status() is (
            Status.ERROR
        )
        assert lookups == ["team-7", "stranger"]
    finally:
        server.stop()


#: Generous bound for a wrong key to end both sides (it takes one retransmission, ~1 s).
WRONG_KEY_DEADLINE = 20.0


@pytest.mark.parametrize("wrong_side", ["client", "server"])
def test_wrong_psk_ends_the_handshake_on_both_sides_with_bad_record_mac(wrong_side, dtls_log):
    # The server cannot decrypt the client's Finished, nor its retransmission: it sends a
    # fatal bad_record_mac (RFC 6347 4.1.2.7) and both sides end in STATUS_ERROR long
    # before the 123 s handshake timeout, which both sides keep here.
    other_key = b"\x42" * 16
    server_key, client_key = (
        (PSK_KEY, other_key) if wrong_side == "client" else (other_key, PSK_KEY)
    )
    server = EchoServer(TLSOptions.server_psk({"player-1": server_key}))
    udp = PacketPeerUDP()
    assert udp.connect_to_host("127.0.0.1", server.port) == Error.OK
    client = PacketPeerDTLS()
    server_side: list[PacketPeerDTLS] = []

    def server_step() -> None:
        server.poll()
        server_side.extend(p for p in server.peers if p not in server_side)

    def both_ended() -> bool:
        return (
            client.get_status() is not Status.HANDSHAKING
            and bool(server_side)
            and all(p.get_status() is not Status.HANDSHAKING for p in server_side)
        )

    try:
        started = time.monotonic()
        options = TLSOptions.client_psk("player-1", client_key)
        assert client.connect_to_peer(udp, "", options) == Error.OK
        ended = poll_until(
            server_step,
            client,
            until=both_ended,
            timeout=WRONG_KEY_DEADLINE,
            fds=[udp.fileno(), server.fileno()],
        )
        print(
            f"\nwrong PSK ({wrong_side} side): ended={ended} after "
            f"{time.monotonic() - started:.2f} s"
        )
        assert ended, (client.get_status(), [p.get_status() for p in server_side])
        assert client.get_status() is Status.ERROR
        assert "bad_record_mac" in client.get_last_error_message()
        assert "pre-shared key" in client.get_last_error_message()
        (server_peer,) = server_side
        assert server_peer.get_status() is Status.ERROR
        assert "did not decrypt" in server_peer.get_last_error_message()
        assert server_peer.get_stats()["alerts_sent"] == ["bad_record_mac"]
        assert client.get_stats()["alerts_received"] == ["bad_record_mac"]
    finally:
        server.stop()


def test_bad_records_after_the_handshake_are_still_dropped_silently():
    # Only a handshake ends on a Finished that does not decrypt; once connected, records
    # failing their MAC are dropped and the connection stays up (RFC 6347 4.1.2.7).
    server = EchoServer(TLSOptions.server_psk({"player-1": PSK_KEY}))
    try:
        peer = connect(server, TLSOptions.client_psk("player-1", PSK_KEY))
        assert peer.get_status() is Status.CONNECTED
        connection = peer.get_connection()
        assert connection is not None
        for index in range(5):
            connection.send(b"tampered %d" % index)
            (record,) = connection.datagrams_to_send()
            forged = bytearray(record)
            forged[-1] ^= 0x55  # the AEAD tag no longer matches
            assert peer.udp.put_packet(bytes(forged)) == Error.OK
        assert echo(peer, server, b"still up") == b"still up"
        assert peer.get_status() is Status.CONNECTED
        assert all(p.get_status() is Status.CONNECTED for p in server.peers)
    finally:
        server.stop()


#: Exactly the PSK suites offered, in order: ECDHE-PSK with AEAD (forward secrecy)
#: first, plain PSK with AEAD after it for peers without ECDHE-PSK; never CBC.
ALLOWED_PSK_SUITES = [
    "ECDHE-PSK-CHACHA20-POLY1305",
    "PSK-AES128-GCM-SHA256",
    "PSK-AES256-GCM-SHA384",
    "PSK-CHACHA20-POLY1305",
]


def test_psk_contexts_offer_exactly_the_aead_suites_ecdhe_psk_first():
    from OpenSSL import SSL

    from godot_dtls.api.context import client_context, server_context
    from godot_dtls.core.cookies import CookieJar

    for context in (
        client_context(TLSOptions.client_psk("player-1", PSK_KEY)),
        server_context(TLSOptions.server_psk({"player-1": PSK_KEY}), CookieJar()),
    ):
        offered = SSL.Connection(context, None).get_cipher_list()
        # TLS 1.3 suites (TLS_*) are listed by OpenSSL but never offered: DTLS 1.2 only.
        assert [name for name in offered if not name.startswith("TLS_")] == ALLOWED_PSK_SUITES


def test_psk_peers_of_this_package_agree_on_ecdhe_psk_with_aead():
    server = EchoServer(TLSOptions.server_psk({"player-1": PSK_KEY}))
    try:
        peer = connect(server, TLSOptions.client_psk("player-1", PSK_KEY))
        assert peer.get_status() is Status.CONNECTED
        assert peer.get_stats()["cipher"] == "ECDHE-PSK-CHACHA20-POLY1305"
        assert server.peers[0].get_stats()["cipher"] == "ECDHE-PSK-CHACHA20-POLY1305"
    finally:
        server.stop()


PSK_CBC_SUITES = [
    "ECDHE-PSK-AES128-CBC-SHA256",
    "ECDHE-PSK-AES256-CBC-SHA384",
    "PSK-AES128-CBC-SHA256",
]


@pytest.mark.interop
@pytest.mark.parametrize("suite", PSK_CBC_SUITES)
def test_psk_server_refuses_an_openssl_client_offering_only_a_cbc_suite(suite):
    require("openssl")
    from support.openssl_peer import s_client_process

    server = EchoServer(TLSOptions.server_psk({"player-1": PSK_KEY}))
    statuses: list[Status] = []
    server.on_status = lambda _peer, status: statuses.append(status)
    extra = ["-psk", PSK_KEY.hex(), "-psk_identity", "player-1", "-cipher", suite]
    try:
        with s_client_process(
            server.port, servername=None, verify_hostname=None, extra=extra
        ) as client:
            client.close_stdin()  # s_client leaves at end of input, after any handshake
            client.wait(10, on_wait=server.poll)
        assert Status.CONNECTED not in statuses, client.output()
        assert not any(f"Cipher is {suite}" in line for line in client.stdout_lines)
        assert any("handshake failure" in line for line in client.lines()), client.output()
    finally:
        server.stop()


@pytest.mark.interop
@pytest.mark.parametrize("suite", PSK_CBC_SUITES)
def test_psk_client_refuses_an_openssl_server_offering_only_a_cbc_suite(pki, suite):
    require("openssl")
    extra = ["-psk", PSK_KEY.hex(), "-psk_identity", "player-1", "-nocert", "-cipher", suite]
    with start_s_server(pki.cert_path, pki.key_path, extra=extra) as s_server:
        udp = PacketPeerUDP()
        assert udp.connect_to_host("127.0.0.1", s_server.port) == Error.OK
        peer = PacketPeerDTLS()
        assert peer.connect_to_peer(udp, "", TLSOptions.client_psk("player-1", PSK_KEY)) == 0
        poll_until(
            peer,
            until=lambda: peer.get_status() is not Status.HANDSHAKING,
            timeout=10,
            fds=[udp.fileno()],
        )
        assert peer.get_status() is Status.ERROR, s_server.output()


@pytest.mark.interop
def test_psk_client_against_openssl_s_server(pki):
    require("openssl")
    extra = ["-psk", PSK_KEY.hex(), "-psk_identity", "player-1", "-nocert"]
    with start_s_server(pki.cert_path, pki.key_path, extra=extra) as s_server:
        udp = PacketPeerUDP()
        assert udp.connect_to_host("127.0.0.1", s_server.port) == Error.OK
        peer = PacketPeerDTLS()
        assert peer.connect_to_peer(udp, "", TLSOptions.client_psk("player-1", PSK_KEY)) == 0
        poll_until(
            peer,
            until=lambda: peer.get_status() is not Status.HANDSHAKING,
            timeout=10,
            fds=[udp.fileno()],
        )
        assert peer.get_status() is Status.CONNECTED, s_server.output()
        assert peer.put_packet(b"hello openssl psk\n") == Error.OK
        s_server.wait_for("hello openssl psk", 5)


@pytest.mark.interop
def test_psk_client_against_gnutls_serv(tmp_path):
    require("gnutls-serv")
    passwd = write_psk_passwd(tmp_path / "psk.passwd", [("player-1", PSK_KEY)])
    priority = "NORMAL:+ECDHE-PSK:+PSK"
    with start_gnutls_serv(pskpasswd=passwd, priority=priority) as gnutls_serv:
        udp = PacketPeerUDP()
        assert udp.connect_to_host("127.0.0.1", gnutls_serv.port) == Error.OK
        peer = PacketPeerDTLS()
        assert peer.connect_to_peer(udp, "", TLSOptions.client_psk("player-1", PSK_KEY)) == 0
        fds = [udp.fileno()]
        poll_until(
            peer, until=lambda: peer.get_status() is not Status.HANDSHAKING, timeout=10, fds=fds
        )
        assert peer.get_status() is Status.CONNECTED
        assert "PSK" in peer.get_stats()["cipher"]
        assert peer.put_packet(b"gnutls psk") == Error.OK
        poll_until(peer, until=lambda: peer.get_available_packet_count() > 0, timeout=5, fds=fds)
        assert peer.get_packet() == b"gnutls psk"
        peer.disconnect_from_peer()


# ----------------------------------------------------------------------------- resumption


def test_second_connection_resumes_the_session(pki):
    server = EchoServer(
        TLSOptions.server(pki.server_key(), pki.server_chain(), session_resumption=True)
    )
    options = TLSOptions.client(pki.ca_certificate(), session_resumption=True)
    try:
        timings = []
        resumed = []
        for _ in range(3):
            started = time.perf_counter()
            peer = connect(server, options)
            timings.append((time.perf_counter() - started) * 1000)
            assert peer.get_status() is Status.CONNECTED
            resumed.append(peer.is_session_resumed())
            assert echo(peer, server, b"x") == b"x"
            peer.disconnect_from_peer()
        assert resumed == [False, True, True]
        print(f"\nhandshake ms: full {timings[0]:.2f}, resumed {timings[1]:.2f} / {timings[2]:.2f}")
    finally:
        server.stop()


def test_no_resumption_unless_both_sides_ask(pki, server):
    options = TLSOptions.client(pki.ca_certificate(), session_resumption=True)
    first = connect(server, options)
    first.disconnect_from_peer()
    second = connect(server, options)
    assert second.get_status() is Status.CONNECTED
    assert not second.is_session_resumed()


@pytest.mark.interop
def test_openssl_s_client_resumes_with_our_server(pki, tmp_path):
    openssl = require("openssl")
    server = EchoServer(
        TLSOptions.server(pki.server_key(), pki.server_chain(), session_resumption=True)
    )
    session_file = tmp_path / "session.pem"
    outputs = []
    with serving(server):
        for session_args in (["-sess_out", str(session_file)], ["-sess_in", str(session_file)]):
            done = subprocess.run(
                [
                    openssl,
                    "s_client",
                    "-dtls1_2",
                    "-connect",
                    f"127.0.0.1:{server.port}",
                    "-CAfile",
                    str(pki.ca_path),
                    "-servername",
                    "localhost",
                    *session_args,
                ],
                input=b"",
                capture_output=True,
                timeout=20,
            )
            outputs.append(done.stdout.decode(errors="replace"))
    assert "New, TLSv1.2" in outputs[0], outputs[0]
    assert "Reused, TLSv1.2" in outputs[1], outputs[1]


# ----------------------------------------------------------------------------- SNI


def test_server_picks_the_certificate_by_server_name(pki, other_pki):
    other_cert = other_pki.ca.issue_cert("other.test")
    sni = {
        "other.test": (
            CryptoKey.from_pem(other_cert.private_key_pem.bytes()),
            X509Certificate.from_pem(other_cert.cert_chain_pems[0].bytes()),
        )
    }
    server = EchoServer(TLSOptions.server(pki.server_key(), pki.server_chain(), sni=sni))
    try:
        named = connect(server, other_pki.client_options(), hostname="other.test")
        assert named.get_status() is Status.CONNECTED
        default = connect(server, pki.client_options(), hostname="localhost")
        assert default.get_status() is Status.CONNECTED
        mismatched = connect(server, pki.client_options(), hostname="other.test")
        assert mismatched.get_status() is Status.ERROR  # other.test's CA is not trusted
    finally:
        server.stop()


# ----------------------------------------------------------------------------- ALPN


def test_alpn_agrees_on_the_servers_preference(pki):
    server = EchoServer(
        TLSOptions.server(pki.server_key(), pki.server_chain(), alpn=["game/2", "game/1"])
    )
    try:
        peer = connect(server, TLSOptions.client(pki.ca_certificate(), alpn=["game/1", "game/2"]))
        assert peer.get_status() is Status.CONNECTED
        assert peer.get_alpn_protocol() == "game/2"
        plain = connect(server, pki.client_options())
        assert plain.get_alpn_protocol() == ""
        disjoint = connect(server, TLSOptions.client(pki.ca_certificate(), alpn=["chat/1"]))
        assert disjoint.get_alpn_protocol() == ""
    finally:
        server.stop()


@pytest.mark.interop
def test_alpn_with_openssl_s_server(pki):
    require("openssl")
    with start_s_server(pki.cert_path, pki.key_path, extra=["-alpn", "game/1"]) as s_server:
        udp = PacketPeerUDP()
        assert udp.connect_to_host("127.0.0.1", s_server.port) == Error.OK
        peer = PacketPeerDTLS()
        options = TLSOptions.client(pki.ca_certificate(), alpn=["game/1"])
        assert peer.connect_to_peer(udp, "localhost", options) == Error.OK
        poll_until(
            peer,
            until=lambda: peer.get_status() is not Status.HANDSHAKING,
            timeout=10,
            fds=[udp.fileno()],
        )
        assert peer.get_status() is Status.CONNECTED
        assert peer.get_alpn_protocol() == "game/1"


# ----------------------------------------------------------------------------- key log


def test_key_log_is_written_only_when_asked(pki, server, tmp_path, monkeypatch):
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    quiet = connect(server, pki.client_options())
    assert quiet.get_status() is Status.CONNECTED
    assert not list(tmp_path.iterdir())

    log_file = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(log_file))
    peer = connect(server, pki.client_options())  # new options object: env read anew
    assert peer.get_status() is Status.CONNECTED
    lines = log_file.read_text().splitlines()
    assert lines and all(line.startswith("CLIENT_RANDOM ") for line in lines)
    client_random = peer.get_connection().ssl.client_random().hex()
    assert any(client_random in line.lower() for line in lines)

    explicit = tmp_path / "explicit.log"
    monkeypatch.delenv("SSLKEYLOGFILE")
    options = TLSOptions.client(pki.ca_certificate(), key_log_file=str(explicit))
    assert connect(server, options).get_status() is Status.CONNECTED
    assert Path(explicit).read_text().startswith("CLIENT_RANDOM ")


# ----------------------------------------------------------------------------- stats


def test_stats_report_traffic_and_negotiated_parameters(pki, server):
    peer = connect(server, pki.client_options())
    for size in (10, 100, 1000):
        assert echo(peer, server, b"s" * size) == b"s" * size
    stats = peer.get_stats()
    assert stats["version"] == "DTLSv1.2"
    assert "GCM" in stats["cipher"] or "CHACHA" in stats["cipher"]
    assert stats["group"]
    assert stats["handshake_time"] is not None and stats["handshake_time"] >= 0
    assert stats["packets_sent"] == 3 and stats["packets_received"] == 3
    assert stats["datagrams_sent"] >= 5 and stats["bytes_sent"] > 1110
    assert stats["session_resumed"] is False
    peer.disconnect_from_peer()
    assert peer.get_stats()["alerts_sent"] == ["close_notify"]


def test_stats_count_alerts_received_on_failure(other_pki, server, caplog):
    caplog.set_level(logging.ERROR, logger="godot_dtls")
    peer = connect(server, other_pki.client_options())
    assert peer.get_status() is Status.ERROR
    assert peer.get_stats()["alerts_sent"]  # the client told the server why


def test_dtls_server_setup_rejects_psk_and_certificate_mismatch(pki, other_pki):
    assert DTLSServer().setup(TLSOptions.server_psk({"a": b"k"})) == Error.OK
    mismatched = TLSOptions.server(other_pki.server_key(), pki.server_chain())
    assert DTLSServer().setup(mismatched) == Error.ERR_INVALID_PARAMETER
