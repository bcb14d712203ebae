"""The sans-IO impairment engine: datagrams and ``now`` in, emissions and their times out.

It opens no socket and reads no clock; every decision comes from a seeded random
generator and is logged as an :class:`Action` and counted in :class:`ImpairmentStats`,
so a run can be replayed and its rates checked.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass, field, fields
from typing import NamedTuple, Union

from godot_dtls.core.log import logger

Seed = Union[int, str]
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
