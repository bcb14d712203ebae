"""The measurements run by the Python clients (pairs 1, 2 and 4).

The loops are the GDScript client's (``godot3/bench_client.gd``) written in Python, so
the four pairs measure the same thing:

- handshakes one after the other, each timed from the call that starts it until the
  client is connected (the cookie exchange included), then closed;
- serial echo: one packet in flight, the round-trip time of each;
- pipelined echo: a window of packets in flight, refilled as echoes arrive, then a
  drain; every echo is compared with what was sent (loss and mismatches counted);
- many peers: N clients at once, the time until every handshake has ended, then each
  client keeps one packet in flight for a while (the aggregate echo rate).

CPU time is ``time.process_time()`` of this process over a run, i.e. the client's.
"""

from __future__ import annotations

import select
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from .clients import CONNECTED, FAILED, HANDSHAKING, RING_SIZE

__all__ = [
    "Client",
    "EchoRun",
    "HandshakeRun",
    "ManyRun",
    "connect",
    "percentile",
    "run_handshakes",
    "run_many",
    "run_pipelined",
    "run_serial",
    "summary",
]

#: Longest wait for one echo before it counts as lost.
ECHO_LIMIT = 2.0
#: How long a pipelined run waits for the echoes still in flight after sending stops.
DRAIN_LIMIT = 2.0
#: Longest sleep between two handshake polls (the retransmission timers are ≥ 1 s).
HANDSHAKE_POLL = 0.05


class Client(Protocol):
    """What the measurements need of a client (see :mod:`godot_dtls.tools.bench.clients`)."""

    def prepare(self) -> bool: ...
    def start(self) -> bool: ...
    def service(self) -> int: ...
    def alive(self) -> bool: ...
    def send(self, data: bytes) -> bool: ...
    def receive(self, out: list[bytes]) -> int: ...
    def wait(self, timeout: float) -> None: ...
    def fileno(self) -> int: ...
    def cipher(self) -> str: ...
    def retransmissions(self) -> int: ...
    def close(self) -> None: ...


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile with linear interpolation (``fraction`` in 0..1)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """Median, p95, mean, min, max and count of ``samples``."""
    if not samples:
        return {"n": 0, "median": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "mean": statistics.fmean(samples),
        "min": min(samples),
        "max": max(samples),
    }


@dataclass
class HandshakeRun:
    """Handshake times in milliseconds, and how many handshakes failed."""

    samples_ms: list[float] = field(default_factory=list)
    failures: int = 0
    retransmissions: int = 0
    cipher: str = ""


@dataclass
class EchoRun:
    """One serial or pipelined echo run of one packet size."""

    size: int
    window: int
    sent: int = 0
    received: int = 0
    mismatches: int = 0
    elapsed_s: float = 0.0
    cpu_s: float | None = None
    rtt_us: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def pps(self) -> float:
        """Echoes received per second."""
        return self.received / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_us_per_packet(self) -> float | None:
        """Client CPU per echoed packet (one encryption and one decryption), in µs."""
        if self.cpu_s is None or not self.received:
            return None
        return self.cpu_s / self.received * 1e6


@dataclass
class ManyRun:
    """N clients at once against one server."""

    peers: int
    connected: int = 0
    failed: int = 0
    handshake_s: float = 0.0
    echo_received: int = 0
    echo_lost: int = 0
    echo_mismatches: int = 0
    echo_elapsed_s: float = 0.0
    retransmissions: int = 0
    #: Clients held mid-handshake (``hold_mid_handshake``), their server flight unread.
    held: int = 0

    @property
    def echo_pps(self) -> float:
        return self.echo_received / self.echo_elapsed_s if self.echo_elapsed_s > 0 else 0.0


def connect(client: Client, limit: float) -> bool:
    """Start the handshake and drive it until it ends or ``limit`` seconds pass."""
    if not client.start():
        return False
    deadline = time.perf_counter() + limit
    while True:
        state = client.service()
        if state != HANDSHAKING:
            return state == CONNECTED
        now = time.perf_counter()
        if now >= deadline:
            return False
        client.wait(min(HANDSHAKE_POLL, deadline - now))


def run_handshakes(
    factory: Callable[[], Client], count: int, limit: float = 5.0, budget: float = 60.0
) -> HandshakeRun:
    """``count`` handshakes one after the other (each on a new socket), then closed."""
    run = HandshakeRun()
    give_up = time.perf_counter() + budget
    for _ in range(count):
        client = factory()
        if not client.prepare():
            run.failures += 1
            continue
        start = time.perf_counter()
        ok = connect(client, limit)
        elapsed = time.perf_counter() - start
        if ok:
            run.samples_ms.append(elapsed * 1000.0)
            run.cipher = client.cipher()
        else:
            run.failures += 1
        run.retransmissions += client.retransmissions()
        client.close()
        if time.perf_counter() >= give_up:
            break
    return run


def run_serial(client: Client, ring: Sequence[bytes], duration: float, count: int = 0) -> EchoRun:
    """One packet in flight for ``duration`` seconds (or ``count`` packets if > 0)."""
    run = EchoRun(size=len(ring[0]), window=1)
    send, receive, wait = client.send, client.receive, client.wait
    perf_counter = time.perf_counter
    rtt = run.rtt_us
    out: list[bytes] = []
    sent = received = mismatches = 0
    cpu_start = time.process_time()
    start = perf_counter()
    end_at = start + duration
    while True:
        if count:
            if sent >= count:
                break
        elif perf_counter() >= end_at:
            break
        packet = ring[sent % RING_SIZE]
        sent_at = perf_counter()
        if not send(packet):
            break
        sent += 1
        limit = sent_at + ECHO_LIMIT
        while not receive(out):
            now = perf_counter()
            if now >= limit or not client.alive():
                break
            wait(limit - now)
        if not out:
            break
        rtt.append((perf_counter() - sent_at) * 1e6)
        received += len(out)
        if len(out) != 1 or out[0] != packet:
            mismatches += 1
        out.clear()
    run.elapsed_s = perf_counter() - start
    run.cpu_s = time.process_time() - cpu_start
    run.sent, run.received, run.mismatches = sent, received, mismatches
    return run


def run_pipelined(
    client: Client, ring: Sequence[bytes], window: int, duration: float, count: int = 0
) -> EchoRun:
    """``window`` packets in flight for ``duration`` seconds (or ``count`` packets if > 0),
    then a drain; each echo is compared with the packet sent in that place."""
    run = EchoRun(size=len(ring[0]), window=window)
    send, receive, wait = client.send, client.receive, client.wait
    perf_counter = time.perf_counter
    out: list[bytes] = []
    sent = received = mismatches = 0
    cpu_start = time.process_time()
    start = last_echo = perf_counter()
    end_at = start + duration
    while True:
        now = perf_counter()
        if (sent < count) if count else (now < end_at):
            while sent - received < window:
                if not send(ring[sent % RING_SIZE]):
                    break
                sent += 1
        elif sent == received or now >= end_at + DRAIN_LIMIT:
            break
        if receive(out):
            for packet in out:
                if packet != ring[received % RING_SIZE]:
                    mismatches += 1
                received += 1
            out.clear()
            last_echo = perf_counter()
        elif not client.alive():
            break
        else:
            wait(0.5)
    run.elapsed_s = last_echo - start
    run.cpu_s = time.process_time() - cpu_start
    run.sent, run.received, run.mismatches = sent, received, mismatches
    return run


class _Poller:
    """epoll where there is one (1000 sockets), poll(2) elsewhere; timeouts in seconds."""

    def __init__(self) -> None:
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._poll = None if self._epoll is not None else select.poll()

    def register(self, fd: int) -> None:
        if self._epoll is not None:
            self._epoll.register(fd, select.EPOLLIN)
        else:
            assert self._poll is not None
            self._poll.register(fd, select.POLLIN)

    def unregister(self, fd: int) -> None:
        try:
            if self._epoll is not None:
                self._epoll.unregister(fd)
            else:
                assert self._poll is not None
                self._poll.unregister(fd)
        except (KeyError, OSError, ValueError):
            pass

    def ready(self, timeout: float) -> list[int]:
        if self._epoll is not None:
            return [fd for fd, _ in self._epoll.poll(max(timeout, 0.0))]
        assert self._poll is not None
        return [fd for fd, _ in self._poll.poll(max(0, int(timeout * 1000.0 + 0.999)))]

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()


def _hold_mid_handshake(
    clients: Sequence[Any], waiting: set[int], poller: _Poller, deadline: float
) -> int:
    """Drive the clients in ``waiting`` until each has answered the server's
    HelloVerifyRequest (its ClientHello with the cookie went out), then wait until the
    server's first flight is waiting, unread, on each socket: the server then holds every
    peer in the middle of its handshake. Returns how many are held so.

    Needs clients that count their ``handshake_reads`` (:class:`~.clients.BareClient`).
    """
    perf_counter = time.perf_counter
    index = {clients[i].fileno(): i for i in waiting}
    answering = set(waiting)
    next_sweep = perf_counter() + 0.1
    while answering and perf_counter() < deadline:
        ready = poller.ready(min(HANDSHAKE_POLL, max(deadline - perf_counter(), 0.0)))
        sweep = perf_counter() >= next_sweep
        if sweep:
            next_sweep = perf_counter() + 0.1
        for i in list(answering) if sweep else [index[fd] for fd in ready if fd in index]:
            if i not in answering:
                continue
            client = clients[i]
            if client.service() != HANDSHAKING:
                answering.discard(i)
                waiting.discard(i)
                poller.unregister(client.fileno())
            elif client.handshake_reads:
                answering.discard(i)
                poller.unregister(client.fileno())  # its socket now stays unread
    held = waiting - answering
    flights = select.poll()
    for i in held:
        flights.register(clients[i].fileno(), select.POLLIN)
    arrived: set[int] = set()
    while len(arrived) < len(held) and perf_counter() < deadline:
        for fd, _ in flights.poll(int(HANDSHAKE_POLL * 1000)):
            arrived.add(fd)
            flights.unregister(fd)
    for i in held:
        poller.register(clients[i].fileno())
    return len(arrived)


def run_many(
    factory: Callable[[], Client],
    peers: int,
    ring: Sequence[bytes],
    handshake_limit: float,
    echo_duration: float,
    on_phase: Callable[[str], None] | None = None,
    hold_mid_handshake: bool = False,
) -> ManyRun:
    """``peers`` clients started at once; every handshake, then echoes for a while.

    ``on_phase`` is called with "handshakes" once every handshake has ended and "echo"
    after the echoes. ``hold_mid_handshake``: first every client stops after answering
    the server's cookie, until the server's first flight waits on its socket; then
    ``on_phase("handshaking")`` runs (the server holds every peer mid-handshake) and the
    handshakes go on, timed from there.
    """
    run = ManyRun(peers=peers)
    clients = [factory() for _ in range(peers)]
    states = [HANDSHAKING if client.prepare() else FAILED for client in clients]
    index = {client.fileno(): i for i, client in enumerate(clients)}
    poller = _Poller()
    perf_counter = time.perf_counter
    try:
        # ---- handshakes: all ClientHellos at once, then poll whoever has a datagram,
        # and everybody every 100 ms for the retransmission timers.
        start = perf_counter()
        for i, client in enumerate(clients):
            if states[i] == HANDSHAKING:
                if client.start():
                    poller.register(client.fileno())
                else:
                    states[i] = FAILED
        waiting = {i for i, state in enumerate(states) if state == HANDSHAKING}
        deadline = start + handshake_limit
        if hold_mid_handshake:
            run.held = _hold_mid_handshake(clients, waiting, poller, deadline)
            if on_phase is not None:
                on_phase("handshaking")
            start = perf_counter()
            deadline = start + handshake_limit
        next_sweep = start + 0.1
        finished = start

        def settle(i: int) -> None:
            state = clients[i].service()
            if state != HANDSHAKING:
                states[i] = state
                waiting.discard(i)
                poller.unregister(clients[i].fileno())

        while waiting:
            now = perf_counter()
            if now >= deadline:
                break
            for fd in poller.ready(min(HANDSHAKE_POLL, deadline - now)):
                i = index[fd]
                if i in waiting:
                    settle(i)
            now = perf_counter()
            if now >= next_sweep:
                next_sweep = now + 0.1
                for i in list(waiting):
                    settle(i)
            if not waiting:
                finished = perf_counter()
        if waiting:
            finished = perf_counter()
        run.handshake_s = finished - start
        run.connected = states.count(CONNECTED)
        run.failed = peers - run.connected
        run.retransmissions = sum(client.retransmissions() for client in clients)
        if on_phase is not None:
            on_phase("handshakes")

        # ---- echo: every connected client keeps one packet in flight.
        live = [i for i, state in enumerate(states) if state == CONNECTED]
        for i in live:
            poller.register(clients[i].fileno())
        in_flight = [-1] * peers
        sent_at = [0.0] * peers
        next_seq = 0

        def send_next(i: int, now: float) -> None:
            nonlocal next_seq
            if clients[i].send(ring[next_seq % RING_SIZE]):
                in_flight[i] = next_seq
                sent_at[i] = now
                next_seq += 1
            else:
                in_flight[i] = -1

        echo_start = perf_counter()
        for i in live:
            send_next(i, echo_start)
        end_at = echo_start + echo_duration
        next_scan = echo_start + 0.25
        out: list[bytes] = []
        while True:
            now = perf_counter()
            if now >= end_at:
                break
            for fd in poller.ready(min(0.05, end_at - now)):
                i = index[fd]
                client = clients[i]
                if not client.receive(out):
                    if not client.alive():
                        poller.unregister(fd)
                        in_flight[i] = -1
                    continue
                expected = in_flight[i]
                for packet in out:
                    if expected < 0 or packet != ring[expected % RING_SIZE]:
                        run.echo_mismatches += 1
                    expected = -1
                run.echo_received += len(out)
                out.clear()
                send_next(i, perf_counter())
            if now >= next_scan:
                next_scan = now + 0.25
                for i in live:
                    if in_flight[i] >= 0 and now - sent_at[i] > ECHO_LIMIT:
                        run.echo_lost += 1
                        send_next(i, now)
        run.echo_elapsed_s = perf_counter() - echo_start
        if on_phase is not None:
            on_phase("echo")
    finally:
        for client in clients:
            client.close()
        poller.close()
    return run
