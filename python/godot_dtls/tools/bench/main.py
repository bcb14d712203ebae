"""``godot-dtls bench``: godot-dtls against Godot 3.2.3's own DTLS, on loopback, in one run.

Five pairs, each a client and an echo server in two processes on 127.0.0.1:

1. godot-dtls client ↔ godot-dtls server (``python -m godot_dtls.tools.bench.pyserver``);
2. godot-dtls client ↔ Godot 3.2.3 server (``godot3/bench_server.gd``, mbedTLS);
3. Godot client ↔ Godot server: the anchor every ratio refers to;
4. bare pyOpenSSL client ↔ Godot server: the floor of a Python implementation;
5. godot-dtls inside Godot 3.2.3 (godot-python) ↔ Godot server: the same GDScript client
   loop as pair 3 in the same engine, driving ``PythonPacketPeerDTLS`` (the facade over
   the Python class) instead of ``PacketPeerDTLS``: what a game's script gets. Skipped,
   with the reason, where the godot-python runtime is not built.

Per pair: handshake times, serial echo (round-trip time and packets per second) and
pipelined echo (a window of 32) for 64 and 1200 bytes, the client's CPU per packet,
and (pairs 1-4) N clients at once against one fresh server (time until every handshake
is done, aggregate echo rate, server RSS per peer). Pair 5 adds the cost of one call from
GDScript into Python, GDScript and the engine. Then the CPU cost of the Godot-API layer
against raw pyOpenSSL in memory (:mod:`.layer`) and the memory of one connected peer on
the godot-dtls server, split into the Python and the C heap (:mod:`.memory`).
``--crowd N`` adds N peers at once on one godot-dtls server; ``--anchor-check`` instead
checks the anchor against the least GDScript client and a C client (:mod:`.anchor`).
Only one pair runs at a time: at most two busy processes on the machine's cores.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .anchor import format_anchor_check, run_anchor_check
from .clients import ApiClient, BareClient, bare_client_context, make_ring
from .engine_project import assemble_engine_project, find_engine_runtime
from .layer import run_layer_benchmark
from .measure import (
    Client,
    EchoRun,
    ManyRun,
    connect,
    run_handshakes,
    run_many,
    run_pipelined,
    run_serial,
    summary,
)
from .memory import breakdown, combine
from .pki import HOSTNAME, BenchPKI, make_pki
from .procs import (
    GODOT3_PROJECT,
    BenchProcess,
    ProcessError,
    RssSampler,
    cpu_seconds,
    free_udp_port,
    godot3_binary,
    godot_command,
    python_server_command,
    rss_kib,
    udp_rcvbuf_errors,
)
from .progress import Progress
from .report import (
    finalize,
    format_report,
    machine_info,
    write_json,
    write_plot,
)

__all__ = ["PAIRS", "PairSpec", "Settings", "run", "run_benchmark"]

HOST = "127.0.0.1"
#: Packets sent before each measured run (connection and caches warm).
WARMUP_PACKETS = 100


@dataclass(frozen=True)
class PairSpec:
    """Who talks to whom."""

    number: int
    label: str
    #: "godot-dtls", "bare", "godot" (GDScript on the engine's PacketPeerDTLS) or
    #: "godot-python" (the same GDScript on PythonPacketPeerDTLS, inside the engine)
    client: str
    server: str  # "godot-dtls" or "godot"

    @property
    def needs_godot(self) -> bool:
        return "godot" in (self.client, self.server) or self.in_engine

    @property
    def in_engine(self) -> bool:
        """The client is the Python class inside Godot (needs the godot-python runtime)."""
        return self.client == "godot-python"

    @property
    def gdscript_client(self) -> bool:
        return self.client in ("godot", "godot-python")

    @property
    def measures_many(self) -> bool:
        """N peers at once: pairs 1-4 (pair 5 is one game client, like pair 3's)."""
        return not self.in_engine


PAIRS: dict[int, PairSpec] = {
    1: PairSpec(1, "godot-dtls ↔ godot-dtls", "godot-dtls", "godot-dtls"),
    2: PairSpec(2, "godot-dtls ↔ Godot", "godot-dtls", "godot"),
    3: PairSpec(3, "Godot ↔ Godot (anchor)", "godot", "godot"),
    4: PairSpec(4, "bare pyOpenSSL ↔ Godot", "bare", "godot"),
    5: PairSpec(5, "godot-dtls in Godot (GDScript → Python) ↔ Godot", "godot-python", "godot"),
}
#: The pair every ratio refers to.
ANCHOR = 3
#: How every client waits for an echo when nothing is readable: "block" sleeps on the
#: socket until it is (the Python clients' poll(2), the GDScript client's
#: PacketPeerUDP.wait()), "spin" polls again at once. One choice for all pairs. Block is
#: the default: on this 2-core machine Godot's server spins on one core (its UDPServer
#: cannot wait), and a spinning client beside it collapses to a few hundred packets per
#: second as soon as a third process runs; on an idle machine spinning halves the serial
#: round trip of every pair and leaves the pipelined rates as they are (README
#: "Benchmark", and ``--anchor-check``, which measures both).
WAIT_MODES = ("block", "spin")
#: bench_client.gd's spin= value that never sleeps.
NEVER_SLEEP = 1 << 40


@dataclass
class Settings:
    """What one run measures and for how long."""

    quick: bool
    key_type: str = "rsa"
    pairs: tuple[int, ...] = (1, 2, 3, 4, 5)
    handshakes: int = 50
    sizes: tuple[int, ...] = (64, 1200)
    window: int = 32
    repeats: int = 3
    serial_s: float = 1.0
    pipelined_s: float = 1.0
    many: tuple[int, ...] = (100, 1000)
    many_echo_s: float = 2.0
    many_handshake_limit: float = 60.0
    layer_count: int = 20000
    layer_repeats: int = 3
    layer_windows: tuple[int, ...] = (1, 32)
    #: How the clients wait for an echo (see WAIT_MODES).
    wait: str = "block"
    #: Calls per kind when timing a call from GDScript (pair 5).
    calls: int = 200000
    #: Peers on the godot-dtls server for the per-peer memory breakdown (0: none).
    memory_peers: int = 1000
    #: Echoes between the "connected" and "echoed" memory snapshots.
    memory_echo_s: float = 2.0
    #: Peers at once on one godot-dtls server for --crowd (0: not run).
    crowd: int = 0
    crowd_handshake_limit: float = 120.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        pairs = tuple(sorted(set(args.pairs))) if args.pairs else (1, 2, 3, 4, 5)
        if args.quick:
            settings = cls(
                quick=True,
                handshakes=30,
                repeats=1,
                serial_s=0.3,
                pipelined_s=0.3,
                many=(20,),
                many_echo_s=0.5,
                many_handshake_limit=20.0,
                layer_count=2000,
                layer_repeats=1,
                calls=20000,
                memory_peers=20,
                memory_echo_s=0.5,
            )
        else:
            settings = cls(quick=False)
        settings.key_type = args.key_type
        settings.pairs = pairs
        if args.peers:
            settings.many = tuple(args.peers)
        if getattr(args, "memory_peers", None) is not None:
            settings.memory_peers = args.memory_peers
        if getattr(args, "crowd", None):
            settings.crowd = args.crowd
        if getattr(args, "wait", None):
            settings.wait = args.wait
        return settings


class _Context:
    """What the pair runners share: settings, certificates, progress, temp folder."""

    def __init__(
        self, settings: Settings, pki: BenchPKI, workdir: Path, progress: Progress
    ) -> None:
        self.settings = settings
        self.pki = pki
        self.workdir = workdir
        self.progress = progress
        self._numbers = itertools.count(1)
        self._client_options = pki.client_options()
        self._bare_context = bare_client_context(pki.ca_path)
        # Upper bound of a server's life; the stop file ends it as soon as it is done.
        self.server_duration = 900.0
        self._engine_project: Path | None = None

    def engine_project(self) -> Path:
        """The Godot 3 project with godot-python and godot-dtls (assembled on first use)."""
        if self._engine_project is None:
            runtime, reason = find_engine_runtime()
            if runtime is None:
                raise RuntimeError(reason)
            self._engine_project = assemble_engine_project(self.workdir / "engine", runtime)
        return self._engine_project

    def client_factory(self, kind: str, port: int) -> Callable[[], Client]:
        spin = self.settings.wait == "spin"
        if kind == "godot-dtls":
            options = self._client_options
            return lambda: ApiClient(HOST, port, options, HOSTNAME, spin=spin)
        if kind == "bare":
            context = self._bare_context
            return lambda: BareClient(HOST, port, context, HOSTNAME, spin=spin)
        raise ValueError(f"no Python client of kind {kind!r}")

    def start_server(
        self, kind: str, max_pending: int = 16, extra: Sequence[str] = ()
    ) -> BenchProcess:
        """A started echo server that printed READY (its port is ``.port``).

        ``max_pending`` is the UDPServer's pending cap; above the default 16 it is also the
        godot-dtls DTLSServer's cap on handshakes in progress, so N peers at once are
        admitted (Godot's server has no such cap)."""
        number = next(self._numbers)
        stop_file = self.workdir / f"stop-{number}"
        if kind == "godot-dtls":
            command = python_server_command(
                [
                    "--key",
                    str(self.pki.key_path),
                    "--cert",
                    str(self.pki.cert_path),
                    "--duration",
                    str(self.server_duration),
                    "--stop-file",
                    str(stop_file),
                    "--max-pending",
                    str(max_pending),
                    "--max-handshakes",
                    str(max_pending if max_pending > 16 else 0),
                    *extra,
                ]
            )
            server = BenchProcess(command, name="godot-dtls server", stop_file=stop_file)
            server.start()
            try:
                server.ready(30.0)
            except ProcessError:
                server.stop()
                raise
            return server
        last: ProcessError | None = None
        for _attempt in range(3):  # 3.2.3 cannot listen on port 0: a race, retried
            command = godot_command(
                "bench_server.gd",
                {
                    "port": free_udp_port(HOST),
                    "bind": HOST,
                    "key": self.pki.key_path,
                    "cert": self.pki.cert_path,
                    "duration": self.server_duration,
                    "stop_file": stop_file,
                    "max_pending": max_pending,
                },
            )
            server = BenchProcess(command, name="Godot server", stop_file=stop_file)
            server.start()
            try:
                server.ready(30.0)
                return server
            except ProcessError as exc:
                last = exc
                server.stop()
        assert last is not None
        raise last


def _finish(server: BenchProcess) -> dict[str, Any]:
    """Stop a server and return its RESULT (empty when it printed none)."""
    server.stop()
    try:
        return server.result(1.0)
    except ProcessError:
        return {}


def _echo_dict(run: EchoRun) -> dict[str, Any]:
    return {
        "sent": run.sent,
        "received": run.received,
        "mismatches": run.mismatches,
        "elapsed_s": run.elapsed_s,
        "cpu_s": run.cpu_s,
        "rtt_us": run.rtt_us,
        "compared": run.received,  # the Python loops compare every echo
    }


def _godot_echo_dict(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "sent": int(run.get("sent", 0)),
        "received": int(run.get("received", 0)),
        "mismatches": int(run.get("mismatches", 0)),
        "elapsed_s": float(run.get("elapsed_us", 0)) / 1e6,
        "cpu_s": None,
        "rtt_us": [float(value) for value in run.get("rtt_us", [])],
        "compared": 0,  # the GDScript loop compares in untimed passes (see "echo_checked")
    }


def _aggregate(runs: Sequence[dict[str, Any]], with_rtt: bool) -> dict[str, Any]:
    """Repeats of one (size, mode): median pkt/s, summed counts, pooled RTT samples."""
    rates = [run["received"] / run["elapsed_s"] for run in runs if run["elapsed_s"] > 0]
    sent = sum(run["sent"] for run in runs)
    received = sum(run["received"] for run in runs)
    entry: dict[str, Any] = {
        "runs": len(runs),
        "pps": statistics.median(rates) if rates else 0.0,
        "pps_each": rates,
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "mismatches": sum(run["mismatches"] for run in runs),
        "compared": sum(run.get("compared", 0) for run in runs),
        "cpu_us_per_packet": None,
    }
    cpu = [run["cpu_s"] for run in runs]
    if runs and all(value is not None for value in cpu) and received:
        entry["cpu_us_per_packet"] = sum(cpu) / received * 1e6
    if with_rtt:
        entry["rtt_us"] = summary([value for run in runs for value in run["rtt_us"]])
    return entry


def _pair_skeleton(spec: PairSpec) -> dict[str, Any]:
    return {
        "label": spec.label,
        "client": spec.client,
        "server": spec.server,
        "handshake_ms": None,
        "rtt_us": {},
        "pps_serial": {},
        "pps_pipelined": {},
        "cpu_us_per_packet": None,
        "echo": {"serial": {}, "pipelined": {}},
        "many_peers": {},
        "cipher": None,
    }


def _store_echo(
    pair: dict[str, Any],
    size: int,
    serial: Sequence[dict[str, Any]],
    pipelined: Sequence[dict[str, Any]],
) -> None:
    key = str(size)
    serial_entry = _aggregate(serial, with_rtt=True)
    pipelined_entry = _aggregate(pipelined, with_rtt=False)
    pair["echo"]["serial"][key] = serial_entry
    pair["echo"]["pipelined"][key] = pipelined_entry
    pair["rtt_us"][key] = serial_entry["rtt_us"]
    pair["pps_serial"][key] = serial_entry["pps"]
    pair["pps_pipelined"][key] = pipelined_entry["pps"]
    if serial_entry["cpu_us_per_packet"] is not None:
        cpu = pair["cpu_us_per_packet"] or {"serial": {}, "pipelined": {}}
        cpu["serial"][key] = serial_entry["cpu_us_per_packet"]
        cpu["pipelined"][key] = pipelined_entry["cpu_us_per_packet"]
        pair["cpu_us_per_packet"] = cpu


# ------------------------------------------------------------------------ Python clients


def _python_perf(ctx: _Context, spec: PairSpec, pair: dict[str, Any]) -> None:
    settings = ctx.settings
    name = f"pair {spec.number}"
    server = ctx.start_server(spec.server)
    try:
        factory = ctx.client_factory(spec.client, server.port or 0)
        ctx.progress.begin(f"{name}: {settings.handshakes} handshakes")
        handshakes = run_handshakes(factory, settings.handshakes)
        pair["handshake_ms"] = dict(
            summary(handshakes.samples_ms),
            failures=handshakes.failures,
            retransmissions=handshakes.retransmissions,
            samples=handshakes.samples_ms,
        )
        pair["cipher"] = handshakes.cipher or None
        client = factory()
        if not client.prepare() or not connect(client, 10.0):
            raise RuntimeError(f"{name}: the echo client could not connect")
        try:
            for size in settings.sizes:
                ring = make_ring(size)
                ctx.progress.begin(f"{name}: serial {size} B")
                run_serial(client, ring, 0.0, count=WARMUP_PACKETS)
                serial = [
                    _echo_dict(run_serial(client, ring, settings.serial_s))
                    for _ in range(settings.repeats)
                ]
                ctx.progress.begin(f"{name}: pipelined {size} B")
                run_pipelined(client, ring, settings.window, 0.0, count=WARMUP_PACKETS)
                pipelined = [
                    _echo_dict(run_pipelined(client, ring, settings.window, settings.pipelined_s))
                    for _ in range(settings.repeats)
                ]
                _store_echo(pair, size, serial, pipelined)
        finally:
            client.close()
    finally:
        pair["server_result"] = _finish(server)


def _warm_up(ctx: _Context, port: int) -> None:
    """One handshake and a few echoes, so one-time allocations are not counted per peer."""
    client = ctx.client_factory("bare", port)()
    try:
        if client.prepare() and connect(client, 10.0):
            run_serial(client, make_ring(64), 0.0, count=20)
    finally:
        client.close()


def _delta(before: int | None, after: int | None) -> int | None:
    return after - before if before is not None and after is not None else None


def _many_entry(peers: int, before: int | None, peak: int | None, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"peers": peers}
    entry.update(fields)
    entry["rss_before_kib"] = before
    entry["rss_peak_kib"] = peak
    entry["rss_per_peer_kib"] = (
        (peak - before) / peers if before is not None and peak is not None and peers else None
    )
    return entry


def _python_many(ctx: _Context, spec: PairSpec, pair: dict[str, Any], peers: int) -> None:
    settings = ctx.settings
    ctx.progress.begin(f"pair {spec.number}: {peers} peers at once")
    server = ctx.start_server(spec.server, max_pending=peers + 16)
    try:
        port = server.port or 0
        _warm_up(ctx, port)
        time.sleep(0.3)
        before = rss_kib(server.pid)
        drops = udp_rcvbuf_errors()
        with RssSampler(server.pid) as sampler:
            run = run_many(
                ctx.client_factory(spec.client, port),
                peers,
                make_ring(64),
                settings.many_handshake_limit,
                settings.many_echo_s,
                on_phase=lambda _phase: sampler.sample(),
            )
        entry = _many_entry(
            peers,
            before,
            sampler.peak_kib,
            connected=run.connected,
            failed=run.failed,
            handshake_all_s=run.handshake_s,
            echo_pps=run.echo_pps,
            echo_received=run.echo_received,
            echo_lost=run.echo_lost,
            echo_mismatches=run.echo_mismatches,
            client_retransmissions=run.retransmissions,
            udp_rcvbuf_drops=_delta(drops, udp_rcvbuf_errors()),
        )
    finally:
        result = _finish(server)
    entry["server_result"] = result
    pair["many_peers"][str(peers)] = entry


# ------------------------------------------------------------------------ Godot client


def _connect_args(ctx: _Context, port: int | None) -> dict[str, object]:
    """Where the GDScript client connects and what it trusts: the same in every mode."""
    return {"host": HOST, "port": port, "hostname": HOSTNAME, "ca": ctx.pki.ca_path}


def _gdscript_client_command(
    ctx: _Context, spec: PairSpec, mode: str, args: dict[str, object]
) -> list[str]:
    """``bench_client.gd`` in the benchmark's project (pair 3) or, for the Python class
    inside the engine (pair 5), in the project with godot-python and the facades."""
    in_engine = spec.in_engine
    project = ctx.engine_project() if in_engine else GODOT3_PROJECT
    base: dict[str, object] = {"mode": mode}
    if mode != "calls":
        base["backend"] = "facade" if in_engine else "engine"
    return godot_command("bench_client.gd", {**base, **args}, project=project)


def _godot_perf(ctx: _Context, spec: PairSpec, pair: dict[str, Any]) -> None:
    settings = ctx.settings
    name = f"pair {spec.number}"
    if spec.in_engine:
        ctx.engine_project()  # assembled (or refused) before a server starts
    server = ctx.start_server(spec.server)
    try:
        command = _gdscript_client_command(
            ctx,
            spec,
            "perf",
            {
                **_connect_args(ctx, server.port),
                "handshakes": settings.handshakes,
                "sizes": list(settings.sizes),
                "serial_s": settings.serial_s,
                "pipelined_s": settings.pipelined_s,
                "repeats": settings.repeats,
                "window": settings.window,
                "spin": NEVER_SLEEP if settings.wait == "spin" else 0,
                "timeout": 600,
            },
        )
        budget = 60.0 + 4 * settings.repeats * (settings.serial_s + settings.pipelined_s)
        # The client's CPU time at each PHASE line: a section's CPU ends where the next
        # section begins (the warm-up and check packets are in it too: about 1 %).
        cpu_marks: dict[str, float | None] = {}
        with BenchProcess(command, name="Godot client") as client:
            client.wait_for("PHASE handshakes", 60.0)
            ctx.progress.begin(f"{name}: {settings.handshakes} handshakes")
            for size in settings.sizes:
                for mode in ("serial", "pipelined"):
                    client.wait_for(f"PHASE {mode} {size}", budget)
                    cpu_marks[f"{mode} {size}"] = cpu_seconds(client.pid)
                    ctx.progress.begin(f"{name}: {mode} {size} B")
            client.wait_for("PHASE done", budget)
            cpu_marks["done"] = cpu_seconds(client.pid)
            result = client.result(budget)
            client.stop()
    finally:
        pair["server_result"] = _finish(server)
    if "error" in result:
        raise RuntimeError(f"{name}: the Godot client failed: {result['error']}")
    samples = [float(value) for value in result.get("handshake_ms", [])]
    pair["handshake_ms"] = dict(
        summary(samples), failures=int(result.get("failures", 0)), samples=samples
    )
    pair["backend"] = result.get("backend")
    pair["echo_checked"] = result.get("verify", {})
    for size in settings.sizes:
        key = str(size)
        serial = [_godot_echo_dict(run) for run in result.get("serial", {}).get(key, [])]
        pipelined = [_godot_echo_dict(run) for run in result.get("pipelined", {}).get(key, [])]
        if not serial or not pipelined:
            raise RuntimeError(f"{name}: the Godot client reported no {size}-byte runs")
        order = [f"{mode} {other}" for other in settings.sizes for mode in ("serial", "pipelined")]
        order.append("done")
        for runs, mode in ((serial, "serial"), (pipelined, "pipelined")):
            start = cpu_marks.get(f"{mode} {size}")
            end = cpu_marks.get(order[order.index(f"{mode} {size}") + 1])
            if start is not None and end is not None:
                # Spread the section's CPU over its runs by packets received.
                for run in runs:
                    run["cpu_s"] = (
                        (end - start) * run["received"] / max(1, sum(r["received"] for r in runs))
                    )
        _store_echo(pair, size, serial, pipelined)


def _call_costs(ctx: _Context, spec: PairSpec, pair: dict[str, Any]) -> None:
    """µs per call from GDScript into GDScript, the engine and Python (pair 5's engine)."""
    settings = ctx.settings
    ctx.progress.begin(f"pair {spec.number}: cost of a call from GDScript")
    command = _gdscript_client_command(
        ctx, spec, "calls", {"calls": settings.calls, "repeats": 3, "timeout": 600}
    )
    with BenchProcess(command, name="Godot calls") as client:
        result = client.result(120.0 + settings.calls / 1000.0)
        client.stop()
    pair["call_us"] = {
        "calls": result.get("calls"),
        "from_gdscript": result.get("per_call_us", {}),
        "inside_python": result.get("inside_python_us", {}),
        "empty_loop": result.get("empty_loop_us"),
        "note": result.get("python", ""),
    }


def _godot_many(ctx: _Context, spec: PairSpec, pair: dict[str, Any], peers: int) -> None:
    settings = ctx.settings
    ctx.progress.begin(f"pair {spec.number}: {peers} peers at once")
    server = ctx.start_server(spec.server, max_pending=peers + 16)
    try:
        port = server.port or 0
        _warm_up(ctx, port)
        time.sleep(0.3)
        before = rss_kib(server.pid)
        command = godot_command(
            "bench_client.gd",
            {
                "mode": "many",
                **_connect_args(ctx, port),
                "peers": peers,
                "echo_s": settings.many_echo_s,
                "handshake_s": settings.many_handshake_limit,
                "timeout": settings.many_handshake_limit + settings.many_echo_s + 60,
            },
        )
        budget = settings.many_handshake_limit + settings.many_echo_s + 90
        drops = udp_rcvbuf_errors()
        with RssSampler(server.pid) as sampler, BenchProcess(
            command, name="Godot client"
        ) as client:
            client.wait_for("PHASE handshakes", budget)
            sampler.sample()
            result = client.result(budget)
            client.stop()
        echo_s = float(result.get("echo_elapsed_us", 0)) / 1e6
        received = int(result.get("echo_received", 0))
        entry = _many_entry(
            peers,
            before,
            sampler.peak_kib,
            connected=int(result.get("connected", 0)),
            failed=int(result.get("failed", 0)),
            handshake_all_s=float(result.get("handshake_all_ms", 0.0)) / 1000.0,
            echo_pps=received / echo_s if echo_s > 0 else 0.0,
            echo_received=received,
            echo_lost=int(result.get("echo_lost", 0)),
            echo_mismatches=int(result.get("echo_mismatches", 0)),
            client_retransmissions=None,
            udp_rcvbuf_drops=_delta(drops, udp_rcvbuf_errors()),
        )
    finally:
        server_result = _finish(server)
    entry["server_result"] = server_result
    pair["many_peers"][str(peers)] = entry


# ------------------------------------------------------------------------ memory, crowd


def _snapshot(
    folder: Path,
    name: str,
    base: str,
    server: BenchProcess,
    trim: bool = False,
    keep: bool = False,
) -> dict[str, Any]:
    """Ask the godot-dtls server for memory snapshot ``name`` and wait for it: growth
    listed against ``base`` (an earlier one taken with ``keep``); ``trim``: also the RSS
    once glibc gave its free heap back."""
    request = folder / f"{name}.request"
    answer = folder / f"{name}.json"
    partial = folder / f"{name}.partial-request"
    words = [base or "-"] + (["trim"] if trim else []) + (["keep"] if keep else [])
    partial.write_text(" ".join(words), encoding="utf-8")
    partial.replace(request)  # whole, or not there yet
    deadline = time.monotonic() + 300.0
    while not answer.exists():
        if time.monotonic() > deadline or server.returncode is not None:
            raise RuntimeError(f"the godot-dtls server took no memory snapshot {name!r}")
        time.sleep(0.02)
    result: dict[str, Any] = json.loads(answer.read_text(encoding="utf-8"))
    return result


#: The phases of a server peer the memory breakdown measures, in order: every peer in
#: the middle of its handshake (the server's first flight sent, the client's keys not
#: yet received), every handshake done, and after a while of echoes.
MEMORY_PHASES = ("handshaking", "connected", "echoed")


def _memory_run(ctx: _Context, traced: bool) -> tuple[dict[str, dict[str, Any]], ManyRun]:
    """One godot-dtls server, ``settings.memory_peers`` bare pyOpenSSL clients (the
    server's peers are the same whatever the client), a snapshot before they come and at
    each of :data:`MEMORY_PHASES`: the clients first stop after answering the server's
    cookie, so that the server holds them all mid-handshake. ``traced``: tracemalloc
    runs in the server from its start."""
    settings = ctx.settings
    peers = settings.memory_peers
    folder = ctx.workdir / ("snapshots-traced" if traced else "snapshots")
    folder.mkdir(exist_ok=True)
    extra = ["--snapshot-dir", str(folder)] + (["--trace-memory"] if traced else [])
    server = ctx.start_server("godot-dtls", max_pending=peers + 16, extra=extra)
    taken: dict[str, dict[str, Any]] = {}
    try:
        port = server.port or 0
        _warm_up(ctx, port)
        time.sleep(0.3)
        taken["before"] = _snapshot(folder, "before", "", server, keep=True)

        def on_phase(phase: str) -> None:
            if phase == "handshaking":
                taken["handshaking"] = _snapshot(folder, "handshaking", "before", server)
            elif phase == "handshakes":
                taken["connected"] = _snapshot(folder, "connected", "before", server)
            elif phase == "echo":
                taken["echoed"] = _snapshot(folder, "echoed", "before", server, trim=True)

        run = run_many(
            ctx.client_factory("bare", port),
            peers,
            make_ring(64),
            2 * settings.many_handshake_limit,
            settings.memory_echo_s,
            on_phase=on_phase,
            hold_mid_handshake=True,
        )
    finally:
        _finish(server)
    if "connected" not in taken:
        raise RuntimeError("no memory snapshot with the peers connected")
    return taken, run


def _server_memory(ctx: _Context) -> dict[str, Any]:
    """Per peer on a godot-dtls server: RSS, C heap, Python heap (see .memory), with every
    peer mid-handshake, connected, and after echoes.

    Two runs: tracemalloc costs memory of its own (more than its tables, which are taken
    out), so the RSS and the C heap come from a server without it, and the Python heap
    (with the source lines that grew most) from one with it. The last snapshot also
    gives the RSS once glibc returned its free heap (the handshakes' freed buffers)."""
    peers = ctx.settings.memory_peers
    ctx.progress.begin(f"memory: {peers} peers on a godot-dtls server (RSS, C heap)")
    plain, run = _memory_run(ctx, traced=False)
    ctx.progress.begin(f"memory: {peers} peers on a godot-dtls server (tracemalloc)")
    traced, _ = _memory_run(ctx, traced=True)
    phases = {
        phase: combine(
            breakdown(plain["before"], plain[phase]), breakdown(traced["before"], traced[phase])
        )
        for phase in MEMORY_PHASES
        if phase in plain and phase in traced
    }
    entry: dict[str, Any] = dict(phases["connected"])
    entry["requested"] = peers
    entry["held_mid_handshake"] = run.held
    entry["handshake_all_s"] = run.handshake_s
    entry["phases"] = phases
    entry["snapshots"] = {
        f"{name}{suffix}": {field: value for field, value in snap.items() if field != "top_lines"}
        for taken, suffix in ((plain, ""), (traced, "_traced"))
        for name, snap in taken.items()
    }
    return entry


def _crowd(ctx: _Context) -> dict[str, Any]:
    """``settings.crowd`` peers at once on one godot-dtls server (pair 1's), from bare
    pyOpenSSL clients: the lightest Python clients leave the most CPU to the server."""
    settings = ctx.settings
    peers = settings.crowd
    ctx.progress.begin(f"crowd: {peers:,} peers at once on one godot-dtls server")
    server = ctx.start_server("godot-dtls", max_pending=peers + 16)
    try:
        port = server.port or 0
        _warm_up(ctx, port)
        time.sleep(0.3)
        before = rss_kib(server.pid)
        drops = udp_rcvbuf_errors()
        at_phase: dict[str, int | None] = {}

        def on_phase(phase: str) -> None:
            at_phase[phase] = sampler.sample()

        with RssSampler(server.pid) as sampler:
            run = run_many(
                ctx.client_factory("bare", port),
                peers,
                make_ring(64),
                settings.crowd_handshake_limit,
                settings.many_echo_s,
                on_phase=on_phase,
            )
        connected_kib = at_phase.get("handshakes")
        entry = _many_entry(
            peers,
            before,
            sampler.peak_kib,
            clients="bare pyOpenSSL",
            connected=run.connected,
            failed=run.failed,
            handshake_all_s=run.handshake_s,
            handshake_limit_s=settings.crowd_handshake_limit,
            echo_pps=run.echo_pps,
            echo_received=run.echo_received,
            echo_lost=run.echo_lost,
            echo_mismatches=run.echo_mismatches,
            client_retransmissions=run.retransmissions,
            udp_rcvbuf_drops=_delta(drops, udp_rcvbuf_errors()),
        )
        # The RSS when every handshake had ended (the peak above may come later, from
        # the echoes' buffers).
        entry["rss_connected_kib"] = connected_kib
        entry["rss_connected_per_peer_kib"] = (
            (connected_kib - before) / peers
            if connected_kib is not None and before is not None and peers
            else None
        )
    finally:
        result = _finish(server)
    entry["server_result"] = result
    return entry


# ------------------------------------------------------------------------ the run


def _load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (other work on the machine skews figures)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _steps_per_pair(settings: Settings, spec: PairSpec) -> int:
    if spec.in_engine:
        return 2 + 2 * len(settings.sizes)  # and the cost of a call
    return 1 + 2 * len(settings.sizes) + len(settings.many)


def _total_steps(settings: Settings) -> int:
    steps = 1 + sum(_steps_per_pair(settings, PAIRS[number]) for number in settings.pairs)
    steps += len(settings.sizes) * len(settings.layer_windows)
    return steps + (2 if settings.memory_peers else 0) + (1 if settings.crowd else 0)


def _raise_fd_limit(wanted: int) -> None:
    """Many peers need many sockets: raise the soft limit (never above the hard one)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run_benchmark(settings: Settings, workdir: Path, progress: Progress) -> dict[str, Any]:
    """Run every pair of ``settings`` and the layer benchmark; the full results object."""
    godot = godot3_binary()
    _raise_fd_limit(2 * max((*settings.many, settings.crowd, settings.memory_peers)) + 256)
    progress.begin("certificates")
    pki = make_pki(workdir / "pki", settings.key_type)
    ctx = _Context(settings, pki, workdir, progress)
    results: dict[str, Any] = {
        "machine": machine_info(godot),
        "settings": asdict(settings),
        "pairs": {},
    }
    results["machine"]["load_average_before"] = _load_average()
    for number in settings.pairs:
        spec = PAIRS[number]
        pair = _pair_skeleton(spec)
        results["pairs"][str(number)] = pair
        reason = _skip_reason(spec, godot)
        if reason:
            pair["skipped"] = reason
            progress.skip(_steps_per_pair(settings, spec), f"pair {number}: skipped")
            continue
        try:
            if spec.gdscript_client:
                _godot_perf(ctx, spec, pair)
            else:
                _python_perf(ctx, spec, pair)
            if spec.in_engine:
                _call_costs(ctx, spec, pair)
            for peers in settings.many if spec.measures_many else ():
                if spec.gdscript_client:
                    _godot_many(ctx, spec, pair, peers)
                else:
                    _python_many(ctx, spec, pair, peers)
        except (ProcessError, RuntimeError, OSError, ValueError) as exc:
            pair["error"] = str(exc)
            progress.begin(f"pair {number}: failed ({str(exc).splitlines()[0][:60]})")
    results["layer_cpu"] = run_layer_benchmark(
        pki,
        sizes=settings.sizes,
        windows=settings.layer_windows,
        count=settings.layer_count,
        repeats=settings.layer_repeats,
        progress=progress.begin,
    )
    if settings.memory_peers:
        try:
            results["server_memory"] = _server_memory(ctx)
        except (ProcessError, RuntimeError, OSError, ValueError) as exc:
            results["server_memory"] = {"error": str(exc)}
    if settings.crowd:
        try:
            results["crowd"] = _crowd(ctx)
        except (ProcessError, RuntimeError, OSError, ValueError) as exc:
            results["crowd"] = {"peers": settings.crowd, "error": str(exc)}
    progress.done()
    results["machine"]["load_average_after"] = _load_average()
    finalize(results, anchor=str(ANCHOR))
    return results


def _skip_reason(spec: PairSpec, godot: str | None) -> str:
    """Why a pair cannot run here ("" when it can)."""
    if spec.needs_godot and godot is None:
        return "godot3-server is not installed (apt-get install godot3-server)"
    if spec.in_engine:
        runtime, reason = find_engine_runtime()
        if runtime is None:
            return reason + "; build it once with: godot-dtls godot3 runtime"
    return ""


def _profile(settings: Settings, workdir: Path, out_dir: Path) -> int:
    """cProfile of pair 1, pipelined 64 B: the client here, the server in its process;
    then the server alone with many peers; then the Python side of pair 5 inside Godot."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki", settings.key_type)
    progress = Progress(4)
    ctx = _Context(settings, pki, workdir, progress)
    duration = 1.0 if settings.quick else 4.0
    reports: list[tuple[str, Path]] = []

    def python_server(name: str, max_pending: int) -> BenchProcess:
        path = out_dir / f"{name}.prof"
        stop_file = workdir / f"stop-{name}"
        command = python_server_command(
            [
                "--key",
                str(pki.key_path),
                "--cert",
                str(pki.cert_path),
                "--stop-file",
                str(stop_file),
                "--max-pending",
                str(max_pending),
                "--max-handshakes",
                str(max_pending if max_pending > 16 else 0),
                "--profile",
                str(path),
            ]
        )
        server = BenchProcess(command, name=name, stop_file=stop_file)
        server.start()
        server.ready(30.0)
        reports.append((name, path))
        return server

    progress.begin("pair 1: pipelined 64 B under cProfile")
    server = python_server("server-pipelined-64", 16)
    try:
        client = ctx.client_factory("godot-dtls", server.port or 0)()
        if not client.prepare() or not connect(client, 10.0):
            raise RuntimeError("the profiled client could not connect")
        ring = make_ring(64)
        run_pipelined(client, ring, settings.window, 0.0, count=WARMUP_PACKETS)
        profile = cProfile.Profile()
        profile.enable()
        run = run_pipelined(client, ring, settings.window, duration)
        profile.disable()
        client.close()
        client_path = out_dir / "client-pipelined-64.prof"
        profile.dump_stats(str(client_path))
        reports.insert(0, ("client-pipelined-64", client_path))
    finally:
        _finish(server)
    peers = 100 if settings.quick else max(settings.many)
    progress.begin(f"pair 1: {peers} peers, server under cProfile")
    server = python_server(f"server-{peers}-peers", peers + 16)
    try:
        many = run_many(
            ctx.client_factory("godot-dtls", server.port or 0),
            peers,
            make_ring(64),
            settings.many_handshake_limit,
            settings.many_echo_s,
        )
    finally:
        _finish(server)
    progress.begin("pair 5: pipelined 64 B, the Python side under cProfile inside Godot")
    engine_line = _profile_in_engine(ctx, out_dir, duration, reports)
    progress.done()
    print(
        f"pipelined 64 B: {run.pps:,.0f} pkt/s, {run.cpu_us_per_packet or 0:.1f} µs CPU/packet;"
        f" {peers} peers: handshakes {many.handshake_s:.2f} s, echo {many.echo_pps:,.0f} pkt/s"
    )
    print(engine_line)
    for name, path in reports:
        if not path.exists():
            print(f"\n=== {name}: no profile written ===")
            continue
        print(f"\n=== {name} ({path}) — top 25 by own time ===")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(25)
    return 0


def _profile_in_engine(
    ctx: _Context, out_dir: Path, duration: float, reports: list[tuple[str, Path]]
) -> str:
    """cProfile of the Python side of pair 5 (the facade in Godot), pipelined 64 B; one
    line saying what ran (or why not)."""
    spec = PAIRS[5]
    reason = _skip_reason(spec, godot3_binary())
    if reason:
        return f"pair 5 not profiled: {reason}"
    path = out_dir / "engine-pipelined-64.prof"
    ctx.engine_project()
    server = ctx.start_server("godot")
    try:
        command = _gdscript_client_command(
            ctx,
            spec,
            "perf",
            {
                **_connect_args(ctx, server.port),
                "handshakes": 0,
                "sizes": 64,
                "serial_s": 0.1,
                "pipelined_s": duration,
                "repeats": 1,
                "window": ctx.settings.window,
                "spin": NEVER_SLEEP if ctx.settings.wait == "spin" else 0,
                "profile": path,
            },
        )
        with BenchProcess(command, name="Godot client") as client:
            result = client.result(120.0 + 4 * duration)
            client.stop()
    finally:
        _finish(server)
    reports.append(("engine-pipelined-64 (pair 5, Python side only)", path))
    runs = result.get("pipelined", {}).get("64", [])
    received = sum(int(run.get("received", 0)) for run in runs)
    elapsed = sum(float(run.get("elapsed_us", 0)) for run in runs) / 1e6
    rate = received / elapsed if elapsed > 0 else 0.0
    return f"pair 5, pipelined 64 B under cProfile: {rate:,.0f} pkt/s (cProfile slows it)"


def _anchor_check(settings: Settings, workdir: Path, args: argparse.Namespace) -> int:
    """``--anchor-check``: pair 3's client against the least GDScript client and C."""
    godot = godot3_binary()
    if godot is None:
        print("--anchor-check needs godot3-server (apt-get install godot3-server)")
        return 1
    rounds = 2 if settings.quick else 5
    progress = Progress(1 + rounds * 6)
    progress.begin("certificates")
    pki = make_pki(workdir / "pki", settings.key_type)
    ctx = _Context(settings, pki, workdir, progress)
    before = _load_average()
    check = run_anchor_check(
        pki,
        workdir,
        lambda: ctx.start_server("godot"),
        sizes=settings.sizes,
        rounds=rounds,
        seconds=0.3 if settings.quick else 1.0,
        window=settings.window,
        progress=progress.begin,
    )
    progress.done()
    after = _load_average()
    sys.stdout.write(format_anchor_check(check, (before, after)))
    if args.json:
        machine = machine_info(godot)
        machine["load_average_before"], machine["load_average_after"] = before, after
        write_json({"machine": machine, "anchor_check": check}, Path(args.json))
        print(f"\nJSON written to {args.json}")
    return 1 if check["errors"] else 0


def run(args: argparse.Namespace) -> int:
    """The ``bench`` command; exit code 0, 1 (a pair failed) or 2 (an echo check failed)."""
    settings = Settings.from_args(args)
    with tempfile.TemporaryDirectory(prefix="godot-dtls-bench-") as tmp:
        workdir = Path(tmp)
        if args.profile:
            return _profile(settings, workdir, Path(args.profile))
        if getattr(args, "anchor_check", False):
            return _anchor_check(settings, workdir, args)
        progress = Progress(_total_steps(settings))
        results = run_benchmark(settings, workdir, progress)
    sys.stdout.write(format_report(results))
    sys.stdout.flush()
    if args.json:
        write_json(results, Path(args.json))
        print(f"\nJSON written to {args.json}")
    if args.plot:
        message = write_plot(results, Path(args.plot))
        print(message)
    if any("error" in pair for pair in results["pairs"].values()):
        return 1
    return 0 if results["verification"]["ok"] else 2
