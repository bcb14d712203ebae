"""Interop: godot_dtls against the ``openssl`` command line tool (OpenSSL 3.0).

Both directions on 127.0.0.1 UDP, with the trustme certificates of ``conftest.py``:

* our ``PacketPeerDTLS`` client against ``openssl s_server -dtls1_2``, with ``-listen``
  (the stateless ``DTLSv1_listen`` cookie exchange) and without (a cookie exchange
  inside the connection), ECDSA and RSA certificates: data both ways, our close, the
  server going away, small MTUs, and the certificate failures (wrong name: status 4,
  unknown CA: status 3);
* ``openssl s_client`` against our ``EchoServer``, whose poll loop runs in a
  background thread with a stop event and a deadline: handshake, echo, close from
  either side, DTLS 1.0 refused, small link MTUs (fragmented handshake messages).

The negotiated protocol and cipher and the handshake times are printed (``pytest -s``)
and kept in the report with ``record_property``. Every wait has an explicit deadline;
each test finishes in well under a second on loopback. Missing ``openssl``: skipped
locally, failed when ``CI=true``.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable

import pytest

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, Status, TLSOptions
from godot_dtls.api.context import CIPHER_LIST
from godot_dtls.tools.serve import EchoServer, wait_readable
from support import openssl_peer
from support.interop_cases import REJECTIONS, VerificationCase, verification_params
from support.interop_support import PolledClient, polled_client
from support.polling import require

if TYPE_CHECKING:
    from conftest import TestPKI

#: Hard stop per test (pytest-timeout); every test is designed to end far sooner.
OPENSSL_TEST_TIMEOUT = 30

pytestmark = [pytest.mark.interop, pytest.mark.timeout(OPENSSL_TEST_TIMEOUT)]

HOST = "127.0.0.1"
#: Deadline of one DTLS handshake.
HANDSHAKE_TIMEOUT = 5.0
#: Deadline of one line / packet crossing over.
DATA_TIMEOUT = 3.0
#: Deadline for an openssl process to print an expected line or to exit.
PROCESS_TIMEOUT = 5.0
#: Lifetime of the echo server thread: bounds a hang of any test below.
SERVER_DEADLINE = 15.0
#: Longest single sleep of a polling loop.
POLL_INTERVAL = 0.01

#: The suites godot_dtls offers (its whole cipher list, without @SECLEVEL).
OUR_CIPHERS = [name.decode() for name in CIPHER_LIST.split(b":") if not name.startswith(b"@")]
#: The key exchange / signature part every negotiated suite must have, per key type.
SUITE_PREFIX = {"ecdsa": "ECDHE-ECDSA-", "rsa": "ECDHE-RSA-"}


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def openssl() -> str:
    """Path of the openssl tool; skip (or fail on CI) when it is missing."""
    binary = openssl_peer.openssl_binary()
    if binary is None:
        message = "openssl not installed (apt-get install openssl)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    print(f"\nopenssl: {binary}: {openssl_peer.openssl_version(binary)}")
    return binary


# ------------------------------------------------------------------- godot_dtls client


# ------------------------------------------------------------------ godot_dtls server


class EchoServerThread:
    """Our ``EchoServer`` polled in a background thread until stopped or its deadline."""

    def __init__(self, options: TLSOptions, *, dtls_server: DTLSServer | None = None) -> None:
        self.events: list[tuple[int, Status]] = []
        self.server = EchoServer(
            options,
            0,
            HOST,
            on_status=lambda peer_id, status: self.events.append((peer_id, status)),
            dtls_server=dtls_server,
        )
        self.stop_event = threading.Event()
        self.deadline = time.monotonic() + SERVER_DEADLINE
        self.error: BaseException | None = None
        self.timed_out = False
        self._thread = threading.Thread(target=self._run, name="echo-server", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    return
                self.server.poll()
                wait_readable([self.server.fileno()], POLL_INTERVAL)
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self.server.stop()

    def start(self) -> EchoServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self._thread.join(timeout=5.0)
        assert not self._thread.is_alive(), "the echo server thread did not stop"
        if self.error is not None:
            raise AssertionError(f"the echo server loop raised {self.error!r}") from self.error
        assert not self.timed_out, "the echo server thread reached its deadline"

    def statuses(self) -> list[Status]:
        return [status for _, status in list(self.events)]

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        require(
            until=condition,
            what=what,
            timeout=timeout,
            interval=0.005,
            detail=lambda: str(self.events),
        )

    def __enter__(self) -> EchoServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _server_lines_with_errors(process: openssl_peer.OpenSSLProcess) -> list[str]:
    """OpenSSL's ``ERROR`` marker and error-queue lines (``...:error:...``)."""
    return process.find_all(r"^ERROR$|:error:")


def _report(
    record_property: Callable[[str, object], None], label: str, protocol: str, cipher: str
) -> None:
    print(f"\n{label}: {protocol} {cipher}")
    record_property(f"{label} protocol", protocol)
    record_property(f"{label} cipher", cipher)


# --------------------------------------------------- 1. our client -> openssl s_server


@pytest.mark.parametrize("listen", [True, False], ids=["listen", "no-listen"])
def test_client_to_s_server(
    openssl: str,
    server_pki: TestPKI,
    key_type: str,
    listen: bool,
    record_property: Callable[[str, object], None],
) -> None:
    """Handshake, data both ways, our close_notify: s_server logs a clean close."""
    with openssl_peer.start_s_server(
        server_pki.cert_path, server_pki.key_path, listen=listen, naccept=1, binary=openssl
    ) as server, polled_client() as client:
        status = client.connect(server.port, "localhost", server_pki.client_options())
        assert status is Status.CONNECTED, (
            f"{client.peer.get_last_error_message()}\n{server.output()}"
        )
        assert client.statuses == [Status.HANDSHAKING, Status.CONNECTED]
        # ClientHello, ClientHello with the cookie, ClientKeyExchange..Finished: s_server
        # always asks for a cookie (in-connection without -listen, statelessly with it).
        sent = client.peer.get_stats()["datagrams_sent"]
        assert sent == 3, client.peer.get_stats()
        protocol, cipher = client.negotiated()
        server_cipher = server.wait_for(r"^CIPHER is (\S+)$", PROCESS_TIMEOUT).group(1)
        assert protocol == "DTLSv1.2"
        assert cipher == server_cipher
        assert cipher in OUR_CIPHERS
        assert cipher.startswith(SUITE_PREFIX[key_type])
        _report(record_property, f"godot_dtls -> s_server ({key_type})", protocol, cipher)
        print(f"handshake {client.handshake_seconds * 1000:.1f} ms")
        record_property("handshake_ms", round(client.handshake_seconds * 1000, 2))

        # Client -> server: each packet is one record; s_server prints it raw.
        line = f"hello from godot_dtls ({key_type})"
        started = time.perf_counter()
        assert client.peer.put_packet(f"{line}\n".encode()) == Error.OK
        server.wait_for(f"^{re.escape(line)}$", DATA_TIMEOUT, stream="stdout", on_wait=client.poll)
        print(f"client -> s_server line: {(time.perf_counter() - started) * 1000:.1f} ms")

        # Server -> client: a line typed into s_server arrives as one packet.
        reply = f"hello from openssl s_server ({key_type})"
        started = time.perf_counter()
        server.write_line(reply)
        assert client.receive() == f"{reply}\n".encode()
        print(f"s_server -> client line: {(time.perf_counter() - started) * 1000:.1f} ms")

        # A burst of packets arrives whole and in order.
        mark = server.mark()
        burst = [f"burst {index:02d} {'x' * index}" for index in range(20)]
        for text in burst:
            assert client.peer.put_packet(f"{text}\n".encode()) == Error.OK
        server.wait_for(
            f"^{re.escape(burst[-1])}$",
            DATA_TIMEOUT,
            stream="stdout",
            start=mark,
            on_wait=client.poll,
        )
        received = [text for text in server.lines("stdout")[mark:] if text.startswith("burst")]
        assert received == burst

        # Our close_notify: s_server reads end of stream and closes cleanly, then exits
        # (-naccept 1) with code 0.
        client.peer.disconnect_from_peer()
        assert client.peer.get_status() is Status.DISCONNECTED
        server.wait_for(r"^DONE$", PROCESS_TIMEOUT)
        server.wait_for(r"^CONNECTION CLOSED$", PROCESS_TIMEOUT)
        assert server.wait(PROCESS_TIMEOUT) == 0, server.output()
        assert not _server_lines_with_errors(server), server.output()


def test_s_server_goes_away(openssl: str, pki: TestPKI) -> None:
    """s_server quits after a last line: the line is delivered, then the next packet
    meets a closed port and the connection ends.

    OpenSSL 3.0's s_server cannot send close_notify first: on stdin EOF (and on its
    ``Q``/``q`` commands) it closes the DTLS socket before ``SSL_shutdown`` (strace shows
    the alert's ``write`` failing with EBADF), so no close_notify ever leaves it.
    """
    with openssl_peer.start_s_server(
        pki.cert_path, pki.key_path, naccept=1, binary=openssl
    ) as server, polled_client() as client:
        status = client.connect(server.port, "localhost", pki.client_options())
        assert status is Status.CONNECTED, client.peer.get_last_error_message()
        server.wait_for(r"^CIPHER is ", PROCESS_TIMEOUT)
        server.write_line("last words")
        server.close_stdin()
        assert server.wait(PROCESS_TIMEOUT, on_wait=client.poll) == 0, server.output()
        server.wait_for(r"^DONE$", PROCESS_TIMEOUT)
        assert client.receive() == b"last words\n"
        assert client.peer.get_status() is Status.CONNECTED  # no close_notify came
        # Nobody listens any more: the ICMP port unreachable ends the connection.
        assert client.peer.put_packet(b"anyone there?\n") == Error.OK
        client.poll_until(
            lambda: client.peer.get_status() is not Status.CONNECTED,
            DATA_TIMEOUT,
            "the connection to end",
        )
        assert client.peer.get_status() in (Status.ERROR, Status.DISCONNECTED)
        print(
            f"\nafter s_server exited: {client.peer.get_status()!r} "
            f"({client.peer.get_last_error_message()})"
        )


@pytest.mark.parametrize("case", verification_params(*REJECTIONS))
def test_client_rejects_s_server_certificate(
    openssl: str, pki: TestPKI, other_pki: TestPKI, case: VerificationCase
) -> None:
    """A wrong name ends in status 4, an unknown CA in status 3; s_server sees our
    fatal alert and no handshake completes."""
    hostname, expected = case.hostname, case.expected
    options = case.client_options(pki, other_pki)
    with openssl_peer.start_s_server(
        pki.cert_path, pki.key_path, naccept=1, binary=openssl
    ) as server, polled_client() as client:
        status = client.connect(server.port, hostname, options)
        assert status == expected, f"{client.peer.get_last_error_message()}\n{server.output()}"
        assert int(status) == (4 if expected is Status.ERROR_HOSTNAME_MISMATCH else 3)
        message = client.peer.get_last_error_message()
        if expected is Status.ERROR_HOSTNAME_MISMATCH:
            assert "mismatch" in message
        else:
            assert "unable to get local issuer certificate" in message
        # An error status is final.
        client.peer.poll()
        client.peer.disconnect_from_peer()
        assert client.peer.get_status() == expected
        assert client.statuses == [Status.HANDSHAKING, expected]

        # s_server got our fatal alert, gave up on the handshake and exits (-naccept 1).
        server.wait_for(r"SSL alert number \d+", PROCESS_TIMEOUT, stream="stderr")
        assert server.wait(PROCESS_TIMEOUT) == 0, server.output()
        if case.name == "untrusted_ca":
            assert server.find(r"alert unknown ca"), server.output()
        assert server.find(r"^CIPHER is ") is None, server.output()
        assert client.peer.get_stats()["alerts_sent"], "no alert recorded as sent"


def test_hostname_mismatch_sends_bad_certificate(openssl: str, pki: TestPKI) -> None:
    """The engine (mbedTLS) sends bad_certificate for a name mismatch; so should we."""
    with openssl_peer.start_s_server(
        pki.cert_path, pki.key_path, naccept=1, binary=openssl
    ) as server, polled_client() as client:
        status = client.connect(server.port, "wrong.example", pki.client_options())
        assert status is Status.ERROR_HOSTNAME_MISMATCH
        alert = server.wait_for(r"alert (.*?):", PROCESS_TIMEOUT, stream="stderr")
        assert client.peer.get_stats()["alerts_sent"] == ["bad_certificate"]
        assert alert.group(1) == "bad certificate", server.output()


class _Player:
    """Owns a peer and receives its status changes (peer -> bound method -> player)."""

    def __init__(self, peer: PacketPeerDTLS) -> None:
        self.peer = peer
        self.itself: _Player | None = None
        peer.status_changed = self.on_status

    def on_status(self, status: Status) -> None:
        print(f"player: {status!r}")


def test_peer_collected_in_a_cycle_closes_cleanly(
    openssl: str, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping a connected peer that sits in a reference cycle (e.g. with the game
    object that owns it and is its status callback) sends close_notify to s_server
    without any error."""
    unraisable: list[str] = []
    with openssl_peer.start_s_server(
        pki.cert_path, pki.key_path, naccept=1, binary=openssl
    ) as server:
        client = PolledClient()
        status = client.connect(server.port, "localhost", pki.client_options())
        assert status is Status.CONNECTED, client.peer.get_last_error_message()
        server.wait_for(r"^CIPHER is ", PROCESS_TIMEOUT)
        # A typical game object: it owns the peer and listens to its status changes.
        player = _Player(client.peer)
        player.itself = player  # and it sits in a reference cycle
        # The UDP peer stays referenced here: only the DTLS side is left to the GC (when
        # the socket is garbage too, it may be finalised first and the alert is lost).
        udp = client.udp
        gc.collect()  # other garbage first
        monkeypatch.setattr(
            sys,
            "unraisablehook",
            lambda info: unraisable.append(f"{info.exc_type.__name__}: {info.exc_value!r}"),
        )
        del client, player
        gc.collect()
        try:
            # s_server reads the close_notify as the end of the stream.
            server.wait_for(r"^DONE$", DATA_TIMEOUT)
            closed = True
        except openssl_peer.OpenSSLError:
            closed = False
        udp.close()
    assert (closed, unraisable) == (True, []), server.output()


@pytest.mark.parametrize("mtu", [256, 1200])
def test_client_to_s_server_small_mtu(
    openssl: str, rsa_pki: TestPKI, mtu: int, record_property: Callable[[str, object], None]
) -> None:
    """Fragmented handshake messages both ways: s_server with ``-mtu`` (a link MTU: its
    datagrams are 28 bytes smaller, so its RSA Certificate message is split) and our
    client with datagrams of at most ``mtu`` bytes (godot_dtls' minimum is 256)."""
    with openssl_peer.start_s_server(
        rsa_pki.cert_path, rsa_pki.key_path, naccept=1, mtu=mtu, binary=openssl
    ) as server, polled_client(mtu=mtu) as client:
        status = client.connect(server.port, "localhost", rsa_pki.client_options())
        assert status is Status.CONNECTED, (
            f"{client.peer.get_last_error_message()}\n{server.output()}"
        )
        protocol, cipher = client.negotiated()
        _report(record_property, f"godot_dtls -> s_server -mtu {mtu}", protocol, cipher)
        stats = client.peer.get_stats()
        if mtu == 256:
            # The server flight (a ~1 kB Certificate) came in several datagrams.
            assert stats["datagrams_received"] > 4, stats
        assert client.peer.put_packet(b"small mtu\n") == Error.OK
        server.wait_for(r"^small mtu$", DATA_TIMEOUT, stream="stdout", on_wait=client.poll)
        server.write_line("small mtu reply")
        assert client.receive() == b"small mtu reply\n"
        client.peer.disconnect_from_peer()
        assert server.wait(PROCESS_TIMEOUT) == 0, server.output()


# --------------------------------------------------- 2. openssl s_client -> our server


def _s_client_session(client: openssl_peer.OpenSSLProcess) -> tuple[str, str]:
    """Wait for s_client's verified session summary; returns (protocol, cipher)."""
    client.wait_for(r"Verify return code: 0 \(ok\)", HANDSHAKE_TIMEOUT, stream="stdout")
    protocol = openssl_peer.negotiated_protocol(client)
    cipher = openssl_peer.negotiated_cipher(client)
    assert protocol is not None and cipher is not None, client.output()
    return protocol, cipher


def _echo_line(client: openssl_peer.OpenSSLProcess, line: str) -> float:
    """Type ``line`` into s_client and wait for it to come back; returns seconds."""
    mark = client.mark()
    started = time.perf_counter()
    client.write_line(line)
    client.wait_for(f"^{re.escape(line)}$", DATA_TIMEOUT, stream="stdout", start=mark)
    return time.perf_counter() - started


@pytest.mark.parametrize("version", ["-dtls1_2", "-dtls"])
def test_s_client_to_echo_server(
    openssl: str,
    server_pki: TestPKI,
    key_type: str,
    version: str,
    record_property: Callable[[str, object], None],
) -> None:
    """s_client (verifying chain and name) completes the handshake, gets its line echoed
    and closes with close_notify (its stdin closed): our peer ends DISCONNECTED."""
    with EchoServerThread(server_pki.server_options()) as echo, openssl_peer.s_client_process(
        echo.port, version=version, ca=server_pki.ca_path, binary=openssl
    ) as client:
        protocol, cipher = _s_client_session(client)
        assert protocol == "DTLSv1.2"
        assert cipher in OUR_CIPHERS
        assert cipher.startswith(SUITE_PREFIX[key_type])
        assert client.find(r"^Verified peername: localhost$"), client.output()
        _report(record_property, f"s_client {version} -> EchoServer ({key_type})", protocol, cipher)
        handshake = client.elapsed
        print(f"s_client process start to verified session: {handshake * 1000:.1f} ms")

        rtt = _echo_line(client, f"hello from openssl s_client ({key_type})")
        print(f"s_client line echoed in {rtt * 1000:.1f} ms")
        record_property("echo_ms", round(rtt * 1000, 2))
        _echo_line(client, "a second line, " + "y" * 200)

        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()
        assert client.find(r"^DONE$", stream="stderr"), client.output()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )
        assert echo.statuses() == [Status.CONNECTED, Status.DISCONNECTED]
        assert echo.server.connections == 1
        assert echo.server.cookie_exchanges == 1
        assert echo.server.packets_echoed == 2
        assert not client.find(r":error:"), client.output()


def test_echo_server_closes_s_client(openssl: str, pki: TestPKI) -> None:
    """Our server's close_notify (EchoServer.stop) ends s_client cleanly."""
    echo = EchoServerThread(pki.server_options()).start()
    try:
        with openssl_peer.s_client_process(echo.port, ca=pki.ca_path, binary=openssl) as client:
            _s_client_session(client)
            _echo_line(client, "before the close")
            echo.stop()  # the loop ends and EchoServer.stop() sends close_notify
            assert client.wait(PROCESS_TIMEOUT) == 0, client.output()
            assert client.find(r"^closed$"), client.output()
            assert not client.find(r":error:"), client.output()
    finally:
        echo.stop()  # idempotent: a no-op unless the test failed before its own stop()


def test_s_client_dtls1_0_is_refused(
    openssl: str, pki: TestPKI, record_property: Callable[[str, object], None]
) -> None:
    """DTLS 1.0 only (``-dtls1``, security level 0 so the client really offers it):
    our DTLS 1.2-only server answers protocol_version and s_client fails; the server
    goes on serving DTLS 1.2 clients."""
    with EchoServerThread(pki.server_options()) as echo:
        with openssl_peer.s_client_process(
            echo.port,
            version="-dtls1",
            ca=pki.ca_path,
            extra=["-cipher", "DEFAULT:@SECLEVEL=0"],
            binary=openssl,
        ) as client:
            code = client.wait(PROCESS_TIMEOUT)
            assert code != 0, client.output()
            # The refusal came from our server (not a local configuration problem).
            assert client.find(r"alert protocol version", stream="stderr"), client.output()
            assert client.find(r"SSL alert number 70", stream="stderr"), client.output()
            assert openssl_peer.negotiated_cipher(client) is None, client.output()
            record_property("dtls1 refusal", client.find_all(r"alert protocol version")[0])
        assert Status.CONNECTED not in echo.statuses()
        assert echo.server.connections == 0
        assert echo.server.packets_echoed == 0

        with openssl_peer.s_client_process(echo.port, ca=pki.ca_path, binary=openssl) as after:
            protocol, _ = _s_client_session(after)
            assert protocol == "DTLSv1.2"
            _echo_line(after, "still serving DTLS 1.2")


@pytest.mark.parametrize(
    ("client_mtu", "server_mtu"),
    [(1200, None), (576, None), (256, None), (None, 256), (256, 256)],
    ids=["s_client-1200", "s_client-576", "s_client-256", "server-256", "both-256"],
)
def test_s_client_small_mtu(
    openssl: str,
    rsa_pki: TestPKI,
    client_mtu: int | None,
    server_mtu: int | None,
    record_property: Callable[[str, object], None],
) -> None:
    """Small MTUs with an RSA certificate: s_client ``-mtu`` (at 256 its ClientHello
    with the cookie is split over two datagrams) and/or our server's MTU (its
    Certificate message fragmented)."""
    dtls_server = None if server_mtu is None else DTLSServer(mtu=server_mtu)
    with EchoServerThread(
        rsa_pki.server_options(), dtls_server=dtls_server
    ) as echo, openssl_peer.s_client_process(
        echo.port, ca=rsa_pki.ca_path, mtu=client_mtu, binary=openssl
    ) as client:
        protocol, cipher = _s_client_session(client)
        assert protocol == "DTLSv1.2"
        _report(
            record_property,
            f"s_client -mtu {client_mtu or 'default'} -> EchoServer mtu {server_mtu or 1400}",
            protocol,
            cipher,
        )
        _echo_line(client, "small mtu line " + "z" * 100)
        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )
        assert echo.server.packets_echoed == 1
