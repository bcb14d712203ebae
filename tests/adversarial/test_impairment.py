"""The impairment proxy: the sans-IO engine's decisions, then the socket relay and its CLI.

Why these tests: the lossy-handshake tests (``test_lossy_handshakes.py``) are only as
trustworthy as the proxy that spoils their traffic. Here the engine is checked alone,
without sockets or a clock: same seed, same actions; the configured rates are what
comes out over 10^4 datagrams; reordering reorders; corruption keeps the length but
always changes the bytes; truncation shortens. Then the proxy relays real UDP over
loopback, stepped and threaded, one upstream socket per client, and refuses to relay
off the machine unless told to.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from godot_dtls.tools.impairment import (
    Direction,
    Emission,
    Impairment,
    ImpairmentEngine,
    ImpairmentProxy,
    parse_host_port,
)
from support.polling import poll_for

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT
HOST = "127.0.0.1"
#: Deadline of every socket wait in this module (each normally takes microseconds).
WAIT = 2.0


def numbered(count: int, size: int = 40) -> list[bytes]:
    """``count`` distinct datagrams whose first 4 bytes are their number."""
    return [
        i.to_bytes(4, "big") + bytes((i + j) % 256 for j in range(size - 4)) for i in range(count)
    ]


def run(
    engine: ImpairmentEngine,
    datagrams: list[bytes],
    direction: Direction = C2S,
    step: float = 0.001,
) -> list[Emission]:
    """Feed ``datagrams`` one per ``step`` seconds, expire holds, flush; emissions in order."""
    out: list[Emission] = []
    now = 0.0
    for datagram in datagrams:
        out.extend(engine.expire(now))
        out.extend(engine.process(direction, datagram, now))
        now += step
    out.extend(engine.flush(now))
    return out


def within(count: int, trials: int, rate: float, sigmas: float = 5.0) -> bool:
    """``count`` is a plausible Binomial(trials, rate) draw (± ``sigmas`` deviations)."""
    mean = trials * rate
    spread = sigmas * math.sqrt(trials * rate * (1.0 - rate)) + 1.0
    return abs(count - mean) <= spread


# ------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drop": 1.5},
        {"duplicate": -0.1},
        {"reorder": 2.0},
        {"corrupt": -1.0},
        {"truncate": 1.01},
        {"delay": -0.001},
        {"jitter": -1.0},
        {"reorder_hold": 0.0},
    ],
)
def test_impairment_refuses_values_out_of_range(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Impairment(**kwargs)


def test_impairment_describes_itself() -> None:
    assert Impairment().is_transparent
    assert Impairment().describe() == "transparent"
    text = Impairment(drop=0.3, duplicate=0.1, delay=0.02, jitter=0.005).describe()
    assert text == "drop 30% duplicate 10% delay 20+5 ms"
    assert not Impairment(jitter=0.001).is_transparent


# ------------------------------------------------------------------------- the engine


def test_transparent_engine_forwards_everything_at_once_and_in_order() -> None:
    engine = ImpairmentEngine(seed=1)
    datagrams = numbered(100)
    out = run(engine, datagrams)
    assert [e.data for e in out] == datagrams
    assert all(e.direction is C2S for e in out)
    stats = engine.stats(C2S)
    assert stats.received == stats.emitted == 100
    assert stats.dropped == stats.delayed == stats.reordered == 0
    assert engine.stats(S2C).received == 0


def _busy() -> Impairment:
    return Impairment(
        drop=0.2, duplicate=0.1, reorder=0.1, corrupt=0.05, truncate=0.05, jitter=0.01
    )


def test_same_seed_gives_the_same_actions_and_output() -> None:
    rng = random.Random(7)
    traffic = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) for _ in range(2000)]

    def one_run(seed: int) -> tuple[list, list]:
        engine = ImpairmentEngine(seed, _busy(), _busy(), log_limit=None)
        out = run(engine, traffic[:1000], C2S) + run(engine, traffic[1000:], S2C)
        return list(engine.actions), out

    first, again, other = one_run(42), one_run(42), one_run(43)
    assert first == again
    assert first[0] != other[0]
    assert [a.action for a in first[0]] != [a.action for a in other[0]]


def test_each_direction_draws_from_its_own_stream() -> None:
    """Retransmission timers make the two directions interleave differently from run to
    run; one direction's decisions must not depend on that interleaving."""
    traffic = numbered(500)
    alone = ImpairmentEngine(5, _busy(), _busy(), log_limit=None)
    for i, datagram in enumerate(traffic):
        alone.process(C2S, datagram, i * 0.001)
    mixed = ImpairmentEngine(5, _busy(), _busy(), log_limit=None)
    for i, datagram in enumerate(traffic):
        mixed.process(S2C, b"noise" * (i % 7 + 1), i * 0.001)
        mixed.process(C2S, datagram, i * 0.001)
        mixed.process(S2C, b"more noise", i * 0.001)
    c2s_alone = [a for a in alone.actions if a.direction is C2S]
    c2s_mixed = [a for a in mixed.actions if a.direction is C2S]
    assert c2s_alone == c2s_mixed


def test_rates_are_honoured_over_ten_thousand_datagrams() -> None:
    n = 10_000
    config = Impairment(drop=0.3, duplicate=0.1, reorder=0.1, corrupt=0.05, truncate=0.05)
    engine = ImpairmentEngine(2024, config, config, log_limit=None)
    traffic = numbered(n, size=100)
    for direction in Direction:
        out = run(engine, traffic, direction)
        stats = engine.stats(direction)
        survivors = n - stats.dropped
        assert stats.received == n
        assert within(stats.dropped, n, 0.3), stats
        assert within(stats.truncated, survivors, 0.05), stats
        # Corruption is skipped for the few datagrams truncated to nothing.
        assert within(stats.corrupted, survivors, 0.05), stats
        assert within(stats.duplicated, survivors, 0.1), stats
        # A datagram is only held when none is held already: slightly under 10 %.
        assert 0.08 * survivors <= stats.reordered <= 0.1 * survivors + 50, stats
        assert stats.emitted == len(out) == survivors + stats.duplicated
        print(f"\n{direction.label}: {stats.as_dict()}")


def test_drop_everything_and_drop_nothing() -> None:
    engine = ImpairmentEngine(1, Impairment(drop=1.0), Impairment(drop=0.0))
    assert run(engine, numbered(200), C2S) == []
    assert engine.stats(C2S).dropped == 200
    assert len(run(engine, numbered(200), S2C)) == 200


def test_reorder_swaps_each_held_datagram_with_its_successor() -> None:
    engine = ImpairmentEngine(3, Impairment(reorder=1.0))
    order = [int.from_bytes(e.data[:4], "big") for e in run(engine, numbered(10))]
    # Held 0, 1 goes out then releases 0; 2 is held again; and so on.
    assert order == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8]
    assert engine.stats(C2S).reordered == 5


def test_reorder_at_a_partial_rate_is_a_permutation_with_real_swaps() -> None:
    engine = ImpairmentEngine(4, Impairment(reorder=0.3))
    out = run(engine, numbered(1000))
    order = [int.from_bytes(e.data[:4], "big") for e in out]
    assert sorted(order) == list(range(1000)), "each datagram exactly once"
    inversions = [i for i in range(999) if order[i] > order[i + 1]]
    assert len(inversions) == engine.stats(C2S).reordered > 200
    # The held one goes right after its successor: displaced by exactly one place.
    assert all(order[i] == order[i + 1] + 1 for i in inversions)


def test_held_datagram_is_released_when_its_hold_time_runs_out() -> None:
    engine = ImpairmentEngine(1, Impairment(reorder=1.0, reorder_hold=0.25))
    assert engine.process(C2S, b"lonely", 10.0) == []
    assert engine.next_expiry() == 10.25
    assert engine.expire(10.2) == []
    released = engine.expire(10.25)
    assert [(e.data, e.release_at) for e in released] == [(b"lonely", 10.25)]
    assert engine.next_expiry() is None
    assert [a.action for a in engine.actions] == ["hold", "release"]


def test_delay_and_jitter_set_release_times() -> None:
    engine = ImpairmentEngine(9, Impairment(delay=0.05, jitter=0.02))
    out = [e for i in range(500) for e in engine.process(C2S, b"x%d" % i, float(i))]
    lateness = [e.release_at - i for i, e in enumerate(out)]
    assert all(0.05 <= late <= 0.07 for late in lateness)
    assert max(lateness) - min(lateness) > 0.015, "jitter varies the delay"
    assert engine.stats(C2S).delayed == 500


def test_corrupt_changes_one_to_three_bytes_and_keeps_the_length() -> None:
    engine = ImpairmentEngine(11, Impairment(corrupt=1.0))
    traffic = [*numbered(2000, size=64), b"\x00", b"\xff\xfe"]
    out = run(engine, traffic)
    assert len(out) == len(traffic)
    for original, emission in zip(traffic, out):
        damaged = emission.data
        assert len(damaged) == len(original)
        changed = sum(a != b for a, b in zip(original, damaged))
        assert 1 <= changed <= 3
    assert engine.stats(C2S).corrupted == len(traffic)


def test_truncate_shortens_to_a_prefix() -> None:
    engine = ImpairmentEngine(12, Impairment(truncate=1.0))
    traffic = numbered(2000, size=64)
    out = run(engine, traffic)
    assert len(out) == len(traffic)
    for original, emission in zip(traffic, out):
        assert len(emission.data) < len(original)
        assert original.startswith(emission.data)
    assert engine.stats(C2S).truncated == len(traffic)
    assert engine.stats(C2S).bytes_emitted < engine.stats(C2S).bytes_received


def test_empty_datagrams_pass_without_a_draw_for_damage() -> None:
    engine = ImpairmentEngine(1, Impairment(corrupt=1.0, truncate=1.0))
    assert [e.data for e in engine.process(C2S, b"", 0.0)] == [b""]
    assert engine.stats(C2S).corrupted == engine.stats(C2S).truncated == 0


def test_duplicate_emits_two_identical_copies() -> None:
    engine = ImpairmentEngine(1, Impairment(duplicate=1.0))
    out = engine.process(C2S, b"twice", 0.0)
    assert [e.data for e in out] == [b"twice", b"twice"]
    assert engine.stats(C2S).duplicated == 1 and engine.stats(C2S).emitted == 2


def test_changing_the_impairment_applies_from_the_next_datagram() -> None:
    engine = ImpairmentEngine(1)
    assert len(engine.process(C2S, b"a", 0.0)) == 1
    engine.set_impairment(C2S, Impairment(drop=1.0))
    assert engine.get_impairment(C2S).drop == 1.0
    assert engine.process(C2S, b"b", 0.0) == []
    assert len(engine.process(S2C, b"c", 0.0)) == 1


def test_every_action_is_logged_to_the_list_and_the_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="godot_dtls")
    engine = ImpairmentEngine(1, Impairment(drop=1.0), name="flow 7")
    engine.process(C2S, b"gone", 3.5)
    assert [(a.time, a.direction, a.index, a.action, a.size) for a in engine.actions] == [
        (3.5, C2S, 0, "drop", 4)
    ]
    assert any("flow 7 c2s #0 drop 4 B" in r.getMessage() for r in caplog.records)


def test_the_action_log_is_bounded() -> None:
    engine = ImpairmentEngine(1, log_limit=10)
    run(engine, numbered(100))
    assert len(engine.actions) == 10
    assert engine.actions[-1].index == 99


# ------------------------------------------------------------------------- the proxy


class UDPEcho:
    """A plain UDP echo target that also records who sent what (stepped, no thread)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[tuple[str, int], bytes]] = []

    def step(self) -> None:
        for _ in range(1000):
            try:
                data, address = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            self.seen.append((address, data))
            self.sock.sendto(data, address)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[UDPEcho]:
    target = UDPEcho()
    yield target
    target.close()


def client_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(WAIT)
    return sock


def receive_all(sock: socket.socket, limit: float = 0.2) -> list[bytes]:
    """Everything waiting on ``sock`` (stops after ``limit`` s of silence)."""
    sock.settimeout(limit)
    out = []
    try:
        while True:
            out.append(sock.recv(65535))
    except socket.timeout:
        return out


def test_proxy_relays_both_ways_when_transparent(echo: UDPEcho) -> None:
    with ImpairmentProxy(target=(HOST, echo.port), seed=1) as proxy:
        client = client_socket()
        try:
            datagrams = numbered(50, size=200)
            for datagram in datagrams:
                client.sendto(datagram, proxy.address)
            poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.3, interval=0)
            assert [data for _, data in echo.seen] == datagrams
            echoed = []
            deadline = time.monotonic() + WAIT
            while len(echoed) < len(datagrams) and time.monotonic() < deadline:
                poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.01, interval=0)
                echoed += receive_all(client, 0.01)
            assert echoed == datagrams
        finally:
            client.close()
        for direction in Direction:
            stats = proxy.stats(direction)
            assert stats.received == stats.emitted == 50
        assert proxy.flow_count == 1 and proxy.sent == 100


def test_proxy_gives_each_client_its_own_upstream_socket(echo: UDPEcho) -> None:
    with ImpairmentProxy(target=(HOST, echo.port)) as proxy:
        clients = [client_socket() for _ in range(3)]
        try:
            for i, client in enumerate(clients):
                client.sendto(b"from %d" % i, proxy.address)
            poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.2, interval=0)
            for i, client in enumerate(clients):
                assert client.recv(100) == b"from %d" % i
        finally:
            for client in clients:
                client.close()
        sources = {address for address, _ in echo.seen}
        assert len(sources) == 3 and proxy.flow_count == proxy.flows_created == 3
        assert len(proxy.filenos()) == 4


def test_proxy_stepped_with_its_own_clock_holds_delayed_datagrams(echo: UDPEcho) -> None:
    with ImpairmentProxy(target=(HOST, echo.port), client_to_server=Impairment(delay=0.5)) as proxy:
        client = client_socket()
        try:
            client.sendto(b"later", proxy.address)
            proxy.poll(now=100.0, timeout=WAIT)  # returns as soon as it has arrived
            assert proxy.next_deadline() == 100.5
            assert proxy.poll(now=100.4) == 0
            echo.step()
            assert echo.seen == []
            assert proxy.poll(now=100.5) == 1
            deadline = time.monotonic() + WAIT
            while not echo.seen and time.monotonic() < deadline:
                echo.step()
            assert [data for _, data in echo.seen] == [b"later"]
        finally:
            client.close()


def test_proxy_drops_what_it_is_told_to(echo: UDPEcho) -> None:
    with ImpairmentProxy(
        target=(HOST, echo.port), client_to_server=Impairment(drop=1.0), seed=3
    ) as proxy:
        client = client_socket()
        try:
            for datagram in numbered(20):
                client.sendto(datagram, proxy.address)
            poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.2, interval=0)
            assert echo.seen == []
            proxy.set_impairment(Direction.CLIENT_TO_SERVER, Impairment())
            client.sendto(b"now it passes", proxy.address)
            poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.2, interval=0)
            assert [data for _, data in echo.seen] == [b"now it passes"]
        finally:
            client.close()
        assert proxy.stats(C2S).dropped == 20
        assert "dropped" in proxy.summary() and "client->server" in proxy.summary()


def test_proxy_flows_are_seeded_by_their_order(echo: UDPEcho) -> None:
    """Two proxies with the same seed treat the n-th client alike, whatever its port."""
    logs = []
    for _ in range(2):
        config = Impairment(drop=0.5, duplicate=0.2)
        with ImpairmentProxy(target=(HOST, echo.port), client_to_server=config, seed=8) as proxy:
            client = client_socket()
            try:
                for datagram in numbered(100):
                    client.sendto(datagram, proxy.address)
                poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.2, interval=0)
                (engine,) = proxy.engines()
                logs.append([(a.index, a.action) for a in engine.actions if a.direction is C2S])
            finally:
                client.close()
    assert logs[0] == logs[1]
    assert ("drop" in {action for _, action in logs[0]}) and len(logs[0]) > 100


def test_proxy_from_a_thread_starts_and_stops_promptly(echo: UDPEcho) -> None:
    stop = threading.Event()
    echo_thread = threading.Thread(target=_echo_until, args=(echo, stop), daemon=True)
    echo_thread.start()
    proxy = ImpairmentProxy(target=(HOST, echo.port), seed=2).start()
    client = client_socket()
    try:
        client.sendto(b"ping", proxy.address)
        assert client.recv(100) == b"ping"
        with pytest.raises(RuntimeError):
            proxy.start()
    finally:
        client.close()
        began = time.monotonic()
        proxy.stop()
        stopped_in = time.monotonic() - began
        stop.set()
        echo_thread.join(WAIT)
    assert stopped_in < 0.5
    assert proxy.poll() == 0, "a stopped proxy does nothing"
    assert proxy.stats(C2S).emitted == 1  # totals survive the close


def _echo_until(echo: UDPEcho, stop: threading.Event) -> None:
    while not stop.is_set():
        echo.step()
        time.sleep(0.001)


def test_proxy_caps_the_number_of_flows(echo: UDPEcho) -> None:
    with ImpairmentProxy(target=(HOST, echo.port), max_flows=1) as proxy:
        first, second = client_socket(), client_socket()
        try:
            first.sendto(b"one", proxy.address)
            second.sendto(b"two", proxy.address)
            poll_for(lambda: proxy.poll(timeout=0.002), echo.step, seconds=0.2, interval=0)
        finally:
            first.close()
            second.close()
        assert [data for _, data in echo.seen] == [b"one"]
        assert proxy.refused_flows == 1


def test_idle_flows_are_closed(echo: UDPEcho) -> None:
    with ImpairmentProxy(target=(HOST, echo.port), idle_timeout=5.0) as proxy:
        client = client_socket()
        try:
            client.sendto(b"hello", proxy.address)
            proxy.poll(now=0.0, timeout=WAIT)
            assert proxy.flow_count == 1
            proxy.poll(now=4.0)
            assert proxy.flow_count == 1
            proxy.poll(now=6.0)
            assert proxy.flow_count == 0
            assert proxy.stats(C2S).received == 1  # closed flows keep counting
        finally:
            client.close()


@pytest.mark.parametrize(
    "target", ["192.0.2.1", "8.8.8.8", "10.0.0.1", "::ffff:192.0.2.1", "2001:db8::1"]
)
def test_proxy_refuses_a_target_off_this_machine(target: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        ImpairmentProxy(target=(target, 4433))


def test_proxy_relays_off_the_machine_only_when_allowed() -> None:
    proxy = ImpairmentProxy(target=("192.0.2.1", 4433), allow_non_loopback=True)
    proxy.close()
    assert proxy.target == ("192.0.2.1", 4433)


@pytest.mark.parametrize("target", ["localhost", "127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1"])
def test_proxy_accepts_loopback_targets(target: str) -> None:
    ImpairmentProxy(target=(target, 4433)).close()


def test_proxy_refuses_names_and_bad_ports() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        ImpairmentProxy(target=("example.com", 4433))
    with pytest.raises(ValueError):
        ImpairmentProxy(target=(HOST, 0))


def test_proxy_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    target = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        target.bind(("::1", 0))
    except OSError:
        target.close()
        pytest.skip("no ::1")
    target.settimeout(WAIT)
    try:
        with ImpairmentProxy(listen=("::1", 0), target=("::1", target.getsockname()[1])) as proxy:
            client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            try:
                client.sendto(b"six", ("::1", proxy.port))
                proxy.poll(timeout=WAIT)
                assert target.recv(100) == b"six"
            finally:
                client.close()
    finally:
        target.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:5000", ("127.0.0.1", 5000)), ("[::1]:4433", ("::1", 4433))],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["5000", ":5000", "127.0.0.1:x", "127.0.0.1:70000"])
def test_parse_host_port_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_port(text)


# ------------------------------------------------------------------------- command line


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "godot_dtls", "proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ready_port(process: subprocess.Popen) -> int | None:
    assert process.stdout is not None
    line = process.stdout.readline()
    return int(line.split()[1].rstrip(":")) if line.startswith("READY ") else None


def test_cli_proxy_relays_and_prints_a_summary(echo: UDPEcho) -> None:
    process = _cli(
        "--listen", f"{HOST}:0", "--target", f"{HOST}:{echo.port}",
        "--drop", "0", "--duplicate", "1", "--c2s-drop", "1", "--seed", "5",
        "--duration", "1.5",
    )  # fmt: skip
    try:
        port = _ready_port(process)
        assert port, process.stderr.read() if process.stderr else ""
        client = client_socket()
        try:
            for datagram in numbered(10):
                client.sendto(datagram, (HOST, port))
        finally:
            client.close()
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    echo.step()
    assert echo.seen == [], "--c2s-drop 1 overrides --drop 0 for client->server"
    assert "seed 5" in out
    row = next(line for line in out.splitlines() if line.startswith("client->server "))
    assert row.split()[1:4] == ["10", "0", "10"]  # received, emitted, dropped
    assert "client->server: drop 100% duplicate 100%" in out
    assert "server->client: duplicate 100%" in out


def test_cli_proxy_refuses_a_remote_target() -> None:
    process = _cli("--listen", f"{HOST}:0", "--target", "192.0.2.1:4433", "--duration", "1")
    _, err = process.communicate(timeout=15)
    assert process.returncode == 2
    assert "non-loopback" in err and "--allow-remote-target" in err
