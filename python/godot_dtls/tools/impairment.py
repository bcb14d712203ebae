"""A seeded UDP impairment proxy: loss, duplication, reordering, delay, corruption.

Why it exists: DTLS earns its keep on bad networks (lost, duplicated, reordered,
delayed and damaged datagrams), and a loopback socket never misbehaves. Like
mbedTLS's ``udp_proxy`` used by ``ssl-opt.sh``, this module sits between a client and a
server and spoils their traffic on purpose, reproducibly: everything it does is drawn
from a seeded random generator and counted, so a failing run can be replayed and its
figures reported.

Two layers:

- :class:`ImpairmentEngine`, sans-IO: given ``(direction, datagram, now)`` it returns the
  datagrams to emit and when (:class:`Emission`), logs each action (a list of
  :class:`Action` and the ``godot_dtls`` logger at DEBUG) and counts it
  (:class:`ImpairmentStats`). It opens no socket and reads no clock, so the unit tests
  can check seeded determinism and rates over 10^4 datagrams in milliseconds.
- :class:`ImpairmentProxy`, socket-driven: one listening socket for clients and one
  upstream socket per client address towards the target, so the server sees every
  client as a distinct peer (as ``UDPServer`` needs). Each client's flow has its own
  engine, seeded from the proxy seed and the flow's number (the order in which clients
  first spoke), so concurrent clients do not perturb each other's random draws. Drive
  it from a background thread (:meth:`~ImpairmentProxy.start` /
  :meth:`~ImpairmentProxy.stop`) or step it from a game-style loop
  (:meth:`~ImpairmentProxy.poll`). Every wait is a bounded ``select``.

Targets are restricted to loopback addresses unless ``allow_non_loopback=True``
(``--allow-remote-target`` on the command line): a proxy that duplicates traffic
towards any host it is told about is an amplifier and an open relay, and tests and CI
only ever need 127.0.0.1 or ::1.

Rates are per datagram and independent, in this order: ``drop`` (a dropped datagram
suffers nothing else), ``truncate`` (cut to a random shorter length, possibly empty),
``corrupt`` (1 to 3 bytes at distinct random positions XOR-ed with a non-zero value:
the length stays, the content always changes), ``duplicate`` (a second copy),
``reorder`` (hold the datagram until the next one of the same direction has been
emitted, or at most ``reorder_hold`` seconds), then ``delay`` + ``jitter`` (uniform in
``[0, jitter]``) before release.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import heapq
import ipaddress
import random
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, NamedTuple, Tuple, Union

from godot_dtls.core.log import logger

__all__ = [
    "Action",
    "Direction",
    "Emission",
    "Impairment",
    "ImpairmentEngine",
    "ImpairmentProxy",
    "ImpairmentStats",
    "add_proxy_parser",
    "parse_host_port",
    "run_proxy_command",
]

Address = Tuple[Any, ...]
Seed = Union[int, str]

#: Largest UDP payload read from a socket.
_RECV_SIZE = 65535
#: Most datagrams read from one socket per :meth:`ImpairmentProxy.poll`, so a flood on
#: one socket cannot keep the loop from sending or from checking its stop event.
MAX_READS_PER_SOCKET = 256
#: Longest single wait of the background thread, so ``stop()`` is seen quickly.
MAX_THREAD_WAIT = 0.05
#: Most bytes flipped by one corruption.
_MAX_CORRUPT_BYTES = 3


class Direction(enum.Enum):
    """Which way a datagram travels through the proxy."""

    CLIENT_TO_SERVER = "c2s"
    SERVER_TO_CLIENT = "s2c"

    @property
    def label(self) -> str:
        return "client->server" if self is Direction.CLIENT_TO_SERVER else "server->client"


@dataclass(frozen=True)
class Impairment:
    """What to do to the datagrams of one direction. Rates are probabilities (0..1).

    ``delay`` and ``jitter`` are seconds: each emitted datagram waits ``delay`` plus a
    uniform draw in ``[0, jitter]`` (jitter alone therefore also reorders).
    ``reorder_hold`` bounds how long a datagram held for reordering waits for a
    successor (seconds), so a held final handshake flight is not stuck forever.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0
    corrupt: float = 0.0
    truncate: float = 0.0
    reorder_hold: float = 0.1

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "corrupt", "truncate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")
        for name in ("delay", "jitter"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"{name} must not be negative")
        if self.reorder_hold <= 0.0:
            raise ValueError("reorder_hold must be positive")

    @property
    def is_transparent(self) -> bool:
        """True when datagrams pass untouched (no draw is made for them)."""
        return not (
            self.drop
            or self.duplicate
            or self.reorder
            or self.delay
            or self.jitter
            or self.corrupt
            or self.truncate
        )

    def describe(self) -> str:
        """A short human-readable summary, e.g. ``drop 30% duplicate 10%``."""
        parts = [
            f"{name} {getattr(self, name) * 100:g}%"
            for name in ("drop", "duplicate", "reorder", "corrupt", "truncate")
            if getattr(self, name)
        ]
        if self.delay or self.jitter:
            parts.append(f"delay {self.delay * 1000:g}+{self.jitter * 1000:g} ms")
        return " ".join(parts) or "transparent"


class Emission(NamedTuple):
    """One datagram to send in ``direction`` once the clock reaches ``release_at``."""

    release_at: float
    direction: Direction
    data: bytes


@dataclass(frozen=True)
class Action:
    """One thing the engine did to a datagram (the ``index``-th of its direction)."""

    time: float
    direction: Direction
    index: int
    action: str
    size: int
    detail: str = ""


@dataclass
class ImpairmentStats:
    """Counters of one direction. ``received`` datagrams came in, ``emitted`` went out
    (duplicates included); the others count the datagrams each action touched."""

    received: int = 0
    emitted: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0
    corrupted: int = 0
    truncated: int = 0
    bytes_received: int = 0
    bytes_emitted: int = 0

    def add(self, other: ImpairmentStats) -> None:
        """Accumulate ``other`` into these counters."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass
class _DirectionState:
    config: Impairment
    rng: random.Random
    stats: ImpairmentStats = field(default_factory=ImpairmentStats)
    index: int = 0
    held: bytes | None = None
    held_index: int = 0
    held_until: float = 0.0
    held_delay: float = 0.0


class ImpairmentEngine:
    """The sans-IO core: decides what happens to each datagram, reproducibly.

    Each direction has its own ``random.Random`` seeded from ``(seed, direction)``, so the
    draws of one direction do not depend on how the two directions interleave in time
    (retransmission timers make that interleaving vary from run to run).

    Call :meth:`process` for each datagram received and :meth:`expire` when
    :meth:`next_expiry` is reached (it releases datagrams held for reordering that saw no
    successor). ``actions`` keeps the last ``log_limit`` :class:`Action` records (all of
    them when ``log_limit`` is None); ``name`` prefixes the DEBUG log lines.
    """

    def __init__(
        self,
        seed: Seed = 0,
        client_to_server: Impairment | None = None,
        server_to_client: Impairment | None = None,
        *,
        log_limit: int | None = 100_000,
        name: str = "impairment",
    ) -> None:
        self.seed = seed
        self.name = name
        self.actions: deque[Action] = deque(maxlen=log_limit)
        self._states = {
            Direction.CLIENT_TO_SERVER: _DirectionState(
                client_to_server or Impairment(), random.Random(f"{seed}:c2s")
            ),
            Direction.SERVER_TO_CLIENT: _DirectionState(
                server_to_client or Impairment(), random.Random(f"{seed}:s2c")
            ),
        }

    # ------------------------------------------------------------------ configuration

    def get_impairment(self, direction: Direction) -> Impairment:
        return self._states[direction].config

    def set_impairment(self, direction: Direction, impairment: Impairment) -> None:
        """Change one direction's behaviour from the next datagram on (the RNG goes on)."""
        self._states[direction].config = impairment

    def stats(self, direction: Direction) -> ImpairmentStats:
        """The live counters of ``direction``."""
        return self._states[direction].stats

    # ------------------------------------------------------------------ inputs

    def process(self, direction: Direction, datagram: bytes, now: float) -> list[Emission]:
        """What to emit for ``datagram`` received at ``now``, in emission order.

        It may be nothing (dropped, or held for reordering), the datagram (possibly
        damaged, possibly twice), and a previously held datagram after it.
        """
        state = self._states[direction]
        config = state.config
        stats = state.stats
        index = state.index
        state.index = index + 1
        stats.received += 1
        stats.bytes_received += len(datagram)
        if config.is_transparent and state.held is None:
            return [self._emit(state, direction, index, datagram, now, now, "forward")]

        rng = state.rng
        if config.drop and rng.random() < config.drop:
            stats.dropped += 1
            self._log(now, direction, index, "drop", len(datagram))
            return []
        data = datagram
        if config.truncate and data and rng.random() < config.truncate:
            size = rng.randrange(len(data))
            self._log(now, direction, index, "truncate", len(data), f"to {size} B")
            data = data[:size]
            stats.truncated += 1
        if config.corrupt and data and rng.random() < config.corrupt:
            data = self._corrupt(rng, data, now, direction, index)
            stats.corrupted += 1
        copies = 1
        if config.duplicate and rng.random() < config.duplicate:
            copies = 2
            stats.duplicated += 1
            self._log(now, direction, index, "duplicate", len(data))
        out: list[Emission] = []
        previously_held = state.held
        if config.reorder and previously_held is None and rng.random() < config.reorder:
            state.held = data
            state.held_index = index
            state.held_until = now + config.reorder_hold
            # Drawn now, not at expiry, so the draws do not depend on when expire() runs.
            state.held_delay = self._release_time(state, now) - now
            stats.reordered += 1
            copies -= 1
            self._log(now, direction, index, "hold", len(data), "for reordering")
        for _ in range(copies):
            release_at = self._release_time(state, now)
            out.append(self._emit(state, direction, index, data, now, release_at))
        if previously_held is not None and out:
            # The successor has gone out: the held datagram follows it (equal release
            # times keep their order: emissions are sent in the order they are returned).
            state.held = None
            release_at = max(emission.release_at for emission in out)
            out.append(
                self._emit(
                    state,
                    direction,
                    state.held_index,
                    previously_held,
                    now,
                    release_at,
                    "release",
                    f"after #{index}",
                )
            )
        return out

    def next_expiry(self) -> float | None:
        """When :meth:`expire` must next run (a held datagram's limit), or None."""
        times = [s.held_until for s in self._states.values() if s.held is not None]
        return min(times) if times else None

    def expire(self, now: float) -> list[Emission]:
        """Release the held datagrams whose ``reorder_hold`` ran out by ``now``."""
        out: list[Emission] = []
        for direction, state in self._states.items():
            held = state.held
            if held is not None and state.held_until <= now:
                state.held = None
                out.append(
                    self._emit(
                        state,
                        direction,
                        state.held_index,
                        held,
                        now,
                        now + state.held_delay,
                        "release",
                        "hold time over",
                    )
                )
        return out

    def flush(self, now: float) -> list[Emission]:
        """Release every held datagram now (used when the proxy shuts down)."""
        out: list[Emission] = []
        for direction, state in self._states.items():
            held = state.held
            if held is not None:
                state.held = None
                out.append(
                    self._emit(state, direction, state.held_index, held, now, now, "release")
                )
        return out

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _release_time(state: _DirectionState, now: float) -> float:
        config = state.config
        delay = config.delay
        if config.jitter:
            delay += state.rng.uniform(0.0, config.jitter)
        return now + delay

    def _emit(
        self,
        state: _DirectionState,
        direction: Direction,
        index: int,
        data: bytes,
        now: float,
        release_at: float,
        action: str = "forward",
        detail: str = "",
    ) -> Emission:
        stats = state.stats
        stats.emitted += 1
        stats.bytes_emitted += len(data)
        if release_at > now:
            stats.delayed += 1
            detail = f"{detail} +{(release_at - now) * 1000:.1f} ms".strip()
        self._log(now, direction, index, action, len(data), detail)
        return Emission(release_at, direction, data)

    def _corrupt(
        self, rng: random.Random, data: bytes, now: float, direction: Direction, index: int
    ) -> bytes:
        damaged = bytearray(data)
        positions = rng.sample(range(len(damaged)), min(len(damaged), rng.randint(1, 3)))
        for position in positions:
            damaged[position] ^= rng.randrange(1, 256)
        where = ",".join(str(p) for p in sorted(positions))
        self._log(now, direction, index, "corrupt", len(data), f"bytes {where}")
        return bytes(damaged)

    def _log(
        self,
        now: float,
        direction: Direction,
        index: int,
        action: str,
        size: int,
        detail: str = "",
    ) -> None:
        self.actions.append(Action(now, direction, index, action, size, detail))
        if logger.isEnabledFor(10):  # logging.DEBUG, without importing logging here
            logger.debug(
                "%s %s #%d %s %d B %s", self.name, direction.value, index, action, size, detail
            )


# ---------------------------------------------------------------------- the proxy


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if host == "localhost":
        host = "127.0.0.1"
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address") from None


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def parse_host_port(text: str) -> tuple[str, int]:
    """``"127.0.0.1:5000"`` or ``"[::1]:5000"`` → ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, number


def _sockaddr(host: str, port: int) -> tuple[int, Address]:
    ip = _parse_ip(host)
    if isinstance(ip, ipaddress.IPv6Address):
        return socket.AF_INET6, (str(ip), port, 0, 0)
    return socket.AF_INET, (str(ip), port)


@dataclass
class _Flow:
    index: int
    client: Address
    sock: socket.socket
    engine: ImpairmentEngine
    last_seen: float


class ImpairmentProxy:
    """A UDP relay between clients and ``target`` that impairs both directions.

    ``listen`` is where clients send (port 0: any free port, see :attr:`port`). Each new
    client address gets its own upstream socket connected to ``target`` and its own
    :class:`ImpairmentEngine` seeded with ``f"{seed}/{flow number}"``. At most
    ``max_flows`` clients are relayed at once (datagrams of further clients are dropped
    and counted); a flow silent for ``idle_timeout`` seconds is closed.

    ``target`` must be a loopback address unless ``allow_non_loopback`` (see the module
    docstring for why); a refused target raises ``ValueError``.

    ``clock`` supplies ``now`` when :meth:`poll` is not given one.
    """

    def __init__(
        self,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        target: tuple[str, int] = ("127.0.0.1", 0),
        client_to_server: Impairment | None = None,
        server_to_client: Impairment | None = None,
        seed: Seed = 0,
        *,
        allow_non_loopback: bool = False,
        max_flows: int = 1024,
        idle_timeout: float = 300.0,
        log_limit: int | None = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        target_ip = _parse_ip(target[0])
        if not allow_non_loopback and not _is_loopback(target_ip):
            raise ValueError(
                f"refusing non-loopback target {target[0]}: pass allow_non_loopback=True "
                "(--allow-remote-target) to relay to another host"
            )
        if not 0 < int(target[1]) <= 65535:
            raise ValueError(f"bad target port {target[1]!r}")
        self.seed = seed
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self.log_limit = log_limit
        self._clock = clock
        self._impairments = {
            Direction.CLIENT_TO_SERVER: client_to_server or Impairment(),
            Direction.SERVER_TO_CLIENT: server_to_client or Impairment(),
        }
        self._target_family, self._target = _sockaddr(target[0], int(target[1]))
        listen_family, listen_addr = _sockaddr(listen[0], int(listen[1]))
        self._listen = socket.socket(listen_family, socket.SOCK_DGRAM)
        try:
            self._listen.setblocking(False)
            self._listen.bind(listen_addr)
        except OSError:
            self._listen.close()
            raise
        name = self._listen.getsockname()
        self._address = (str(name[0]), int(name[1]))
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listen, selectors.EVENT_READ, None)
        self._flows: dict[Address, _Flow] = {}
        self._flows_created = 0
        self._retired = {d: ImpairmentStats() for d in Direction}
        self._schedule: list[tuple[float, int, Emission, _Flow]] = []
        self._sequence = 0
        self._buffer = bytearray(_RECV_SIZE)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_idle_check = 0.0
        #: Datagrams refused because ``max_flows`` flows were open.
        self.refused_flows = 0
        #: Sends that the OS refused (e.g. ICMP port unreachable from the target).
        self.send_errors = 0
        #: Datagrams sent, both directions.
        self.sent = 0

    # ------------------------------------------------------------------ queries

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) clients send to."""
        return self._address

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def target(self) -> tuple[str, int]:
        return str(self._target[0]), int(self._target[1])

    @property
    def flow_count(self) -> int:
        """Client flows currently open."""
        return len(self._flows)

    @property
    def flows_created(self) -> int:
        return self._flows_created

    def filenos(self) -> list[int]:
        """Every socket of the proxy, for a caller's own ``select``."""
        with self._lock:
            return [self._listen.fileno()] + [f.sock.fileno() for f in self._flows.values()]

    def get_impairment(self, direction: Direction) -> Impairment:
        return self._impairments[direction]

    def set_impairment(self, direction: Direction, impairment: Impairment) -> None:
        """Change ``direction`` for every flow, open or future, from the next datagram."""
        with self._lock:
            self._impairments[direction] = impairment
            for flow in self._flows.values():
                flow.engine.set_impairment(direction, impairment)

    def stats(self, direction: Direction) -> ImpairmentStats:
        """Totals of ``direction`` over every flow, closed ones included (a copy)."""
        with self._lock:
            total = ImpairmentStats()
            total.add(self._retired[direction])
            for flow in self._flows.values():
                total.add(flow.engine.stats(direction))
            return total

    def engines(self) -> list[ImpairmentEngine]:
        """The engines of the open flows, in flow order (their ``actions`` are the log)."""
        with self._lock:
            return [f.engine for f in sorted(self._flows.values(), key=lambda f: f.index)]

    def next_deadline(self) -> float | None:
        """The earliest scheduled release or reorder-hold limit, or None."""
        with self._lock:
            times = [self._schedule[0][0]] if self._schedule else []
            for flow in self._flows.values():
                expiry = flow.engine.next_expiry()
                if expiry is not None:
                    times.append(expiry)
            return min(times) if times else None

    def summary(self) -> str:
        """A table of every action per direction, for the end of a run."""
        columns = [item.name for item in fields(ImpairmentStats)]
        widths = {name: max(len(name), 7) for name in columns}
        header = f"{'direction':<15}" + "".join(f" {name:>{widths[name]}}" for name in columns)
        lines = [
            f"proxy {self.address[0]}:{self.port} -> {self.target[0]}:{self.target[1]}, "
            f"seed {self.seed!r}, {self._flows_created} flow(s), {self.sent} datagram(s) sent, "
            f"{self.send_errors} send error(s), {self.refused_flows} refused",
            header,
        ]
        for direction in Direction:
            values = self.stats(direction).as_dict()
            lines.append(
                f"{direction.label:<15}"
                + "".join(f" {values[name]:>{widths[name]}}" for name in columns)
            )
        for direction in Direction:
            lines.append(f"{direction.label}: {self._impairments[direction].describe()}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ driving

    def poll(self, now: float | None = None, timeout: float = 0.0) -> int:
        """One step: wait at most ``timeout`` s for input, relay, send what is due.

        ``now`` is the time used for scheduling (default: the clock, read after the
        wait). Returns the number of datagrams sent.
        """
        if self._closed:
            return 0
        try:
            ready = self._selector.select(max(0.0, timeout))
        except (OSError, ValueError):  # closed under us by stop() in another thread
            return 0
        with self._lock:
            if self._closed:
                return 0
            if now is None:
                now = self._clock()
            for key, _events in ready:
                flow = key.data
                if flow is None:
                    self._read_clients(now)
                elif flow.client in self._flows:
                    self._read_target(flow, now)
            for flow in list(self._flows.values()):
                expiry = flow.engine.next_expiry()
                if expiry is not None and expiry <= now:
                    self._schedule_all(flow, flow.engine.expire(now))
            sent = self._send_due(now)
            if now >= self._next_idle_check:
                self._next_idle_check = now + 1.0
                self._close_idle(now)
            return sent

    def run(self, stop: threading.Event, deadline: float | None = None) -> None:
        """Poll until ``stop`` is set or the clock passes ``deadline``."""
        while not stop.is_set() and not self._closed:
            now = self._clock()
            if deadline is not None and now >= deadline:
                break
            wait = MAX_THREAD_WAIT
            upcoming = self.next_deadline()
            if upcoming is not None:
                wait = min(wait, max(0.0, upcoming - now))
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            self.poll(timeout=wait)

    def start(self) -> ImpairmentProxy:
        """Relay from a daemon thread until :meth:`stop`; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("the proxy thread is already running")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="impairment-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (if any, waiting at most ``timeout`` s) and close the sockets."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Close every socket; scheduled and held datagrams are discarded."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for flow in list(self._flows.values()):
                self._retire(flow)
            self._schedule.clear()
            self._selector.close()
            self._listen.close()

    def __enter__(self) -> ImpairmentProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _read_clients(self, now: float) -> None:
        sock = self._listen
        buffer = self._buffer
        for _ in range(MAX_READS_PER_SOCKET):
            try:
                size, client = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP errors reported on some platforms
                logger.debug("impairment proxy: receive from clients failed: %s", exc)
                return
            flow = self._flows.get(client)
            if flow is None:
                flow = self._open_flow(client, now)
                if flow is None:
                    continue
            flow.last_seen = now
            data = bytes(buffer[:size])
            self._schedule_all(flow, flow.engine.process(Direction.CLIENT_TO_SERVER, data, now))

    def _read_target(self, flow: _Flow, now: float) -> None:
        sock = flow.sock
        buffer = self._buffer
        for _ in range(MAX_READS_PER_SOCKET):
            try:
                size = sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable: the target is not there (yet)
                logger.debug("impairment proxy: flow %d: receive failed: %s", flow.index, exc)
                return
            flow.last_seen = now
            data = bytes(buffer[:size])
            self._schedule_all(flow, flow.engine.process(Direction.SERVER_TO_CLIENT, data, now))

    def _open_flow(self, client: Address, now: float) -> _Flow | None:
        if len(self._flows) >= self.max_flows:
            self.refused_flows += 1
            return None
        sock = socket.socket(self._target_family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(self._target)
        except OSError as exc:
            sock.close()
            logger.debug("impairment proxy: cannot open a flow for %s: %s", client, exc)
            self.refused_flows += 1
            return None
        index = self._flows_created
        self._flows_created += 1
        engine = ImpairmentEngine(
            f"{self.seed}/{index}",
            self._impairments[Direction.CLIENT_TO_SERVER],
            self._impairments[Direction.SERVER_TO_CLIENT],
            log_limit=self.log_limit,
            name=f"flow {index}",
        )
        flow = _Flow(index, client, sock, engine, now)
        self._flows[client] = flow
        self._selector.register(sock, selectors.EVENT_READ, flow)
        logger.debug("impairment proxy: flow %d for client %s", index, client[:2])
        return flow

    def _schedule_all(self, flow: _Flow, emissions: list[Emission]) -> None:
        schedule = self._schedule
        for emission in emissions:
            self._sequence += 1
            heapq.heappush(schedule, (emission.release_at, self._sequence, emission, flow))

    def _send_due(self, now: float) -> int:
        schedule = self._schedule
        sent = 0
        while schedule and schedule[0][0] <= now:
            _, _, emission, flow = heapq.heappop(schedule)
            if flow.client not in self._flows:
                continue  # the flow was closed meanwhile
            try:
                if emission.direction is Direction.CLIENT_TO_SERVER:
                    flow.sock.send(emission.data)
                else:
                    self._listen.sendto(emission.data, flow.client)
            except OSError as exc:
                self.send_errors += 1
                logger.debug("impairment proxy: flow %d: send failed: %s", flow.index, exc)
                continue
            sent += 1
        self.sent += sent
        return sent

    def _close_idle(self, now: float) -> None:
        limit = now - self.idle_timeout
        for flow in [f for f in self._flows.values() if f.last_seen < limit]:
            logger.debug("impairment proxy: flow %d idle, closed", flow.index)
            self._retire(flow)

    def _retire(self, flow: _Flow) -> None:
        self._flows.pop(flow.client, None)
        for direction in Direction:
            self._retired[direction].add(flow.engine.stats(direction))
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(flow.sock)
        flow.sock.close()


# ---------------------------------------------------------------------- command line

_RATES = ("drop", "duplicate", "reorder", "corrupt", "truncate")
_TIMES = ("delay_ms", "jitter_ms")


def add_proxy_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``proxy`` subcommand to the ``godot-dtls`` subparsers ``commands``."""
    proxy = commands.add_parser(
        "proxy",
        help="seeded UDP impairment proxy (loss, duplication, reordering, ...)",
        description=(
            "Relay UDP between clients and a loopback target, dropping, duplicating, "
            "reordering, delaying, corrupting and truncating datagrams at the given rates "
            "(0..1), reproducibly from --seed. Each rate applies to both directions unless "
            "a --c2s-*/--s2c-* option overrides it. Prints a summary of the actions on exit."
        ),
    )
    proxy.add_argument("--listen", default="127.0.0.1:5000", help="HOST:PORT clients use")
    proxy.add_argument("--target", required=True, help="HOST:PORT of the server (loopback)")
    for name in _RATES:
        proxy.add_argument(f"--{name}", type=float, default=0.0, help=f"{name} rate (0..1)")
    proxy.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay")
    proxy.add_argument("--jitter-ms", type=float, default=0.0, help="extra random delay")
    proxy.add_argument(
        "--reorder-hold-ms", type=float, default=100.0, help="longest hold of a reordered datagram"
    )
    for prefix in ("c2s", "s2c"):
        for name in (*_RATES, "delay-ms", "jitter-ms"):
            proxy.add_argument(
                f"--{prefix}-{name}", type=float, default=None, help=argparse.SUPPRESS
            )
    proxy.add_argument("--seed", default="1", help="random seed (same seed, same actions)")
    proxy.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    proxy.add_argument("--log", action="store_true", help="log every action (DEBUG)")
    proxy.add_argument(
        "--allow-remote-target",
        action="store_true",
        help="allow a non-loopback target (the proxy then relays off this machine)",
    )
    proxy.set_defaults(handler=run_proxy_command)
    return proxy


def _impairment_from_args(args: argparse.Namespace, prefix: str) -> Impairment:
    values: dict[str, float] = {}
    for name in (*_RATES, *_TIMES):
        override = getattr(args, f"{prefix}_{name}", None)
        values[name] = float(getattr(args, name) if override is None else override)
    base = Impairment(reorder_hold=args.reorder_hold_ms / 1000.0)
    return replace(
        base,
        drop=values["drop"],
        duplicate=values["duplicate"],
        reorder=values["reorder"],
        corrupt=values["corrupt"],
        truncate=values["truncate"],
        delay=values["delay_ms"] / 1000.0,
        jitter=values["jitter_ms"] / 1000.0,
    )


def run_proxy_command(args: argparse.Namespace) -> int:
    """``godot-dtls proxy``: relay until Ctrl-C or ``--duration``, then print the summary."""
    import sys

    seed: Seed = int(args.seed) if str(args.seed).lstrip("-").isdigit() else str(args.seed)
    try:
        proxy = ImpairmentProxy(
            parse_host_port(args.listen),
            parse_host_port(args.target),
            _impairment_from_args(args, "c2s"),
            _impairment_from_args(args, "s2c"),
            seed,
            allow_non_loopback=args.allow_remote_target,
        )
    except (ValueError, OSError) as exc:
        print(f"proxy: {exc}", file=sys.stderr)
        return 2
    if args.log:
        logger.setLevel(10)  # logging.DEBUG
    print(
        f"READY {proxy.port}: proxy {proxy.address[0]}:{proxy.port} -> "
        f"{proxy.target[0]}:{proxy.target[1]} (seed {seed!r})",
        flush=True,
    )
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    stop = threading.Event()
    try:
        proxy.run(stop, deadline)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.close()
    print(proxy.summary(), flush=True)
    return 0
