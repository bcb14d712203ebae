"""The contract every engine adapter keeps, checked in each runtime through its stand-in.

Each test runs three times: against godot-python 0.50 (Godot 3), godot-python-extension
(maiself) and py4godot, each adapter loaded the way its runtime loads it
(``tests/support/adapter_runtimes.py``). Everything under the adapters is real: DTLS with
godot_dtls over real UDP sockets on 127.0.0.1, against an EchoServer or a godot_dtls
client. Every wait is a deadline-bounded poll loop. Runtime-specific behaviour is in
``test_adapters_<runtime>.py``.
"""

from __future__ import annotations

import datetime
import inspect
import os
from pathlib import Path
from typing import Any, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from godot_dtls import Error, Status, TLSOptions
from godot_dtls.api.crypto import Crypto
from godot_dtls.core.verification import pin_text, spki_sha256
from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    INVALID,
    OK,
    SIZES,
    AdapterEchoServer,
    Runtime,
    client_options,
    connect_udp,
    connected_peer,
    echo_round_trip,
    echo_server,
    handshake,
    pump,
    server_options,
    to_python,
)

# ---------------------------------------------------------------------------- behaviour


def test_handshake_echo_and_disconnect(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    statuses = rt.watch_status(peer)
    assert rt.call(peer, "get_status") == Status.DISCONNECTED
    assert rt.call(peer, "connect_to_peer", udp, "localhost", client_options(pki)) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.CONNECTED
    for size in SIZES:
        echo_round_trip(rt, peer, echo, size)
    assert rt.call(peer, "disconnect_from_peer") == OK
    assert rt.status(peer) == Status.DISCONNECTED
    assert statuses == [Status.HANDSHAKING, Status.CONNECTED, Status.DISCONNECTED]
    assert str(rt.call(peer, "get_backend")) == rt.backend
    assert str(rt.call(peer, "get_last_error_message")) == ""
    assert pump(rt, [], lambda: not echo.peers, echo)  # the close_notify reached the server


def test_wrong_hostname_ends_in_status_4(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    udp = connect_udp(rt, echo.port)
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "connect_to_peer", udp, "wrong.example", client_options(pki)) == OK
    assert pump(rt, [peer], lambda: rt.status(peer) != Status.HANDSHAKING, echo)
    assert rt.status(peer) == Status.ERROR_HOSTNAME_MISMATCH
    assert str(rt.call(peer, "get_last_error_message"))
    assert any("godot_dtls:" in line for line in rt.errors())  # the library's log, forwarded


def test_common_name_override_and_unsafe_mode(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    by_override = connected_peer(
        rt, echo, "game.example", client_options(pki, common_name_override="localhost")
    )
    echo_round_trip(rt, by_override, echo, 64)
    unsafe = connected_peer(rt, echo, "anything", {"mode": "client_unsafe"})
    echo_round_trip(rt, unsafe, echo, 64)


def test_bad_arguments_return_error_codes(rt: Runtime, pki: Any) -> None:
    udp = connect_udp(rt, 9)  # never sent to: every call below fails before that
    peer = rt.new(rt.peer_cls)
    server = rt.new(rt.server_cls)
    cases = [
        (peer, "connect_to_peer", (42, "localhost", client_options(pki)), "udp must be"),
        (peer, "connect_to_peer", (None, "localhost", None), "udp must be"),
        (peer, "connect_to_peer", (udp, "localhost", "not a dictionary"), "Dictionary"),
        (peer, "connect_to_peer", (udp, "localhost", [1, 2]), "Dictionary"),
        (peer, "connect_to_peer", (udp, "localhost", {"trusted_chain_pem": "junk"}), "PEM"),
        (peer, "connect_to_peer", (udp, "localhost", {"mode": "server"}), "mode"),
        (peer, "connect_to_peer", (udp, "localhost", {"trusted_chain_pem": 7}), "String"),
        (peer, "put_packet", ("text",), "byte array"),
        (peer, "put_packet", (None,), "byte array"),
        (peer, "accept_connection", ("1", udp), "server_id"),
        (peer, "accept_connection", (10**9, udp), "no PyDTLSServer"),
        (server, "setup", (7,), "Dictionary"),
        (server, "setup", ({"key_pem": "junk"},), "certificate_pem"),
        (server, "setup", ({**server_options(pki), "key_pem": "junk"},), "key_pem"),
    ]
    cases.append((peer, "connect_to_peer", (udp, 42, None), "hostname must be a String"))
    for obj, name, args, expected in cases:
        assert rt.call(obj, name, *args) == INVALID, (name, args)
        message = str(rt.call(obj, "get_last_error_message"))
        assert expected in message, (name, args, message)
        assert any(expected in line for line in rt.errors()), (name, args)
    assert rt.status(peer) == Status.DISCONNECTED


def test_library_errors_reach_the_runtime_log(rt: Runtime) -> None:
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "put_packet", rt.make_bytes(b"early")) == int(Error.ERR_UNCONFIGURED)
    assert any("not connected" in line for line in rt.errors())


def test_unexpected_exceptions_give_failed_with_a_traceback(rt: Runtime) -> None:
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "get_status") == Status.DISCONNECTED  # the core exists now

    def broken(*args: Any) -> Any:
        raise RuntimeError("broken inside")

    library_peer = peer._dtls_core._peer
    library_peer.poll = library_peer.get_status = library_peer.get_packet = broken
    assert rt.call(peer, "poll") == int(Error.FAILED)
    assert "RuntimeError: broken inside" in str(rt.call(peer, "get_last_error_message"))
    assert any("Traceback" in line for line in rt.errors())
    assert rt.call(peer, "get_status") == Status.ERROR
    packet = rt.call(peer, "get_packet")
    assert isinstance(packet, rt.byte_array_type) and rt.read_bytes(packet) == b""


ENGINE_OBJECT = object()


@pytest.mark.parametrize("junk", [42, "junk", None, 1.5, True, [1, 2], {"a": 1}, ENGINE_OBJECT])
def test_every_exposed_method_survives_junk(rt: Runtime, junk: Any) -> None:
    """No argument value a script can pass makes an exception escape or a bad return."""
    engine_object = junk is ENGINE_OBJECT
    if engine_object:
        junk = rt.make_udp()  # an engine Reference that is not connected
    for cls in (rt.peer_cls, rt.server_cls):
        names = [name for name in rt.exposed_methods(cls) if not name.startswith("__")]
        assert {"get_backend", "get_last_error_message"} <= set(names)
        for name in names:
            obj = rt.new(cls)
            parameters = list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
            rt.call(obj, name, *[junk] * len(parameters))


def test_server_adapter_accepts_a_godot_dtls_client(rt: Runtime, pki: Any) -> None:
    serving = AdapterEchoServer(rt, server_options(pki))
    client = serving.connect(pki.client_options())
    assert client.get_status() == Status.CONNECTED
    assert serving.takes == [Status.ERROR, Status.HANDSHAKING]  # cookie exchange, then retry
    for size in SIZES:
        payload = os.urandom(size)
        assert client.put_packet(payload) == Error.OK
        assert pump(rt, [], lambda: client.get_available_packet_count() > 0, client, serving)
        assert client.get_packet() == payload
    client.disconnect_from_peer()
    assert pump(rt, [], lambda: rt.status(serving.peers[0]) == Status.DISCONNECTED, serving)
    serving.stop()


# ---------------------------------------------------------------- beyond the engine

PSK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
RESUME: dict[str, Any] = {"session_resumption": True}


def leaf_pin(pki: Any) -> str:
    return pin_text(spki_sha256(pki.server_chain().certificates[0]))


def make_crl(ca: Any, revoked_serials: Sequence[int], next_update_in: float = 86400.0) -> str:
    """A PEM CRL signed by the trustme CA ``ca``, revoking ``revoked_serials``."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(days=2))
        .next_update(now + datetime.timedelta(seconds=next_update_in))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=1))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_pins_accept_the_server_key_and_refuse_others(
    rt: Runtime, pki: Any, echo: EchoServer
) -> None:
    ca_pin_hex = spki_sha256(pki.ca_certificate().certificates[0]).hex()
    as_array = client_options(pki, pinned_spki_sha256=[leaf_pin(pki)])
    peer = handshake(rt, echo.port, "localhost", as_array, echo)
    assert rt.status(peer) == Status.CONNECTED
    echo_round_trip(rt, peer, echo, 64)
    packed = {**client_options(pki), "pinned_spki_sha256": rt.make_string_array([ca_pin_hex])}
    assert rt.status(handshake(rt, echo.port, "localhost", packed, echo)) == Status.CONNECTED

    wrong = client_options(pki, pinned_spki_sha256=[(b"\x01" * 32).hex()])
    refused = handshake(rt, echo.port, "localhost", wrong, echo)
    assert rt.status(refused) == Status.ERROR
    message = str(rt.call(refused, "get_last_error_message"))
    assert "no pinned key" in message and leaf_pin(pki) in message  # names the keys seen
    assert any("no pinned key" in line for line in rt.errors())


def test_pin_alone_trusts_a_self_signed_server(rt: Runtime) -> None:
    crypto = Crypto()
    key = crypto.generate_ec()
    certificate = crypto.generate_self_signed_certificate(key, "CN=game-server")
    pin = pin_text(spki_sha256(certificate.certificates[0]))
    with echo_server(TLSOptions.server(key, certificate)) as server:
        options = {"mode": "client_unsafe", "pinned_spki_sha256": [pin]}
        peer = handshake(rt, server.port, "game.example", options, server)
        assert rt.status(peer) == Status.CONNECTED
        echo_round_trip(rt, peer, server, 1200)


def test_revocation_lists(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    serial = pki.server_chain().certificates[0].serial_number
    clean = client_options(pki, crls_pem=[make_crl(pki.ca, [])])
    assert rt.status(handshake(rt, echo.port, "localhost", clean, echo)) == Status.CONNECTED
    revoking = client_options(pki, crls_pem=[make_crl(pki.ca, [serial])])
    revoked = handshake(rt, echo.port, "localhost", revoking, echo)
    assert rt.status(revoked) == Status.ERROR
    assert "revoked" in str(rt.call(revoked, "get_last_error_message"))
    stale = [make_crl(pki.ca, [], next_update_in=-3600)]
    hard = handshake(rt, echo.port, "localhost", client_options(pki, crls_pem=stale), echo)
    assert rt.status(hard) == Status.ERROR
    soft_options = {**client_options(pki, crls_pem=stale), "crl_soft_fail": True}
    soft = handshake(rt, echo.port, "localhost", soft_options, echo)
    assert rt.status(soft) == Status.CONNECTED


def test_alpn_is_agreed_and_the_key_log_written(
    rt: Runtime, pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    key_log = tmp_path / "keys.log"
    tls = TLSOptions.server(pki.server_key(), pki.server_chain(), alpn=["game/2", "game/1"])
    with echo_server(tls) as server:
        options = client_options(pki, alpn=["game/1", "game/2"], key_log_file=str(key_log))
        peer = handshake(rt, server.port, "localhost", options, server)
        assert rt.status(peer) == Status.CONNECTED
        protocol = rt.call(peer, "get_alpn_protocol")
        assert str(protocol) == "game/2"
        assert to_python(rt.call(peer, "get_stats"))["alpn"] == "game/2"
        assert key_log.read_text().startswith("CLIENT_RANDOM ")
        plain = handshake(rt, server.port, "localhost", client_options(pki), server)
        assert str(rt.call(plain, "get_alpn_protocol")) == ""


def test_second_connection_resumes_the_session(rt: Runtime, pki: Any) -> None:
    tls = TLSOptions.server(pki.server_key(), pki.server_chain(), session_resumption=True)
    with echo_server(tls) as server:
        resumed = []
        for _ in range(2):  # a new adapter peer and a new, equal options Dictionary each time
            peer = handshake(rt, server.port, "localhost", client_options(pki, **RESUME), server)
            assert rt.status(peer) == Status.CONNECTED
            flag = rt.call(peer, "is_session_resumed")
            assert type(flag) is bool
            resumed.append(flag)
            assert to_python(rt.call(peer, "get_stats"))["session_resumed"] is flag
            echo_round_trip(rt, peer, server, 64)
            assert rt.call(peer, "disconnect_from_peer") == OK
        assert resumed == [False, True]
        without = handshake(rt, server.port, "localhost", client_options(pki), server)
        assert rt.call(without, "is_session_resumed") is False


def test_psk_client_through_the_options_dictionary(rt: Runtime) -> None:
    with echo_server(TLSOptions.server_psk({"player-1": PSK_KEY})) as server:
        options = {"mode": "client_psk", "psk_identity": "player-1", "psk_key_hex": PSK_KEY.hex()}
        peer = handshake(rt, server.port, "", options, server)
        assert rt.status(peer) == Status.CONNECTED, str(rt.call(peer, "get_last_error_message"))
        echo_round_trip(rt, peer, server, 1200)
        assert "PSK" in to_python(rt.call(peer, "get_stats"))["cipher"]


def test_equal_option_dictionaries_share_one_tls_options(rt: Runtime, pki: Any) -> None:
    """godot_dtls keys its OpenSSL contexts and resumable sessions by TLSOptions object."""
    from godot_dtls.engine import options as bridge

    runtime = rt.peer_module.RUNTIME
    first = bridge.client_options(client_options(pki, alpn=["game/1"]), runtime)
    assert first is bridge.client_options(client_options(pki, alpn=["game/1"]), runtime)
    assert first is not bridge.client_options(client_options(pki, alpn=["game/2"]), runtime)
    assert bridge.client_options({"mode": "client"}, runtime) is None  # the shared default
    for index in range(bridge.OPTIONS_CACHE_SIZE):
        bridge.client_options(client_options(pki, common_name_override=f"h{index}"), runtime)
    assert len(bridge._options_cache) == bridge.OPTIONS_CACHE_SIZE  # bounded


def test_stats_are_a_dictionary_of_plain_values(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    peer = rt.new(rt.peer_cls)
    before = rt.call(peer, "get_stats")
    assert isinstance(before, rt.dictionary_type) and to_python(before) == {}
    assert rt.call(peer, "is_session_resumed") is False
    assert str(rt.call(peer, "get_alpn_protocol")) == ""
    peer = connected_peer(rt, echo, "localhost", client_options(pki))
    echo_round_trip(rt, peer, echo, 100)
    stats = rt.call(peer, "get_stats")
    assert isinstance(stats, rt.dictionary_type)
    plain = to_python(stats)
    assert plain["version"] == "DTLSv1.2"
    assert "GCM" in plain["cipher"] or "CHACHA" in plain["cipher"]
    assert plain["packets_sent"] == 1 and plain["packets_received"] == 1
    assert plain["bytes_sent"] > 100 and plain["handshake_time"] >= 0
    assert plain["session_resumed"] is False and plain["alpn"] == ""
    assert rt.call(peer, "disconnect_from_peer") == OK
    assert to_python(rt.call(peer, "get_stats"))["alerts_sent"] == ["close_notify"]


def test_stats_fall_back_to_an_empty_dictionary(rt: Runtime) -> None:
    peer = rt.new(rt.peer_cls)
    assert rt.call(peer, "get_status") == Status.DISCONNECTED  # the core exists now

    def broken(*args: Any) -> Any:
        raise RuntimeError("broken inside")

    library_peer = peer._dtls_core._peer
    library_peer.get_stats = library_peer.is_session_resumed = broken
    library_peer.get_alpn_protocol = broken
    stats = rt.call(peer, "get_stats")
    assert isinstance(stats, rt.dictionary_type) and to_python(stats) == {}
    assert rt.call(peer, "is_session_resumed") is False
    assert str(rt.call(peer, "get_alpn_protocol")) == ""
    assert "broken inside" in str(rt.call(peer, "get_last_error_message"))


def test_bad_extension_values_give_invalid_parameter(rt: Runtime, pki: Any) -> None:
    udp = connect_udp(rt, 9)  # never sent to: every call below fails before that
    peer = rt.new(rt.peer_cls)
    pin = leaf_pin(pki)
    psk = {"mode": "client_psk", "psk_identity": "player-1", "psk_key_hex": PSK_KEY.hex()}
    client_cases = [
        (client_options(pki, pinned_spki_sha256=["xyz"]), "not a SHA-256 SPKI pin"),
        (client_options(pki, pinned_spki_sha256=pin), "must be an Array of Strings"),
        (client_options(pki, alpn="game/1"), 'options["alpn"] must be an Array of Strings'),
        (client_options(pki, alpn=42), "Array of Strings, got int"),
        (client_options(pki, alpn=[""]), "ALPN names are 1 to 255 bytes"),
        (client_options(pki, alpn=[7]), 'options["alpn"][0] must be a String'),
        (client_options(pki, session_resumption="yes"), "must be a bool"),
        (client_options(pki, crl_soft_fail=1), "must be a bool"),
        (client_options(pki, crls_pem=["junk"]), 'options["crls_pem"][0]'),
        (client_options(pki, key_log_file="user://keys.log"), "globalize_path"),
        (client_options(pki, key_log_file=7), "must be a String"),
        (client_options(pki, pins=[pin]), 'unknown key "pins"'),
        ({"mode": "client_unsafe", "crls_pem": ["x"]}, 'cannot be used in mode "client_unsafe"'),
        ({**psk, "pinned_spki_sha256": [pin]}, 'cannot be used in mode "client_psk"'),
        ({**psk, "session_resumption": True}, 'cannot be used in mode "client_psk"'),
        ({**psk, "psk_key_hex": "zz"}, "hex digits"),
        ({**psk, "psk_key_hex": ""}, 'options["psk_key_hex"] is missing'),
        ({**psk, "psk_identity": ""}, 'options["psk_identity"] is missing'),
        ({"mode": "psk"}, 'options["mode"] must be'),
        (client_options(pki, idle_timeout="5"), 'options["idle_timeout"] must be a number'),
        (client_options(pki, idle_timeout=True), "must be a number, got bool"),
        (client_options(pki, idle_timeout=-1.0), "must be finite seconds"),
        (client_options(pki, idle_timeout=float("nan")), "must be finite seconds"),
        ({**psk, "idle_timeout": float("inf")}, "must be finite seconds"),
    ]
    for options, expected in client_cases:
        assert rt.call(peer, "connect_to_peer", udp, "localhost", options) == INVALID, options
        message = str(rt.call(peer, "get_last_error_message"))
        assert expected in message, (options, message)
        assert any(expected in line for line in rt.errors()), options
    assert rt.status(peer) == Status.DISCONNECTED

    plain = server_options(pki)
    server_cases = [
        ({"mode": "server_psk"}, 'options["psk_keys_hex"] is missing'),
        ({"mode": "server_psk", "psk_keys_hex": {"a": "xyz"}}, '["psk_keys_hex"]["a"]'),
        ({"mode": "server_psk", "psk_keys_hex": ["a"]}, "must be a Dictionary"),
        ({**plain, "sni": "other.test"}, 'options["sni"] must be a Dictionary'),
        ({**plain, "sni": {"other.test": {"key_pem": "junk"}}}, '["certificate_pem"] is missing'),
        ({**plain, "sni": {"": plain}}, "empty server name"),
        ({**plain, "sni": {"o": {**plain, "alpn": ["x"]}}}, 'unknown key "alpn"'),
        ({**plain, "alpn": 5}, "Array of Strings"),
        ({**plain, "psk_keys_hex": {"a": "00"}}, 'cannot be used in mode "server"'),
        ({**plain, "mode": "client"}, 'options["mode"] must be "server" or "server_psk"'),
        ({**plain, "idle_timeout": -2}, 'options["idle_timeout"] must be finite seconds'),
        ({**plain, "idle_timeout": "2"}, "must be a number"),
    ]
    for options, expected in server_cases:
        server = rt.new(rt.server_cls)
        assert rt.call(server, "setup", options) == INVALID, options
        message = str(rt.call(server, "get_last_error_message"))
        assert expected in message, (options, message)


def test_idle_timeout_from_the_options_dictionary(rt: Runtime, pki: Any, echo: EchoServer) -> None:
    """``idle_timeout`` (any mode, both sides): a connected peer whose other side goes
    silent ends DISCONNECTED with the reason; the silent side is simply never polled."""
    client = handshake(rt, echo.port, "localhost", client_options(pki, idle_timeout=0.3), echo)
    assert rt.status(client) == Status.CONNECTED
    assert pump(rt, [client], lambda: rt.status(client) == Status.DISCONNECTED)
    assert "idle_timeout" in str(rt.call(client, "get_last_error_message"))

    serving = AdapterEchoServer(rt, {**server_options(pki), "idle_timeout": 0.3})
    godot_dtls_client = serving.connect(pki.client_options())  # never polled again: silent
    server_side = serving.peers[0]
    assert rt.status(server_side) == Status.CONNECTED
    assert pump(rt, [], lambda: rt.status(server_side) == Status.DISCONNECTED, serving)
    assert "idle_timeout" in str(rt.call(server_side, "get_last_error_message"))
    assert godot_dtls_client.get_status() == Status.CONNECTED
    serving.stop()


def test_server_adapter_with_sni_alpn_and_resumption(rt: Runtime, pki: Any, other_pki: Any) -> None:
    other = other_pki.ca.issue_cert("other.test")
    options = {
        **server_options(pki),
        "sni": {
            "other.test": {
                "key_pem": other.private_key_pem.bytes().decode("ascii"),
                "certificate_pem": other.cert_chain_pems[0].bytes().decode("ascii"),
            }
        },
        "alpn": ["game/1"],
        "session_resumption": True,
    }
    serving = AdapterEchoServer(rt, options)
    try:
        named = serving.connect(other_pki.client_options(), hostname="other.test")
        assert named.get_status() == Status.CONNECTED  # only other.test's certificate passes
        tls = TLSOptions.client(pki.ca_certificate(), alpn=["game/1"], session_resumption=True)
        resumed = []
        for _ in range(2):
            client = serving.connect(tls)
            assert client.get_status() == Status.CONNECTED
            assert client.get_alpn_protocol() == "game/1"
            resumed.append(client.is_session_resumed())
            assert pump(rt, [], lambda: rt.status(serving.peers[-1]) == Status.CONNECTED, serving)
            assert str(rt.call(serving.peers[-1], "get_alpn_protocol")) == "game/1"
            server_stats = to_python(rt.call(serving.peers[-1], "get_stats"))
            assert server_stats["alpn"] == "game/1"
            client.disconnect_from_peer()
        assert resumed == [False, True]
    finally:
        serving.stop()


def test_server_adapter_with_psk(rt: Runtime) -> None:
    options = {
        "mode": "server_psk",
        "psk_keys_hex": {"player-1": PSK_KEY.hex()},
        "psk_identity_hint": "game",
    }
    serving = AdapterEchoServer(rt, options)
    try:
        client = serving.connect(TLSOptions.client_psk("player-1", PSK_KEY), hostname="")
        assert client.get_status() == Status.CONNECTED
        assert client.put_packet(b"psk data") == Error.OK
        assert pump(rt, [], lambda: client.get_available_packet_count() > 0, client, serving)
        assert client.get_packet() == b"psk data"
        stranger = serving.connect(TLSOptions.client_psk("stranger", PSK_KEY), hostname="")
        assert stranger.get_status() == Status.ERROR
    finally:
        serving.stop()
