"""Interop: godot_dtls against the real Godot 3.2.3 engine (``godot3-server``, mbedTLS).

Both directions on 127.0.0.1, with the trustme certificates of ``conftest.py``:

* our ``PacketPeerDTLS`` client against Godot's ``DTLSServer`` (``dtls_server.gd``);
* Godot's ``PacketPeerDTLS`` client (``dtls_client.gd``) against our ``EchoServer``,
  whose poll loop runs in a background thread with a stop event and a deadline.

Handshake times and round-trip times are printed (``pytest -s``), kept in the test
report with ``record_property`` and summed up in a table when the module ends.
Every wait has an explicit deadline; each test finishes in a few seconds.
Missing ``godot3-server``: skipped locally, failed when ``CI=true``.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import pytest

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, Status, TLSOptions
from godot_dtls.net import PacketPeerUDP
from godot_dtls.tools.serve import EchoServer, wait_readable
from support import godot_peer
from support.interop_cases import KEY_TYPES, VerificationCase, verification_params
from support.polling import poll_until

pytestmark = pytest.mark.interop

#: Hard stop per test (pytest-timeout); every test is designed to end far sooner.
GODOT_TEST_TIMEOUT = 30
#: Deadline of one DTLS handshake.
HANDSHAKE_TIMEOUT = 5.0
#: Deadline of one echo round trip.
ECHO_TIMEOUT = 3.0
#: Deadline for a Godot process to print its RESULT line.
RESULT_TIMEOUT = 12.0
#: Deadline for a Godot process to exit after its RESULT line.
EXIT_TIMEOUT = 5.0
#: Godot server lifetime: long enough for any test here, short enough to bound a hang.
SERVER_DURATION = 12.0

HOST = "127.0.0.1"
#: Godot 3.2.3 reports both a wrong name and an unknown CA as STATUS_ERROR.
GODOT_STATUS_CONNECTED = 2
GODOT_STATUS_ERROR = 3

# Module-wide measurements, printed as a table at the end (see ``measurements``).
_MEASUREMENTS: list[tuple[str, str, float, dict[int, float]]] = []


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def godot3() -> str:
    """Path of godot3-server; skip (or fail on CI) when it is missing."""
    return godot_peer.require_godot3()


@pytest.fixture(scope="module", autouse=True)
def measurements() -> Iterator[None]:
    """Print the table of everything measured in this module once it is done."""
    yield
    if not _MEASUREMENTS:
        return
    sizes = sorted({size for _, _, _, rtts in _MEASUREMENTS for size in rtts})
    header = f"{'direction':<34} {'cert':<6} {'handshake ms':>12}" + "".join(
        f" {f'{size} B µs':>10}" for size in sizes
    )
    lines = ["", "Godot 3.2.3 interop (RTT = median µs per payload size)", header]
    lines.append("-" * len(header))
    for direction, cert, handshake_ms, rtts in _MEASUREMENTS:
        cells = "".join(
            f" {rtts[size]:>10.0f}" if size in rtts else f" {'-':>10}" for size in sizes
        )
        lines.append(f"{direction:<34} {cert:<6} {handshake_ms:>12.1f}{cells}")
    print("\n".join(lines))


def _report(
    record_property: Callable[[str, object], None],
    direction: str,
    cert: str,
    handshake_ms: float,
    rtts_us: dict[int, list[float]],
) -> dict[int, float]:
    """Print, record (junit properties) and remember one run's measurements."""
    medians = {size: statistics.median(values) for size, values in rtts_us.items() if values}
    record_property("direction", direction)
    record_property("certificate", cert)
    record_property("handshake_ms", round(handshake_ms, 2))
    for size, median in medians.items():
        record_property(f"rtt_us_median_{size}", round(median, 1))
        record_property(f"rtt_us_min_{size}", round(min(rtts_us[size]), 1))
        record_property(f"rtt_us_max_{size}", round(max(rtts_us[size]), 1))
    _MEASUREMENTS.append((direction, cert, handshake_ms, medians))
    rtt_text = ", ".join(
        f"{size} B {median:.0f} µs (n={len(rtts_us[size])})" for size, median in medians.items()
    )
    print(f"\n[{direction} / {cert}] handshake {handshake_ms:.1f} ms; RTT median: {rtt_text}")
    return medians


# ---------------------------------------------------------------------------- our client


@dataclass
class Client:
    """One of our DTLS clients, its UDP peer and how long its handshake took."""

    peer: PacketPeerDTLS
    udp: PacketPeerUDP
    started: float = 0.0
    handshake_ms: float = 0.0
    rtts_us: dict[int, list[float]] = field(default_factory=dict)

    def close(self) -> None:
        self.peer.disconnect_from_peer()
        self.udp.close()


def _start_client(port: int, hostname: str, options: TLSOptions) -> Client:
    """Connect the UDP peer and send the ClientHello (status HANDSHAKING)."""
    udp = PacketPeerUDP()
    assert udp.connect_to_host(HOST, port) == Error.OK
    peer = PacketPeerDTLS()
    client = Client(peer, udp, started=time.perf_counter())
    assert peer.connect_to_peer(udp, hostname, options) == Error.OK
    assert peer.get_status() is Status.HANDSHAKING
    return client


def _handshake(clients: Sequence[Client], timeout: float = HANDSHAKE_TIMEOUT) -> None:
    """Drive the handshakes of ``clients`` to an end state; records each one's time."""
    pending = list(clients)

    def settled() -> bool:
        for client in list(pending):
            if client.peer.get_status() is not Status.HANDSHAKING:
                client.handshake_ms = (time.perf_counter() - client.started) * 1000.0
                pending.remove(client)
        return not pending

    poll_until(
        *[c.peer for c in clients],
        until=settled,
        timeout=timeout,
        fds=[c.udp.fileno() for c in clients],
        interval=0.005,
    )
    assert not pending, f"handshake still running after {timeout:.1f} s"


def _connect(port: int, hostname: str, options: TLSOptions) -> Client:
    client = _start_client(port, hostname, options)
    _handshake([client])
    return client


def _has_packet_or_ended(client: Client) -> Callable[[], bool]:
    peer = client.peer
    return lambda: (
        peer.get_status() is not Status.CONNECTED or peer.get_available_packet_count() > 0
    )


def _echo(client: Client, data: bytes, timeout: float = ECHO_TIMEOUT) -> float:
    """Send ``data``, wait for the echo, check it byte for byte; returns the RTT in µs."""
    peer = client.peer
    sent = time.perf_counter()
    assert peer.put_packet(data) == Error.OK
    got = poll_until(
        client.peer, until=_has_packet_or_ended(client), timeout=timeout, fds=[client.udp.fileno()]
    )
    assert got, f"no echo of {len(data)} bytes within {timeout} s"
    assert peer.get_status() is Status.CONNECTED, peer.get_last_error_message()
    echo = peer.get_packet()
    rtt_us = (time.perf_counter() - sent) * 1e6
    assert peer.get_packet_error() == Error.OK
    assert len(echo) == len(data)
    assert echo == data, f"echo of {len(data)} bytes differs"
    client.rtts_us.setdefault(len(data), []).append(rtt_us)
    return rtt_us


def _finish(server: godot_peer.GodotProcess) -> dict[str, Any]:
    """Wait for a Godot server's RESULT and exit; check the exit code matches."""
    result = server.result(timeout=RESULT_TIMEOUT)
    assert server.wait(timeout=EXIT_TIMEOUT) == result["exit_code"], server.output()
    return result


def _godot_server(pki: Any, max_peers: int) -> godot_peer.GodotProcess:
    return godot_peer.start_dtls_server(
        pki.key_path, pki.cert_path, duration=SERVER_DURATION, max_peers=max_peers
    )


# ------------------------------------------------------- 1. our client -> Godot server

ECHO_SIZES = (64, 1200, 4096, 16384)
ECHO_COUNT = 5


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
@pytest.mark.parametrize(("pki_name", "cert"), KEY_TYPES)
def test_client_to_godot_server_echo(
    godot3: str,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
    pki_name: str,
    cert: str,
) -> None:
    """Trusted CA + "localhost": CONNECTED, every size echoed byte for byte, clean close."""
    pki = request.getfixturevalue(pki_name)
    with _godot_server(pki, max_peers=1) as server:
        assert server.port is not None
        client = _connect(server.port, "localhost", pki.client_options())
        try:
            assert client.peer.get_status() is Status.CONNECTED, (
                client.peer.get_last_error_message() + "\n" + server.output()
            )
            seq = 0
            for size in ECHO_SIZES:
                for _ in range(ECHO_COUNT):
                    _echo(client, godot_peer.payload(seq, size))
                    seq += 1
        finally:
            client.close()
        assert client.peer.get_status() is Status.DISCONNECTED
        result = _finish(server)

    _report(
        record_property, "our client -> Godot server", cert, client.handshake_ms, client.rtts_us
    )
    assert 0 < client.handshake_ms < HANDSHAKE_TIMEOUT * 1000
    # Godot saw one cookie round, one connection, and our close_notify.
    assert result["reason"] == "max_peers", server.output()
    assert result["exit_code"] == 0
    assert result["cookie_rejects"] == 1
    assert result["connections"] == result["connected"] == 1
    assert result["closed"] == 1 and result["failed"] == 0
    assert result["packets"] == len(ECHO_SIZES) * ECHO_COUNT
    assert result["bytes"] == ECHO_COUNT * sum(ECHO_SIZES)
    assert result["put_errors"] == 0


# ------------------------------------------- 2. our client: name and trust failures


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
@pytest.mark.parametrize("case", verification_params())
def test_client_to_godot_server_verification(
    godot3: str, pki: Any, other_pki: Any, case: VerificationCase
) -> None:
    """Wrong name -> 4, unknown CA -> 3, ``client_unsafe()`` connects to an untrusted
    server; plus the name-check variants (override, IP SAN, case)."""
    hostname, expected = case.hostname, case.expected
    options = case.client_options(pki, other_pki)
    with _godot_server(pki, max_peers=1) as server:
        assert server.port is not None
        client = _connect(server.port, hostname, options)
        try:
            status = client.peer.get_status()
            assert status == expected, (
                f"{status!r}: {client.peer.get_last_error_message()}\n{server.output()}"
            )
            if expected is Status.CONNECTED:
                _echo(client, godot_peer.payload(0, 64))
            else:
                assert client.peer.get_last_error_message()
                # An error status is final: polling or disconnecting does not change it.
                client.peer.poll()
                client.peer.disconnect_from_peer()
                assert client.peer.get_status() == expected
        finally:
            client.close()
        result = _finish(server)

    assert result["reason"] == "max_peers", server.output()
    assert result["connections"] == 1
    if expected is Status.CONNECTED:
        assert result["connected"] == result["closed"] == 1
        assert result["packets"] == 1
    else:
        # Our client aborted the handshake with a fatal alert: Godot's peer failed.
        assert result["connected"] == 0
        assert result["failed"] == 1


# ------------------------------------------------------- 3. Godot client -> our server


class CountingDTLSServer(DTLSServer):
    """A DTLSServer that records how many datagrams each taken UDP peer had queued."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[int] = []

    def take_connection(self, udp_peer: Any) -> PacketPeerDTLS | None:
        self.queued.append(udp_peer.get_available_packet_count())
        return super().take_connection(udp_peer)


class EchoServerThread:
    """Our EchoServer polled in a background thread until stopped or the deadline."""

    def __init__(
        self,
        options: TLSOptions,
        deadline_s: float = 15.0,
        gate: threading.Event | None = None,
    ) -> None:
        """``gate``: if given, the server does not poll (its socket just queues the
        datagrams) until the event is set."""
        self.events: list[tuple[int, Status]] = []
        self.dtls_server = CountingDTLSServer()
        self.server = EchoServer(
            options,
            0,
            HOST,
            on_status=lambda pid, status: self.events.append((pid, status)),
            dtls_server=self.dtls_server,
        )
        self.stop_event = threading.Event()
        self.gate = gate
        self.deadline = time.monotonic() + deadline_s
        self.error: BaseException | None = None
        self.timed_out = False
        self._thread = threading.Thread(target=self._run, name="echo-server", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        try:
            if self.gate is not None:
                while not self.gate.wait(0.005):
                    if self.stop_event.is_set() or time.monotonic() >= self.deadline:
                        return
            while not self.stop_event.is_set():
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    break
                self.server.poll()
                wait_readable([self.server.fileno()], 0.002)
        except BaseException as exc:
            self.error = exc

    def statuses(self, peer_id: int) -> list[Status]:
        return [status for pid, status in list(self.events) if pid == peer_id]

    def wait_peer_end(self, peer_id: int, timeout: float) -> list[Status]:
        """Wait until peer ``peer_id`` left HANDSHAKING/CONNECTED; returns its statuses."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = self.statuses(peer_id)
            if statuses and statuses[-1] not in (Status.HANDSHAKING, Status.CONNECTED):
                return statuses
            time.sleep(0.005)
        return self.statuses(peer_id)

    def __enter__(self) -> EchoServerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        self._thread.join(timeout=5.0)
        assert not self._thread.is_alive(), "echo server thread did not stop"
        self.server.stop()
        if self.error is not None and exc_info[0] is None:
            raise self.error


GODOT_ECHO_SIZES = (64, 1200, 16384)
GODOT_ECHO_COUNT = 3


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
@pytest.mark.parametrize(("pki_name", "cert"), KEY_TYPES)
def test_godot_client_to_our_server_echo(
    godot3: str,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
    pki_name: str,
    cert: str,
) -> None:
    """Godot's client with the right CA and name: CONNECTED, every echo matches."""
    pki = request.getfixturevalue(pki_name)
    with EchoServerThread(pki.server_options()) as echo:
        with godot_peer.dtls_client_process(
            echo.port,
            hostname="localhost",
            ca=pki.ca_path,
            sizes=GODOT_ECHO_SIZES,
            count=GODOT_ECHO_COUNT,
            timeout=10,
            packet_timeout=2,
        ) as client:
            result = client.result(timeout=RESULT_TIMEOUT)
            assert client.wait(timeout=EXIT_TIMEOUT) == result["exit_code"], client.output()
        # Godot's disconnect_from_peer sent close_notify: our peer ends DISCONNECTED.
        statuses = echo.wait_peer_end(1, timeout=3.0)
    assert not echo.timed_out

    expected = GODOT_ECHO_COUNT * len(GODOT_ECHO_SIZES)
    assert result["status"] == GODOT_STATUS_CONNECTED, client.output()
    # [1, 2]; just [2] if the whole handshake ran inside Godot's connect_to_peer().
    assert client.statuses() in ([1, GODOT_STATUS_CONNECTED], [GODOT_STATUS_CONNECTED])
    assert result["exit_code"] == 0, client.output()
    assert result["echoed"] == result["expected"] == expected
    assert result["mismatches"] == 0 and result["lost"] == 0 and result["send_errors"] == 0
    assert result["bytes"] == GODOT_ECHO_COUNT * sum(GODOT_ECHO_SIZES)

    server = echo.server
    assert echo.dtls_server.queued == [1, 1]  # the ClientHello, then its cookie retry
    assert server.cookie_exchanges == 1
    assert server.connections == 1  # the cookie retry became one new connection
    assert server.packets_echoed == expected
    assert server.bytes_echoed == result["bytes"]
    assert statuses == [Status.CONNECTED, Status.DISCONNECTED], echo.events

    # rtt_us holds one entry per echoed packet, in send order (sizes x count).
    rtts = result["rtt_us"]
    by_size: dict[int, list[float]] = {}
    for index, size in enumerate(s for s in GODOT_ECHO_SIZES for _ in range(GODOT_ECHO_COUNT)):
        by_size.setdefault(size, []).append(float(rtts[index]))
    _report(
        record_property, "Godot client -> our server", cert, float(result["handshake_ms"]), by_size
    )


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
@pytest.mark.parametrize(
    ("case", "alert"), [("wrong_hostname", "bad_certificate"), ("untrusted_ca", "unknown_ca")]
)
def test_godot_client_to_our_server_rejects(
    godot3: str,
    pki: Any,
    other_pki: Any,
    dtls_log: pytest.LogCaptureFixture,
    case: str,
    alert: str,
) -> None:
    """Godot's client refuses our certificate (status 3); our peer gets its fatal alert.

    Godot 3.2.3 quirk: when the handshake fails *inside* ``connect_to_peer()`` (possible
    when the server answers every flight within microseconds), the engine returns FAILED
    and reports STATUS_ERROR_HOSTNAME_MISMATCH (4) whatever the cause; a failure in a
    later ``poll()`` gives STATUS_ERROR (3). Our server therefore starts answering only
    once Godot printed its first status, i.e. ``connect_to_peer()`` returned.
    """
    hostname = "wrong.example" if case == "wrong_hostname" else "localhost"
    ca = pki.ca_path if case == "wrong_hostname" else other_pki.ca_path
    gate = threading.Event()
    with EchoServerThread(pki.server_options(), gate=gate) as echo:
        with godot_peer.dtls_client_process(
            echo.port, hostname=hostname, ca=ca, mode="handshake", timeout=8
        ) as client:
            first = client.wait_for("STATUS ", timeout=RESULT_TIMEOUT)
            gate.set()
            result = client.result(timeout=RESULT_TIMEOUT)
            assert client.wait(timeout=EXIT_TIMEOUT) == result["exit_code"], client.output()
        statuses = echo.wait_peer_end(1, timeout=3.0)
    assert not echo.timed_out

    assert first == "STATUS 1", client.output()
    assert result["connect_error"] == 0
    assert result["status"] == GODOT_STATUS_ERROR, client.output()
    assert result["final_status"] == GODOT_STATUS_ERROR, client.output()
    assert client.statuses() == [1, GODOT_STATUS_ERROR]
    assert result["exit_code"] == godot_peer.EXIT_HANDSHAKE_FAILED
    # mbedTLS: MBEDTLS_ERR_X509_CERT_VERIFY_FAILED.
    assert any("-9984" in line for line in client.stderr_lines + client.lines), client.output()

    server = echo.server
    assert server.cookie_exchanges == 1
    assert server.connections == 1
    assert server.packets_echoed == 0
    assert statuses == [Status.ERROR], echo.events
    assert not server.peers
    assert f"fatal alert: {alert}" in dtls_log.text


#: Godot 3.2.3 (mbedTLS) resends an unanswered flight after 1 s, then 2 s later.
GODOT_FIRST_RETRANSMIT = 1.0


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_godot_client_retransmitted_client_hello(godot3: str, pki: Any) -> None:
    """Our server first looks at its socket after Godot's retransmission timer fired:
    two queued ClientHellos make one cookie exchange, and the handshake completes."""
    gate = threading.Event()
    with EchoServerThread(pki.server_options(), gate=gate) as echo:
        with godot_peer.dtls_client_process(
            echo.port, hostname="localhost", ca=pki.ca_path, sizes=(64, 1200), timeout=8
        ) as client:
            assert client.wait_for("STATUS ", timeout=RESULT_TIMEOUT) == "STATUS 1"
            time.sleep(GODOT_FIRST_RETRANSMIT + 0.3)
            gate.set()
            result = client.result(timeout=RESULT_TIMEOUT)
            assert client.wait(timeout=EXIT_TIMEOUT) == result["exit_code"], client.output()
        statuses = echo.wait_peer_end(1, timeout=3.0)
    assert not echo.timed_out

    assert result["status"] == GODOT_STATUS_CONNECTED, client.output()
    assert result["exit_code"] == 0 and result["echoed"] == 2 and result["mismatches"] == 0
    # First UDP peer: the ClientHello and its retransmission; second: the cookie retry.
    assert echo.dtls_server.queued == [2, 1]
    assert echo.server.cookie_exchanges == 1
    assert echo.server.connections == 1
    assert statuses == [Status.CONNECTED, Status.DISCONNECTED], echo.events


# ------------------------------------------ 4. oversized put_packet keeps the link


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_oversized_put_packet_keeps_connection(godot3: str, pki: Any) -> None:
    """16385 bytes: ERR_INVALID_PARAMETER (31), nothing sent, later echoes still work.
    (Godot itself tears the connection down here; keeping it is a deliberate difference.)"""
    with _godot_server(pki, max_peers=1) as server:
        assert server.port is not None
        client = _connect(server.port, "localhost", pki.client_options())
        try:
            assert client.peer.get_status() is Status.CONNECTED
            _echo(client, godot_peer.payload(0, 64))
            error = client.peer.put_packet(godot_peer.payload(1, 16385))
            assert error == Error.ERR_INVALID_PARAMETER
            assert int(error) == 31
            assert client.peer.get_status() is Status.CONNECTED
            # Nothing of the refused packet reached Godot: the next echo is the next packet.
            _echo(client, godot_peer.payload(2, 16384))
            _echo(client, godot_peer.payload(3, 64))
            assert client.peer.get_available_packet_count() == 0
        finally:
            client.close()
        result = _finish(server)
    assert result["closed"] == 1 and result["failed"] == 0
    assert result["packets"] == 3 and result["put_errors"] == 0
    assert result["bytes"] == 64 + 16384 + 64


# ---------------------------------------------- 5. several clients at the same time

CONCURRENT_CLIENTS = 3
PACKETS_PER_CLIENT = 50
WINDOW = 4  # packets in flight per client


@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_concurrent_clients_to_godot_server(
    godot3: str, pki: Any, record_property: Callable[[str, object], None]
) -> None:
    """Three of our clients handshake together and echo 50 packets each, interleaved."""
    sizes = (64, 512, 1200)
    expected = [
        [
            godot_peer.payload(100 * n + i, sizes[(n + i) % len(sizes)])
            for i in range(PACKETS_PER_CLIENT)
        ]
        for n in range(CONCURRENT_CLIENTS)
    ]
    with _godot_server(pki, max_peers=CONCURRENT_CLIENTS) as server:
        assert server.port is not None
        clients = [
            _start_client(server.port, "localhost", pki.client_options())
            for _ in range(CONCURRENT_CLIENTS)
        ]
        try:
            _handshake(clients)
            for client in clients:
                assert client.peer.get_status() is Status.CONNECTED, (
                    client.peer.get_last_error_message()
                )
            # Each client keeps up to WINDOW packets in flight; echoes come back in order.
            sent = [0] * CONCURRENT_CLIENTS
            received: list[list[bytes]] = [[] for _ in clients]
            deadline = time.monotonic() + 10.0
            while any(len(r) < PACKETS_PER_CLIENT for r in received):
                assert time.monotonic() < deadline, f"echoes so far: {[len(r) for r in received]}"
                for n, client in enumerate(clients):
                    peer = client.peer
                    while sent[n] < PACKETS_PER_CLIENT and sent[n] - len(received[n]) < WINDOW:
                        assert peer.put_packet(expected[n][sent[n]]) == Error.OK
                        sent[n] += 1
                    peer.poll()
                    assert peer.get_status() is Status.CONNECTED, peer.get_last_error_message()
                    while peer.get_available_packet_count() > 0:
                        received[n].append(peer.get_packet())
                wait_readable([c.udp.fileno() for c in clients], 0.005)
            for n in range(CONCURRENT_CLIENTS):
                assert received[n] == expected[n], f"client {n}: echoes differ"
        finally:
            for client in clients:
                client.close()
        result = _finish(server)
    handshakes = [round(c.handshake_ms, 2) for c in clients]
    record_property("handshake_ms", handshakes)
    print(
        f"\n[{CONCURRENT_CLIENTS} concurrent clients -> Godot server] handshakes ms: "
        f"{handshakes}, {CONCURRENT_CLIENTS * PACKETS_PER_CLIENT} echoes"
    )
    assert result["reason"] == "max_peers", server.output()
    assert result["cookie_rejects"] == CONCURRENT_CLIENTS
    assert result["connections"] == result["connected"] == CONCURRENT_CLIENTS
    assert result["closed"] == CONCURRENT_CLIENTS and result["failed"] == 0
    assert result["packets"] == CONCURRENT_CLIENTS * PACKETS_PER_CLIENT
    assert result["bytes"] == sum(len(p) for packets in expected for p in packets)
