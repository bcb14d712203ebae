"""Bad arguments fail early and clearly, over the whole public API (property-based).

The rule (README, "Arguments"): every method that returns an ``Error`` in Godot returns
one for wrong types and values too, with a logged message (and
``get_last_error_message()`` where the object has one), never an exception. Methods
that return something else do not raise either. Constructors, factories and Python
attributes raise ``TypeError`` or ``ValueError`` naming the argument, at that call, and
whatever they accept works afterwards: nothing is accepted that fails later.

The values come from many types at once: None, bools, ints (huge and negative), floats
(nan, inf), strings (NUL, huge), bytes, lists, dicts, objects of the wrong class.
Nothing here reaches another machine: addresses are loopback or invalid, host names are
never looked up, files are written only inside a temporary folder.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from godot_dtls import (
    CryptoKey,
    DTLSServer,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    UDPServer,
    X509Certificate,
)
from godot_dtls.api.crypto import Crypto
from godot_dtls.api.x509 import X509CRL
from godot_dtls.net.addresses import parse_ip
from godot_dtls.tools.bench.layer import MemoryTransport

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Stranger:
    """An object of no class the API knows."""


def _wrong_objects() -> list[Any]:
    return [
        object(),
        Stranger(),
        X509Certificate(),
        CryptoKey(),
        X509CRL(),
        PacketPeerDTLS(),
        DTLSServer(),
        UDPServer(),
        Error.OK,
        Status.CONNECTED,
        len,
        lambda *args: None,
        Stranger,
        deque(),
        range(3),
        frozenset({1}),
        (1, 2),
        1j,
    ]


SPECIAL_INTS = [0, 1, -1, 255, 256, 1023, 1024, 65535, 65536, 2**31, 2**63, 2**64 + 1, -(2**63)]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 0.5, 1e308, -1e-308]
SPECIAL_STRINGS = ["", "\0", "a\0b", "x" * 100_000, "127.0.0.1", "::1", "localhost", "évil", " "]

ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(SPECIAL_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_FLOATS),
    st.text(max_size=12),
    st.sampled_from(SPECIAL_STRINGS),
    st.binary(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.sampled_from(_wrong_objects()),
)


def _safe_address(value: Any) -> bool:
    """No wildcard or non-loopback address: the tests bind and connect on loopback only."""
    if not isinstance(value, str):
        return True
    if value.strip() == "*":
        return False
    parsed = parse_ip(value)
    if parsed is None:
        return True
    import ipaddress

    return ipaddress.ip_address(parsed[1]).is_loopback


def _no_lookup(value: Any) -> bool:
    """Strings that are IP literals, empty, huge or hold NUL: never sent to a resolver."""
    if not isinstance(value, str):
        return True
    return value == "" or "\0" in value or len(value) > 300 or parse_ip(value) is not None


def _safe_path(value: Any) -> bool:
    """Relative names only (the tests run in a temporary folder)."""
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return not text.startswith(("/", "~", "\\")) and ".." not in text and ":" not in text
    return True


ADDRESS = ANY.filter(_safe_address)
HOST = ANY.filter(_no_lookup).filter(_safe_address)
PATH = st.one_of(
    ANY.filter(_safe_path),
    st.sampled_from(["missing-folder/file.pem", ".", "file.pem", "nested/../x"]),
)


# ------------------------------------------------------------------------- helpers


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def logged() -> Iterator[_Records]:
    logger = logging.getLogger("godot_dtls")
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """The working folder while these tests run, so a relative path lands in it."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(previous)


def returns_error(call: Callable[[], Any], owner: Any = None) -> Error:
    """Run ``call``: it must return an ``Error``, never raise; a refusal is logged (and
    kept in ``owner.get_last_error_message()`` when there is one)."""
    with logged() as log:
        result = call()
    assert isinstance(result, Error), f"returned {result!r}, not an Error"
    if result == Error.ERR_INVALID_PARAMETER:
        assert any(r.levelno >= logging.ERROR for r in log.records), "refused without a log line"
        message = getattr(owner, "get_last_error_message", None)
        if callable(message):
            assert message(), "refused without get_last_error_message()"
    return result


def raises_naming(call: Callable[[], Any], names: tuple[str, ...]) -> Any:
    """Run a constructor or factory: it returns, or raises TypeError/ValueError whose
    message names one of ``names``. Returns the result, or None when it raised."""
    try:
        return call()
    except (TypeError, ValueError) as exc:
        assert any(name in str(exc) for name in names), f"{exc!r} names none of {names}"
        return None


def _certificate_and_key() -> tuple[X509Certificate, CryptoKey]:
    crypto = Crypto()
    key = crypto.generate_ec()
    certificate = crypto.generate_self_signed_certificate(key, "CN=localhost")
    assert certificate is not None
    return certificate, key


CERTIFICATE, KEY = _certificate_and_key()
SERVER_OPTIONS = TLSOptions.server(KEY, CERTIFICATE)
CLIENT_OPTIONS = TLSOptions.client(CERTIFICATE)


def _client_hello() -> bytes:
    outbox: deque[bytes] = deque()
    client = PacketPeerDTLS()
    assert (
        client.connect_to_peer(MemoryTransport(deque(), outbox), "localhost", CLIENT_OPTIONS) == 0
    )
    return outbox[0]


CLIENT_HELLO = _client_hello()


def exercise_client(peer: PacketPeerDTLS, options: TLSOptions | None = CLIENT_OPTIONS) -> None:
    """Use an accepted client (or options) the way a game does: it starts a handshake,
    and nothing raises."""
    inbox: deque[bytes] = deque()
    transport = MemoryTransport(inbox, deque())
    error = returns_error(lambda: peer.connect_to_peer(transport, "localhost", options), peer)
    assert error == Error.OK, peer.get_last_error_message()
    inbox.append(b"\x16\xfe\xfd" + bytes(20))
    for _ in range(3):
        peer.poll()
        assert isinstance(peer.get_status(), Status)
    peer.get_packet()
    peer.get_stats()
    peer.disconnect_from_peer()


def exercise_server(server: DTLSServer, options: TLSOptions = SERVER_OPTIONS) -> None:
    """Set up an accepted server (or options) and take a connection carrying a
    ClientHello: it works, and nothing raises."""
    assert returns_error(lambda: server.setup(options)) == Error.OK
    peer = server.take_connection(MemoryTransport(deque([CLIENT_HELLO]), deque()))
    assert peer is not None
    peer.poll()
    assert isinstance(peer.get_status(), Status)


# ------------------------------------------------------------ methods returning Error


@SETTINGS
@given(udp=st.one_of(ANY, st.just("connected")), hostname=ANY, options=st.one_of(ANY, st.none()))
def test_connect_to_peer_returns_an_error_for_any_arguments(udp, hostname, options):
    transport = MemoryTransport(deque(), deque()) if udp == "connected" else udp
    peer = PacketPeerDTLS()
    returns_error(lambda: peer.connect_to_peer(transport, hostname, options), peer)
    peer.poll()
    peer.disconnect_from_peer()


@SETTINGS
@given(hostname=ANY)
def test_connect_to_peer_refuses_a_bad_hostname_with_an_error(hostname):
    peer = PacketPeerDTLS()
    transport = MemoryTransport(deque(), deque())
    result = returns_error(lambda: peer.connect_to_peer(transport, hostname, CLIENT_OPTIONS), peer)
    if not isinstance(hostname, str) or "\0" in hostname:
        assert result == Error.ERR_INVALID_PARAMETER
        assert peer.get_status() is Status.DISCONNECTED
    peer.disconnect_from_peer()


@SETTINGS
@given(buffer=ANY, var=ANY, flag=ANY)
def test_packet_peer_methods_never_raise(buffer, var, flag):
    for peer in (PacketPeerDTLS(), PacketPeerUDP()):
        returns_error(lambda p=peer: p.put_packet(buffer))
        returns_error(lambda p=peer: p.put_var(var, flag))
        returns_error(lambda p=peer: p.put_var(var))
        assert peer.get_packet() == b""
        assert isinstance(peer.get_packet_error(), Error)
        peer.get_var(flag)
        assert isinstance(peer.get_packet_error(), Error)
        peer.encode_buffer_max_size = flag
        peer.set_encode_buffer_max_size(var)
        assert isinstance(peer.get_encode_buffer_max_size(), int)
        assert isinstance(peer.get_available_packet_count(), int)
        if isinstance(peer, PacketPeerUDP):
            peer.close()


@SETTINGS
@given(options=ANY, udp=ANY)
def test_dtls_server_methods_never_raise(options, udp):
    server = DTLSServer()
    returns_error(lambda: server.setup(options))
    if server.setup(SERVER_OPTIONS) == Error.ERR_ALREADY_IN_USE:
        return  # ``options`` was valid
    peer = server.take_connection(udp)
    assert peer is None or isinstance(peer, PacketPeerDTLS)


@SETTINGS
@given(port=ANY, address=ADDRESS, size=ANY)
def test_udp_bind_returns_an_error_for_any_arguments(scratch, port, address, size):
    assume(not isinstance(port, int) or not 0 < port < 1024)  # no privileged ports
    udp = PacketPeerUDP()
    try:
        returns_error(lambda: udp.bind(port, address, size))
        returns_error(lambda: udp.bind(port, address))
    finally:
        udp.close()


@SETTINGS
@given(host=HOST, port=ANY, timeout=ANY)
def test_udp_peer_methods_return_an_error_for_any_arguments(host, port, timeout):
    udp = PacketPeerUDP()
    try:
        returns_error(lambda: udp.wait(timeout))  # not open: never blocks
        returns_error(lambda: udp.connect_to_host(host, port))
        udp.set_broadcast_enabled(port)
        udp.set_blocking_mode(timeout)
        udp.close()
        returns_error(lambda: udp.set_dest_address(host, port))
        assert udp.bind(0, "127.0.0.1") == Error.OK
        if timeout is None or (isinstance(timeout, (int, float)) and timeout > 0.01):
            timeout = 0.0  # an open socket would wait that long
        returns_error(lambda: udp.wait(timeout))
        for getter in (udp.get_packet_ip, udp.get_packet_port, udp.get_local_port, udp.fileno):
            getter()
    finally:
        udp.close()


@SETTINGS
@given(port=ANY, address=ADDRESS, pending=ANY)
def test_udp_server_methods_never_raise(port, address, pending):
    assume(not isinstance(port, int) or not 0 < (int(port) & 0xFFFF) < 1024)
    server = UDPServer()
    try:
        returns_error(lambda: server.listen(port, address))
        returns_error(server.poll)
        server.set_max_pending_connections(pending)
        server.max_pending_connections = pending
        assert isinstance(server.get_max_pending_connections(), int)
        assert server.get_max_pending_connections() >= 0
        server.take_connection()
        server.is_connection_available()
    finally:
        server.stop()


@SETTINGS
@given(path=PATH, text=ANY, flag=ANY)
def test_certificate_key_and_crl_loaders_return_errors(scratch, path, text, flag):
    for resource in (X509Certificate(), CryptoKey(), X509CRL()):
        returns_error(lambda r=resource: r.load(path))
        returns_error(lambda r=resource: r.load_from_string(text))
        assert isinstance(resource.save_to_string(), str)
    key = CryptoKey()
    returns_error(lambda: key.load(path, flag))
    returns_error(lambda: key.load_from_string(text, flag))
    assert isinstance(KEY.save_to_string(flag), str)
    returns_error(lambda: KEY.save(path, flag))
    returns_error(lambda: CERTIFICATE.save(path))


# ------------------------------------------------------- constructors and factories


@SETTINGS
@given(mtu=ANY, timeout=ANY, clock=ANY)
def test_packet_peer_dtls_constructor_checks_its_arguments(mtu, timeout, clock):
    for kwargs in ({"mtu": mtu}, {"handshake_timeout": timeout}, {"clock": clock}):
        peer = raises_naming(lambda k=kwargs: PacketPeerDTLS(**k), tuple(kwargs))
        if peer is not None:
            exercise_client(peer)


@SETTINGS
@given(value=ANY)
def test_packet_peer_dtls_attributes_check_what_they_are_given(value):
    for name in (
        "mtu",
        "handshake_timeout",
        "max_queued_packets",
        "max_queued_bytes",
        "status_changed",
    ):
        peer = PacketPeerDTLS()
        raises_naming(lambda n=name, p=peer: setattr(p, n, value), (name,))
        exercise_client(peer)  # with the value if it was taken, else with the default


@SETTINGS
@given(mtu=ANY, timeout=ANY, rotation=ANY, cap=ANY, clock=ANY)
def test_dtls_server_constructor_checks_its_arguments(mtu, timeout, rotation, cap, clock):
    for kwargs in (
        {"mtu": mtu},
        {"handshake_timeout": timeout},
        {"cookie_rotation": rotation},
        {"max_handshakes": cap},
        {"clock": clock},
    ):
        server = raises_naming(lambda k=kwargs: DTLSServer(**k), tuple(kwargs))
        if server is not None:
            exercise_server(server)


@SETTINGS
@given(value=ANY)
def test_dtls_server_attributes_check_what_they_are_given(value):
    for name in ("mtu", "handshake_timeout", "max_handshakes"):
        server = DTLSServer()
        raises_naming(lambda n=name, s=server: setattr(s, n, value), (name,))
        exercise_server(server)


CLIENT_EXTENSIONS = st.fixed_dictionaries(
    {},
    optional={
        "pinned_spki_sha256": ANY,
        "crls": ANY,
        "crl_soft_fail": ANY,
        "alpn": ANY,
        "session_resumption": ANY,
        "key_log_file": PATH,
    },
)


@SETTINGS
@given(chain=st.one_of(ANY, st.just(CERTIFICATE)), name=ANY, extensions=CLIENT_EXTENSIONS)
def test_tls_options_client_checks_its_arguments(scratch, chain, name, extensions):
    names = ("trusted_chain", "common_name_override", *extensions)
    options = raises_naming(lambda: TLSOptions.client(chain, name, **extensions), names)
    if options is not None:
        exercise_client(PacketPeerDTLS(), options)
    extensions.pop("crls", None)
    extensions.pop("crl_soft_fail", None)
    options = raises_naming(lambda: TLSOptions.client_unsafe(chain, **extensions), names)
    if options is not None:
        exercise_client(PacketPeerDTLS(), options)


SERVER_EXTENSIONS = st.fixed_dictionaries(
    {},
    optional={
        "sni": st.one_of(
            ANY,
            st.dictionaries(ANY.filter(lambda v: isinstance(v, str)), ANY, max_size=2),
            st.dictionaries(st.text(max_size=20), st.just((KEY, CERTIFICATE)), max_size=2),
        ),
        "alpn": ANY,
        "session_resumption": ANY,
        "key_log_file": PATH,
    },
)


@SETTINGS
@given(
    key=st.one_of(ANY, st.just(KEY), st.just(CERTIFICATE)),
    certificate=st.one_of(ANY, st.just(CERTIFICATE), st.just(KEY)),
    extensions=SERVER_EXTENSIONS,
)
def test_tls_options_server_checks_its_arguments(scratch, key, certificate, extensions):
    names = ("key", "certificate", *extensions)
    options = raises_naming(lambda: TLSOptions.server(key, certificate, **extensions), names)
    if options is not None:
        exercise_server(DTLSServer(), options)


@SETTINGS
@given(
    identity=ANY,
    key=st.one_of(ANY, st.binary(min_size=1, max_size=600)),
    keys=st.one_of(
        ANY,
        st.dictionaries(
            st.one_of(st.text(max_size=5), st.integers(), st.sampled_from(["\0", "é" * 200])),
            ANY,
            max_size=2,
        ),
    ),
    hint=ANY,
    alpn=ANY,
)
def test_tls_options_psk_factories_check_their_arguments(identity, key, keys, hint, alpn):
    options = raises_naming(
        lambda: TLSOptions.client_psk(identity, key, alpn=alpn), ("identity", "key", "alpn")
    )
    if options is not None:
        exercise_client(PacketPeerDTLS(), options)
    options = raises_naming(
        lambda: TLSOptions.server_psk(keys, identity_hint=hint, alpn=alpn),
        ("keys", "identity_hint", "alpn"),
    )
    if options is not None:
        exercise_server(DTLSServer(), options)


def test_swapped_server_arguments_are_refused_at_the_call():
    with pytest.raises(TypeError, match="key"):
        TLSOptions.server(CERTIFICATE, KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trusted_chain"):
        TLSOptions.client("x")  # type: ignore[arg-type]


def test_a_nan_handshake_timeout_is_refused():
    with pytest.raises(ValueError, match="handshake_timeout"):
        PacketPeerDTLS(handshake_timeout=float("nan"))


def test_a_server_mtu_too_small_is_refused_at_construction():
    with pytest.raises(ValueError, match="mtu"):
        DTLSServer(mtu=100)


@SETTINGS
@given(value=ANY, other=ANY)
def test_resource_constructors_check_their_arguments(value, other):
    for make, names in (
        (lambda: X509Certificate(value), ("certificates",)),
        (lambda: CryptoKey(value), ("key",)),
        (lambda: X509CRL(value), ("crl",)),
        (lambda: X509Certificate.from_pem(value), ("pem",)),
        (lambda: CryptoKey.from_pem(value, other), ("pem", "public_only")),
        (lambda: X509CRL.from_data(value), ("data",)),
    ):
        made = raises_naming(make, names)
        if isinstance(made, X509Certificate):
            made.save_to_string()
            made.certificates  # noqa: B018
        elif isinstance(made, CryptoKey):
            made.save_to_string()
            made.is_public_only()
        elif isinstance(made, X509CRL):
            made.save_to_string()


@SETTINGS
@given(size=ANY, key=st.one_of(ANY, st.just(KEY)), name=ANY, start=ANY, end=ANY)
def test_crypto_factories_check_their_arguments(size, key, name, start, end):
    crypto = Crypto()
    if not (isinstance(size, int) and size > 1 << 16):
        data = raises_naming(lambda: crypto.generate_random_bytes(size), ("size",))
        assert data is None or (isinstance(data, bytes) and len(data) == size)
    assume(not (isinstance(size, int) and size > 2048))  # valid but slow to make
    made = raises_naming(lambda: crypto.generate_rsa(size), ("size",))
    assert made is None or isinstance(made, CryptoKey)
    certificate = raises_naming(
        lambda: crypto.generate_self_signed_certificate(key, name, start, end),
        ("key", "issuer_name", "not_before", "not_after"),
    )
    if certificate is not None:
        assert isinstance(certificate, X509Certificate)
        exercise_server(DTLSServer(), TLSOptions.server(KEY, certificate))
