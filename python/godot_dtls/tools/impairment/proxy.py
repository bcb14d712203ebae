"""The socket-driven impairment proxy: one listening socket for clients, one upstream
socket per client towards the target, and an :class:`~.engine.ImpairmentEngine` per
flow. Targets are loopback-only unless explicitly allowed (a duplicating proxy towards
any host would be an amplifier).
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import selectors
import socket
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Tuple

from godot_dtls.core.log import logger

from .engine import Direction, Emission, Impairment, ImpairmentEngine, ImpairmentStats, Seed

Address = Tuple[Any, ...]

#: Largest UDP payload read from a socket.
_RECV_SIZE = 65535
#: Most datagrams read from one socket per :meth:`ImpairmentProxy.poll`, so a flood on
#: one socket cannot keep the loop from sending or from checking its stop event.
MAX_READS_PER_SOCKET = 256
#: Longest single wait of the background thread, so ``stop()`` is seen quickly.
MAX_THREAD_WAIT = 0.05
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
