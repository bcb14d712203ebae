"""Interop: godot_dtls against Mbed TLS 2.28 (the family Godot 3.x uses), via python-mbedtls.

python-mbedtls (PyPI ``python-mbedtls``) bundles Mbed TLS 2.28 and exposes its DTLS
through ``TLSWrappedBuffer``: a sans-IO object with an input and an output ring
buffer. The :class:`MbedDTLS` driver below moves it over a real UDP socket on
127.0.0.1: after every handshake step the pending output is sent (Mbed TLS writes
whole records; the ring buffer loses its datagram boundaries, so :func:`pack_records`
packs the records into datagrams of at most the MTU, or one datagram without one),
each datagram received is appended to the input, and every step runs again within a
few milliseconds so Mbed TLS' retransmission timer keeps working. Mbed TLS servers
demand a HelloVerifyRequest cookie: python-mbedtls resets the context and raises
``HelloVerifyRequest`` after sending one, and the driver sets the client's transport
id (its address) again before the retried ClientHello.

* an Mbed TLS DTLS client against our ``EchoServer`` (ECDSA and RSA certificates,
  trust store = the trustme CA, name ``localhost``): cookie exchange, handshake, echo of
  64 / 1200 / 8000-byte packets, close_notify either way; a DTLS 1.0-only client is
  refused; an ECDHE-PSK client against ``TLSOptions.server_psk``; a replayed record
  is dropped; our ``DTLSServer(mtu=256)``'s fragmented flight reassembled by Mbed TLS;
* our ``PacketPeerDTLS`` client against an Mbed TLS DTLS server (``ServerContext``)
  run in a background thread with a deadline: handshake, echo, our close_notify; a
  name mismatch ends in status 4 (and the server reads our fatal alert), an unknown
  CA in status 3; the server's handshake fragmented over 256-byte datagrams.

Negotiated suites (both names) and handshake times are printed (``pytest -s``) and
kept with ``record_property``. Every wait has a deadline. Without python-mbedtls the
module is skipped, or every test fails when ``CI=true``.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

import pytest

from godot_dtls import DTLSServer, Status, TLSOptions
from support.interop_cases import ECHO_SIZES, VerificationCase, verification_params
from support.interop_support import (
    DATA_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    HOST,
    POLL_INTERVAL,
    SERVER_LIFETIME,
    WatchedEchoServer,
    polled_client,
    report,
)

#: Why python-mbedtls cannot be used here (None when it can).
MBEDTLS_MISSING: str | None = None
try:
    from mbedtls import pk as mbedtls_pk
    from mbedtls import tls as mbedtls_tls
    from mbedtls import version as mbedtls_version
    from mbedtls import x509 as mbedtls_x509
    from mbedtls.exceptions import TLSError
except ImportError as _missing:
    MBEDTLS_MISSING = f"python-mbedtls is not importable ({_missing}); pip install python-mbedtls"
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip(MBEDTLS_MISSING, allow_module_level=True)
    # On CI every test fails (see the mbedtls_available fixture) instead of one collection
    # error interrupting the whole session.

if TYPE_CHECKING:
    from conftest import TestPKI

#: Hard stop per test (pytest-timeout); every test is designed to end far sooner.
MBEDTLS_TEST_TIMEOUT = 30

pytestmark = [pytest.mark.interop, pytest.mark.timeout(MBEDTLS_TEST_TIMEOUT)]

# HOST, HANDSHAKE_TIMEOUT, DATA_TIMEOUT, SERVER_LIFETIME (also the Mbed TLS server
# thread's) and POLL_INTERVAL (also the Mbed TLS timer's resolution) come from
# interop_support.
#: Room for any datagram (the largest here is an 8000-byte packet plus its record).
DATAGRAM_MAX = 65535

#: Mbed TLS error codes (``TLSError.err``).
ERR_SSL_FATAL_ALERT_MESSAGE = 0x7780
ERR_SSL_PEER_CLOSE_NOTIFY = 0x7880

#: The key exchange / signature part every negotiated suite must have, per key type.
SUITE_PREFIX = {"ecdsa": "ECDHE-ECDSA-", "rsa": "ECDHE-RSA-"}

PSK_IDENTITY = "player-1"
PSK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def openssl_suite_name(mbedtls_name: str) -> str:
    """Mbed TLS' suite name in OpenSSL's spelling (the one ``get_stats()`` reports).

    ``TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256`` -> ``ECDHE-ECDSA-AES128-GCM-SHA256``,
    ``TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256`` -> ``ECDHE-PSK-CHACHA20-POLY1305``.
    """
    name = mbedtls_name[len("TLS-") :] if mbedtls_name.startswith("TLS-") else mbedtls_name
    name = name.replace("-WITH-", "-").replace("AES-128", "AES128").replace("AES-256", "AES256")
    return name.replace("CHACHA20-POLY1305-SHA256", "CHACHA20-POLY1305")


def payload(size: int) -> bytes:
    """``size`` bytes that differ from one size to the next."""
    return bytes((index * 7 + size) % 256 for index in range(size))


@pytest.fixture(scope="module", autouse=True)
def mbedtls_available() -> None:
    """Fail every test when python-mbedtls is missing on CI; print the Mbed TLS version."""
    if MBEDTLS_MISSING is not None:
        pytest.fail(MBEDTLS_MISSING)
    print(f"\npython-mbedtls: {mbedtls_version.version}")


def trust_store(pki: TestPKI) -> mbedtls_tls.TrustStore:
    """An Mbed TLS trust store holding only ``pki``'s CA."""
    store = mbedtls_tls.TrustStore()
    store.add(mbedtls_x509.CRT.from_PEM(pki.ca.cert_pem.bytes().decode("ascii")))
    return store


# ------------------------------------------------------------------ Mbed TLS driver

#: A DTLS record header: type, version, epoch, sequence number, then the length.
RECORD_HEADER = 13


def pack_records(data: bytes, mtu: int | None) -> list[bytes]:
    """Split ``data`` (whole DTLS records back to back) into datagrams of whole records,
    each at most ``mtu`` bytes unless one record alone is larger (no limit: one)."""
    if mtu is None:
        return [data]
    records = []
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset + 11 : offset + RECORD_HEADER], "big")
        end = offset + RECORD_HEADER + length
        assert end <= len(data), "Mbed TLS wrote a partial record"
        records.append(data[offset:end])
        offset = end
    datagrams: list[bytes] = []
    for record in records:
        if datagrams and len(datagrams[-1]) + len(record) <= mtu:
            datagrams[-1] += record
        else:
            datagrams.append(record)
    return datagrams


class PeerClosed(Exception):
    """The peer's close_notify was read."""


class MbedDTLS:
    """A python-mbedtls ``TLSWrappedBuffer`` driven over a non-blocking UDP socket.

    A client's socket is connected to the server. A server's socket is bound; its
    peer is the address of the first datagram, whose transport id is given to Mbed TLS
    for the cookie (again after each HelloVerifyRequest, which resets the context).
    Datagrams from any other address are ignored.
    """

    def __init__(
        self,
        buffer: mbedtls_tls.TLSWrappedBuffer,
        sock: socket.socket,
        peer: tuple[str, int] | None = None,
    ) -> None:
        self.buffer = buffer
        self.sock = sock
        self.peer = peer
        self.is_server = peer is None
        self.hello_verify_requests = 0
        self.datagrams_sent = 0
        self.datagrams_received = 0
        self.handshake_seconds = 0.0
        self.mtu: int | None = None
        self.largest_datagram = 0
        sock.setblocking(False)

    def _set_cookie_id(self) -> None:
        assert self.peer is not None
        self.buffer.setcookieparam(f"{self.peer[0]}:{self.peer[1]}".encode("ascii"))

    def set_mtu(self, mtu: int) -> None:
        """Mbed TLS fragments handshake messages to fit ``mtu``; :meth:`flush` packs its
        records into datagrams of at most ``mtu`` bytes, as its own socket layer does."""
        self.buffer.setmtu(mtu)
        self.mtu = mtu

    def flush(self, copies: int = 1) -> None:
        """Send what Mbed TLS wrote: whole records, packed into datagrams ≤ ``mtu``
        (each datagram ``copies`` times: more than one replays it)."""
        pending = len(self.buffer._output_buffer)  # type: ignore[arg-type]
        if pending == 0 or self.peer is None:
            return
        data = self.buffer.peek_outgoing(pending)
        self.buffer.consume_outgoing(pending)
        for datagram in pack_records(data, self.mtu):
            for _ in range(copies):
                self.sock.sendto(datagram, self.peer)
                self.datagrams_sent += 1
            self.largest_datagram = max(self.largest_datagram, len(datagram))

    def feed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a datagram from the peer and hand it to Mbed TLS."""
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not readable:
            return False
        data, address = self.sock.recvfrom(DATAGRAM_MAX)
        if self.peer is None:
            self.peer = (address[0], address[1])
            self._set_cookie_id()
        elif (address[0], address[1]) != self.peer:
            return False
        self.buffer.receive_from_network(data)
        self.datagrams_received += 1
        return True

    def handshake(
        self, timeout: float = HANDSHAKE_TIMEOUT, stop: threading.Event | None = None
    ) -> None:
        """Run the handshake to its end; raises ``TLSError``, or ``TimeoutError`` after
        ``timeout`` seconds or once ``stop`` is set."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        over = mbedtls_tls.HandshakeStep.HANDSHAKE_OVER
        while self.buffer._handshake_state is not over:
            remaining = deadline - time.monotonic()
            if stop is not None and stop.is_set():
                raise TimeoutError("stopped during the Mbed TLS handshake")
            if remaining <= 0:
                raise TimeoutError(
                    f"Mbed TLS handshake not over after {timeout:.1f} s "
                    f"(state {self.buffer._handshake_state.name})"
                )
            try:
                self.buffer.do_handshake()
            except mbedtls_tls.WantReadError:
                self.flush()
                self.feed(min(POLL_INTERVAL, remaining))
                continue
            except mbedtls_tls.WantWriteError:
                pass
            except mbedtls_tls.HelloVerifyRequest:
                # Server side: the cookie went out and the context was reset.
                self.hello_verify_requests += 1
                self.flush()
                self._set_cookie_id()
                continue
            self.flush()
        self.flush()
        self.handshake_seconds = time.perf_counter() - started

    def records(self) -> list[bytes]:
        """Every application record Mbed TLS can decrypt now, in order (one per packet).

        Raises :class:`PeerClosed` on the peer's close_notify.
        """
        packets: list[bytes] = []
        chunk = bytearray(16384)
        while True:
            try:
                size = self.buffer.readinto(chunk, len(chunk))
            except mbedtls_tls.WantReadError:
                return packets
            except mbedtls_tls.RaggedEOF as exc:
                raise PeerClosed() from exc
            except TLSError as exc:
                if getattr(exc, "err", None) == ERR_SSL_PEER_CLOSE_NOTIFY:
                    raise PeerClosed() from exc
                raise
            packets.append(bytes(chunk[:size]))

    def receive(self, size: int, timeout: float = DATA_TIMEOUT) -> list[bytes]:
        """Packets until they hold ``size`` bytes in all; raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        packets = self.records()
        while sum(map(len, packets)) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{sum(map(len, packets))} of {size} bytes received")
            if self.feed(min(POLL_INTERVAL, remaining)):
                packets += self.records()
        return packets

    def send(self, data: bytes, copies: int = 1) -> None:
        """One packet: one record in one datagram (sent ``copies`` times)."""
        self.buffer.write(data)
        self.flush(copies)

    def version(self) -> str:
        return str(self.buffer.negotiated_tls_version().name)

    def cipher(self) -> str:
        return str(self.buffer.cipher())

    def close(self) -> None:
        """Send close_notify (best effort)."""
        try:
            self.buffer.shutdown()
        except TLSError:
            return
        self.flush()


@contextmanager
def mbedtls_client(
    port: int, configuration: mbedtls_tls.DTLSConfiguration, server_hostname: str | None
) -> Iterator[MbedDTLS]:
    """An Mbed TLS DTLS client on a UDP socket connected to ``HOST:port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((HOST, port))
    buffer = mbedtls_tls.ClientContext(configuration).wrap_buffers(server_hostname)
    try:
        yield MbedDTLS(buffer, sock, (HOST, port))
    finally:
        sock.close()


class MbedDTLSServer:
    """An Mbed TLS DTLS echo server for one client, in a background thread.

    It runs the handshake (HelloVerifyRequest included), then echoes every packet
    until the client's close_notify, the end of the ``with`` block, or its lifetime
    (then it stops by itself). What happened
    is kept in :attr:`error` (a handshake failure is a ``TLSError``), :attr:`cipher`,
    :attr:`version`, :attr:`echoed` (sizes) and :attr:`peer_closed`.
    """

    def __init__(self, pki: TestPKI, key_type: str, lifetime: float = SERVER_LIFETIME) -> None:
        chain = tuple(
            mbedtls_x509.CRT.from_PEM(pem.bytes().decode("ascii"))
            for pem in pki.server_cert.cert_chain_pems
        )
        key_class = mbedtls_pk.ECC if key_type == "ecdsa" else mbedtls_pk.RSA
        key = key_class.from_buffer(pki.server_cert.private_key_pem.bytes())
        configuration = mbedtls_tls.DTLSConfiguration(
            certificate_chain=(chain, key), validate_certificates=False
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        self.port = int(sock.getsockname()[1])
        self.dtls = MbedDTLS(mbedtls_tls.ServerContext(configuration).wrap_buffers(), sock)
        self.lifetime = lifetime
        self.error: BaseException | None = None
        self.cipher = ""
        self.version = ""
        self.echoed: list[int] = []
        self.peer_closed = False
        self.handshake_done = threading.Event()
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mbedtls-server", daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.lifetime
        try:
            self.dtls.handshake(self.lifetime, self._stop)
            self.cipher = self.dtls.cipher()
            self.version = self.dtls.version()
            self.handshake_done.set()
            while not self._stop.is_set() and time.monotonic() < deadline:
                for packet in self.dtls.records():
                    self.echoed.append(len(packet))  # before the echo can reach the test
                    self.dtls.send(packet)
                self.dtls.feed(POLL_INTERVAL)
        except PeerClosed:
            self.peer_closed = True
        except BaseException as exc:  # kept for the test to assert on
            self.error = exc
        finally:
            self.dtls.sock.close()
            self.finished.set()

    def wait(self, event: threading.Event, timeout: float, what: str) -> None:
        if not event.wait(timeout):
            pytest.fail(f"Mbed TLS server: no {what} within {timeout:.1f} s (error {self.error!r})")

    def __enter__(self) -> MbedDTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        assert not self._thread.is_alive(), "the Mbed TLS server thread did not stop"


# ------------------------------------------------------------- godot_dtls side


# ------------------------------------------------ 1. Mbed TLS client -> EchoServer


def test_mbedtls_client_to_echo_server(
    server_pki: TestPKI, key_type: str, record_property: Callable[[str, object], None]
) -> None:
    """Cookie exchange, handshake verified by Mbed TLS (chain and name), packets echoed
    byte for byte, Mbed TLS' close_notify ends our peer cleanly."""
    configuration = mbedtls_tls.DTLSConfiguration(
        trust_store=trust_store(server_pki), validate_certificates=True
    )
    echo = WatchedEchoServer(server_pki.server_options())
    with echo.running(), mbedtls_client(echo.port, configuration, "localhost") as client:
        client.handshake()
        assert client.version() == "DTLSv1_2"
        echo.wait_until(lambda: Status.CONNECTED in echo.statuses(), DATA_TIMEOUT, "CONNECTED")
        ours = echo.ciphers[1]
        assert ours == openssl_suite_name(client.cipher()), (ours, client.cipher())
        assert ours.startswith(SUITE_PREFIX[key_type]), ours
        assert echo.server.cookie_exchanges == 1  # our HelloVerifyRequest was answered
        report(record_property, f"mbedtls -> EchoServer ({key_type}) cipher", client.cipher())
        report(record_property, "handshake_ms", round(client.handshake_seconds * 1000, 2))

        for size in ECHO_SIZES:
            data = payload(size)
            started = time.perf_counter()
            client.send(data)
            assert client.receive(size) == [data]
            print(f"{size} B echoed in {(time.perf_counter() - started) * 1000:.1f} ms")

        client.close()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )
        assert echo.statuses() == [Status.CONNECTED, Status.DISCONNECTED]
        assert echo.server.packets_echoed == len(ECHO_SIZES)
        assert echo.server.bytes_echoed == sum(ECHO_SIZES)


def test_mbedtls_dtls1_0_client_is_refused(pki: TestPKI, caplog: pytest.LogCaptureFixture) -> None:
    """An Mbed TLS client capped at DTLS 1.0 gets a fatal alert from our server, which
    logs the unsupported protocol, and no connection is made."""
    caplog.set_level(logging.ERROR, logger="godot_dtls")
    configuration = mbedtls_tls.DTLSConfiguration(
        trust_store=trust_store(pki),
        lowest_supported_version=mbedtls_tls.DTLSVersion.DTLSv1_0,
        highest_supported_version=mbedtls_tls.DTLSVersion.DTLSv1_0,
    )
    echo = WatchedEchoServer(pki.server_options())
    with echo.running(), mbedtls_client(echo.port, configuration, "localhost") as client:
        with pytest.raises(TLSError) as failure:
            client.handshake()
        assert getattr(failure.value, "err", None) == ERR_SSL_FATAL_ALERT_MESSAGE, failure.value
        assert echo.server.connections == 0
        assert Status.CONNECTED not in echo.statuses()
    assert any("unsupported protocol" in record.getMessage() for record in caplog.records), [
        record.getMessage() for record in caplog.records
    ]


def test_mbedtls_psk_client_to_echo_server(record_property: Callable[[str, object], None]) -> None:
    """Mbed TLS with a pre-shared key against ``TLSOptions.server_psk``."""
    configuration = mbedtls_tls.DTLSConfiguration(
        pre_shared_key=(PSK_IDENTITY, PSK_KEY), validate_certificates=False
    )
    echo = WatchedEchoServer(TLSOptions.server_psk({PSK_IDENTITY: PSK_KEY}))
    with echo.running(), mbedtls_client(echo.port, configuration, None) as client:
        client.handshake()
        echo.wait_until(lambda: Status.CONNECTED in echo.statuses(), DATA_TIMEOUT, "CONNECTED")
        assert echo.ciphers[1] == openssl_suite_name(client.cipher())
        assert "PSK" in echo.ciphers[1]
        report(record_property, "mbedtls PSK -> EchoServer cipher", client.cipher())
        client.send(b"psk packet")
        assert client.receive(10) == [b"psk packet"]
        client.close()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )


def test_mbedtls_psk_client_with_a_wrong_key_fails_fast(
    record_property: Callable[[str, object], None],
) -> None:
    """An Mbed TLS client whose key differs: our server cannot decrypt its Finished nor
    the retransmission, sends bad_record_mac, and both sides give up within seconds
    (each would otherwise retransmit until its handshake timeout)."""
    configuration = mbedtls_tls.DTLSConfiguration(
        pre_shared_key=(PSK_IDENTITY, b"\x42" * 16), validate_certificates=False
    )
    echo = WatchedEchoServer(TLSOptions.server_psk({PSK_IDENTITY: PSK_KEY}))
    started = time.monotonic()
    with echo.running(), mbedtls_client(echo.port, configuration, None) as client:
        with pytest.raises(TLSError) as failure:
            client.handshake(timeout=20.0)
        assert getattr(failure.value, "err", None) == ERR_SSL_FATAL_ALERT_MESSAGE, failure.value
        echo.wait_until(lambda: Status.ERROR in echo.statuses(), DATA_TIMEOUT, "ERROR")
    report(
        record_property, "mbedtls wrong PSK: both sides ended after (s)", time.monotonic() - started
    )
    assert Status.CONNECTED not in echo.statuses()


# --------------------------------------------- 2. our client -> Mbed TLS server


def test_client_to_mbedtls_server(
    server_pki: TestPKI, key_type: str, record_property: Callable[[str, object], None]
) -> None:
    """Through Mbed TLS' cookie exchange to CONNECTED; packets echoed byte for byte; our
    close_notify read by the server."""
    with MbedDTLSServer(server_pki, key_type) as server, polled_client() as client:
        status = client.connect(server.port, "localhost", server_pki.client_options())
        assert status is Status.CONNECTED, (
            f"{client.peer.get_last_error_message()} / server: {server.error!r}"
        )
        server.wait(server.handshake_done, DATA_TIMEOUT, "handshake")
        stats = client.peer.get_stats()
        assert stats["version"] == "DTLSv1.2"
        assert stats["cipher"] == openssl_suite_name(server.cipher), (stats, server.cipher)
        assert stats["cipher"].startswith(SUITE_PREFIX[key_type])
        assert server.dtls.hello_verify_requests == 1
        # ClientHello, ClientHello with the cookie, ClientKeyExchange..Finished.
        assert stats["datagrams_sent"] == 3, stats
        report(record_property, f"godot_dtls -> mbedtls ({key_type}) cipher", server.cipher)
        report(record_property, "handshake_ms", round(client.handshake_seconds * 1000, 2))

        for size in ECHO_SIZES:
            data = payload(size)
            started = time.perf_counter()
            assert client.echo(data) == data
            print(f"{size} B echoed in {(time.perf_counter() - started) * 1000:.1f} ms")
        assert server.echoed == list(ECHO_SIZES)

        client.peer.disconnect_from_peer()
        assert client.peer.get_status() is Status.DISCONNECTED
        server.wait(server.finished, DATA_TIMEOUT, "end of the session")
        assert server.peer_closed, f"server error: {server.error!r}"
        assert server.error is None


@pytest.mark.parametrize("case", verification_params("wrong_hostname", "untrusted_ca"))
def test_client_rejects_mbedtls_server_certificate(
    pki: TestPKI, other_pki: TestPKI, case: VerificationCase
) -> None:
    """A name mismatch ends in status 4 (an unknown CA in 3); the Mbed TLS server reads
    our fatal alert and its handshake fails."""
    hostname, expected = case.hostname, case.expected
    options = case.client_options(pki, other_pki)
    mismatch = expected is Status.ERROR_HOSTNAME_MISMATCH
    with MbedDTLSServer(pki, "ecdsa") as server, polled_client() as client:
        peer = client.peer
        assert client.connect(server.port, hostname, options) is expected, (
            peer.get_last_error_message()
        )
        assert int(peer.get_status()) == (4 if mismatch else 3)
        alerts = peer.get_stats()["alerts_sent"]
        # The alerts Godot's own Mbed TLS client sends for these two failures.
        assert alerts == ["bad_certificate" if mismatch else "unknown_ca"]
        server.wait(server.finished, DATA_TIMEOUT, "end of the handshake")
        assert isinstance(server.error, TLSError), repr(server.error)
        assert getattr(server.error, "err", None) == ERR_SSL_FATAL_ALERT_MESSAGE, server.error
        assert not server.handshake_done.is_set()
        print(
            f"\n{case.name}: status {int(peer.get_status())}, alert {alerts}, server {server.error}"
        )


# ------------------------------------------------------------------ closes and MTUs


def test_echo_server_close_reaches_mbedtls_client(pki: TestPKI) -> None:
    """Our server's close_notify (``EchoServer.stop``) is read by Mbed TLS as the peer's
    close."""
    configuration = mbedtls_tls.DTLSConfiguration(trust_store=trust_store(pki))
    echo = WatchedEchoServer(pki.server_options())
    with mbedtls_client(echo.port, configuration, "localhost") as client:
        with echo.running():
            client.handshake()
            client.send(b"before the close")
            assert client.receive(16) == [b"before the close"]
        # The polling thread has stopped and EchoServer.stop() sent close_notify.
        closed = False
        deadline = time.monotonic() + DATA_TIMEOUT
        while not closed and time.monotonic() < deadline:
            client.feed(POLL_INTERVAL)
            try:
                client.records()
            except PeerClosed:
                closed = True
        assert closed, "no close_notify from the server"


def test_client_to_mbedtls_server_small_mtu(
    rsa_pki: TestPKI, record_property: Callable[[str, object], None]
) -> None:
    """The Mbed TLS server (``setmtu(256)``) fragments its RSA Certificate (about 1 kB)
    over 256-byte datagrams; our client reassembles it."""
    mtu = 256
    server = MbedDTLSServer(rsa_pki, "rsa")
    server.dtls.set_mtu(mtu)
    with server, polled_client() as client:
        status = client.connect(server.port, "localhost", rsa_pki.client_options())
        assert status is Status.CONNECTED, client.peer.get_last_error_message()
        received = client.peer.get_stats()["datagrams_received"]
        assert received >= 6, client.peer.get_stats()
        assert server.dtls.largest_datagram <= mtu
        assert client.echo(b"small mtu") == b"small mtu"
        record_property("datagrams_from_mbedtls", received)


def test_mbedtls_client_small_mtu_echo_server(
    rsa_pki: TestPKI, record_property: Callable[[str, object], None]
) -> None:
    """Our ``DTLSServer(mtu=256)`` fragments its flight; the Mbed TLS client (MTU 256
    too) reassembles it."""
    mtu = 256
    configuration = mbedtls_tls.DTLSConfiguration(trust_store=trust_store(rsa_pki))
    echo = WatchedEchoServer(rsa_pki.server_options(), DTLSServer(mtu=mtu))
    with echo.running(), mbedtls_client(echo.port, configuration, "localhost") as client:
        client.set_mtu(mtu)
        client.handshake()
        assert client.datagrams_received >= 6, client.datagrams_received
        client.send(b"small mtu")
        assert client.receive(9) == [b"small mtu"]
        client.close()
    record_property("datagrams_from_godot_dtls", client.datagrams_received)


def test_replayed_mbedtls_record_is_dropped(pki: TestPKI) -> None:
    """A datagram the Mbed TLS client sends twice (same record, same sequence number)
    is delivered once: our server's replay window drops the copy."""
    configuration = mbedtls_tls.DTLSConfiguration(trust_store=trust_store(pki))
    echo = WatchedEchoServer(pki.server_options())
    with echo.running(), mbedtls_client(echo.port, configuration, "localhost") as client:
        client.handshake()
        client.send(b"only once", copies=2)
        client.send(b"next")
        assert client.receive(len(b"only once") + len(b"next")) == [b"only once", b"next"]
        time.sleep(0.1)  # a late second echo would show up here
        while client.feed(POLL_INTERVAL):
            pass
        assert client.records() == []
        assert echo.server.packets_echoed == 2
