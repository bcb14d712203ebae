"""Running the fuzzer: the seeded loop over targets, the memory watch, the report and the
``godot-dtls fuzz`` command (exit status 1 on any finding).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import sys
import time
import tracemalloc
from collections import Counter
from typing import Any, Callable, Sequence, TextIO

from godot_dtls.core.records import (
    describe_record,
    split_records,
)
from godot_dtls.core.states import ConnectionState

from ..cli_support import non_negative_float, non_negative_int
from .mutators import mutate
from .session import (
    KIND_WEIGHTS,
    TARGET_KINDS,
    TERMINAL_KINDS,
    Finding,
    FuzzReport,
    FuzzWorld,
    LogWatch,
    Session,
)

# ---------------------------------------------------------------------------- the run


def _rss_bytes() -> int | None:
    """Resident set size of this process (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            resident = int(handle.read().split()[1])
        return resident * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _arm_watchdog(seconds: float | None) -> bool:
    """Exit the process with every stack dumped if the next session hangs for ``seconds``."""
    if not seconds:
        return False
    stream = sys.__stderr__
    try:
        if stream is None:
            return False
        stream.fileno()
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)
    except (AttributeError, OSError, ValueError):
        return False  # no real stderr to dump to (e.g. captured output): no watchdog
    return True


def run_fuzz(
    count: int = 100_000,
    seed: int = 0,
    seconds: float | None = None,
    *,
    max_call_seconds: float = 1.0,
    verify_every: int = 64,
    max_rss_growth_mib: float = 64.0,
    trace_python_memory: bool = False,
    max_traced_growth_mib: float = 16.0,
    watchdog_seconds: float | None = None,
    progress: Callable[[FuzzReport], None] | None = None,
) -> FuzzReport:
    """Feed ``count`` mutated datagrams (or stop after ``seconds``) and report.

    ``watchdog_seconds``: if one session (a few hundred datagrams) takes longer, dump
    every thread's stack and exit the process (a hang inside the TLS library cannot be
    interrupted any other way).
    """
    rng = random.Random(seed)
    report = FuzzReport(seed=seed)
    started = time.perf_counter()
    deadline = started + seconds if seconds else None
    if trace_python_memory:
        tracemalloc.start()
    watch = LogWatch().__enter__()
    try:
        try:
            world = FuzzWorld(seed)
        except Exception as exc:  # the package's own handshake broke before any fuzzing
            report.add(Finding("setup", "-", "-", "-", 0, f"{type(exc).__name__}: {exc}"))
            return report
        reference = world.reference_corpus
        report.corpus_sizes = dict(
            Counter(describe_record(r) for d in reference for r in split_records(d))
        )
        report.rss_start = _rss_bytes()
        warmup = min(max(count // 10, 1), 20_000)
        next_progress = 100_000
        sessions = 0
        while report.datagrams < count:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            # Every kind once first, so even a short run covers each state it targets
            # (the random choice below depends on key material, new in every run).
            sessions += 1
            if sessions <= len(TARGET_KINDS):
                kind = TARGET_KINDS[sessions - 1]
            else:
                kind = rng.choices(TARGET_KINDS, weights=KIND_WEIGHTS)[0]
            batch = rng.choice((20, 60, 150, 400)) if rng.random() < 0.97 else 3000
            armed = _arm_watchdog(watchdog_seconds)
            _run_session(
                world,
                kind,
                batch,
                rng,
                reference,
                report,
                count,
                max_call_seconds,
                verify_every,
                watch,
            )
            if armed:
                faulthandler.cancel_dump_traceback_later()
            if report.rss_baseline is None and report.datagrams >= warmup:
                report.rss_baseline = _rss_bytes()
                if trace_python_memory:
                    report.traced_baseline = tracemalloc.get_traced_memory()[0]
            rss = _rss_bytes()
            if rss is not None and (report.rss_peak is None or rss > report.rss_peak):
                report.rss_peak = rss
            if progress is not None and report.datagrams >= next_progress:
                next_progress += 100_000
                report.elapsed = time.perf_counter() - started
                progress(report)
        report.rss_end = _rss_bytes()
        if trace_python_memory:
            report.traced_end, report.traced_peak = tracemalloc.get_traced_memory()
    finally:
        watch.__exit__()
        if trace_python_memory:
            tracemalloc.stop()
    report.elapsed = time.perf_counter() - started
    _check_memory(report, max_rss_growth_mib, max_traced_growth_mib)
    return report


def _check_memory(report: FuzzReport, max_rss_mib: float, max_traced_mib: float) -> None:
    mib = 1024 * 1024
    if report.rss_baseline is not None and report.rss_end is not None:
        growth = (max(report.rss_end, report.rss_peak or 0) - report.rss_baseline) / mib
        if growth > max_rss_mib:
            report.add(
                Finding(
                    "memory",
                    "-",
                    "-",
                    "-",
                    report.datagrams,
                    f"RSS grew {growth:.1f} MiB after the warm-up (limit {max_rss_mib:g})",
                )
            )
    if report.traced_baseline is not None and report.traced_end is not None:
        growth = (report.traced_end - report.traced_baseline) / mib
        if growth > max_traced_mib:
            report.add(
                Finding(
                    "memory",
                    "-",
                    "-",
                    "-",
                    report.datagrams,
                    f"Python heap grew {growth:.1f} MiB (limit {max_traced_mib:g})",
                )
            )


def _run_session(
    world: FuzzWorld,
    kind: str,
    batch: int,
    rng: random.Random,
    reference: Sequence[bytes],
    report: FuzzReport,
    count: int,
    max_call_seconds: float,
    verify_every: int,
    watch: LogWatch | None = None,
) -> None:
    now = 1000.0 + rng.random() * 100.0
    try:
        session = Session.build(world, kind, rng, now)
    except Exception as exc:  # a real handshake of the package's own peers broke
        report.add(
            Finding(
                "setup",
                kind,
                "-",
                "-",
                report.datagrams,
                f"could not build the target: {type(exc).__name__}: {exc}",
            )
        )
        return
    report.sessions += 1
    if watch is not None:
        for message in watch.take():  # logged while the real handshake was made
            report.add(Finding("logged-exception", kind, "-", "setup", 0, message))
        session.log_watch = watch
    own = session.corpus or reference
    pool = list(own) + list(reference)
    terminal_left = 5
    since_verify = 0
    if kind in TERMINAL_KINDS:
        batch = min(batch, 60)  # an ended connection only drops datagrams: cheap, brief
    for _ in range(batch):
        if report.datagrams >= count:
            break
        if rng.random() < 0.02:
            before = session.state
            findings = session.fire_timer()
            report.timer_calls += 1
            _record(report, session, findings, max_call_seconds, "timer", before)
        base = rng.choice(own) if rng.random() < 0.7 else rng.choice(reference)
        mutation, datagram = mutate(rng, base, pool)
        session.now += rng.random() * 0.004
        before = session.state
        report.by_kind[kind] += 1
        report.by_state[before.name] += 1
        report.by_mutation[mutation.split("+", 1)[0] if "+" not in mutation else "stacked"] += 1
        report.datagrams += 1
        findings = session.feed(datagram, mutation)
        _record(report, session, findings, max_call_seconds, mutation, before, datagram)
        state = session.state
        if state is ConnectionState.CONNECTED:
            since_verify += 1
            if before is not ConnectionState.CONNECTED or since_verify >= verify_every:
                since_verify = 0
                _verify(session, report)
        elif state is not ConnectionState.HANDSHAKING:
            terminal_left -= 1
            if terminal_left <= 0 and kind not in TERMINAL_KINDS:
                break
    if session.state is ConnectionState.CONNECTED:
        _verify(session, report)
    report.packets_delivered += session.packets_delivered
    report.retransmissions += session.target.stats.retransmissions
    failure = session.target.failure
    if failure is not None and session.transitions:
        origin = session.transitions[-1][0].name
        report.failure_reasons[f"{origin} {failure.reason.value}: {failure.message[:60]}"] += 1
    for before, after in session.transitions:
        report.transitions[f"{before.name}->{after.name}"] += 1


def _record(
    report: FuzzReport,
    session: Session,
    findings: list[Finding],
    max_call_seconds: float,
    mutation: str,
    before: ConnectionState,
    datagram: bytes = b"",
) -> None:
    elapsed = session._last_elapsed
    if elapsed > report.slowest_call:
        report.slowest_call = elapsed
        report.slowest_call_what = f"{session.kind} ({before.name}) <- {mutation}"
    if elapsed > max_call_seconds:
        findings.append(
            Finding(
                "slow",
                session.kind,
                before.name,
                mutation,
                session.index,
                f"the call took {elapsed:.3f} s (limit {max_call_seconds:g} s)",
                datagram,
            )
        )
    for finding in findings:
        report.add(finding)


def _verify(session: Session, report: FuzzReport) -> None:
    verified, findings = session.verify()
    if verified:
        report.round_trips += 1
    else:
        report.round_trips_skipped += 1
    for finding in findings:
        report.add(finding)


# ---------------------------------------------------------------------------- output


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / (1024 * 1024):.1f} MiB"


def format_report(report: FuzzReport) -> str:
    """The human summary the CLI prints."""
    lines = [
        f"godot-dtls fuzz: seed {report.seed}, {report.datagrams} datagrams fed to "
        f"{report.sessions} target connections in {report.elapsed:.1f} s "
        f"({report.rate:.0f} datagrams/s)",
        f"  exceptions: {report.exceptions}   findings: {report.findings_total}",
        "  reference corpus (real records captured in memory): "
        + ", ".join(f"{name} {n}" for name, n in sorted(report.corpus_sizes.items())),
        "  datagrams by target: "
        + ", ".join(f"{k} {report.by_kind[k]}" for k in TARGET_KINDS if report.by_kind[k]),
        "  datagrams by state before: "
        + ", ".join(f"{s.name} {report.by_state[s.name]}" for s in ConnectionState),
        "  state changes caused: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.transitions.items())) or "none"),
        f"  handle_timer calls: {report.timer_calls} (retransmissions: "
        f"{report.retransmissions})   round trips verified: "
        f"{report.round_trips} (not checkable: {report.round_trips_skipped})   "
        f"packets delivered from replays: {report.packets_delivered}",
        f"  slowest call: {report.slowest_call * 1000:.2f} ms ({report.slowest_call_what})",
        f"  memory: RSS {_mib(report.rss_start)} at start, {_mib(report.rss_baseline)} after "
        f"the warm-up, {_mib(report.rss_peak)} peak, {_mib(report.rss_end)} at the end",
    ]
    if report.traced_end is not None:
        lines.append(
            f"  Python heap (tracemalloc): {_mib(report.traced_baseline)} after the warm-up, "
            f"{_mib(report.traced_end)} at the end, {_mib(report.traced_peak)} peak"
        )
    if report.failure_reasons:
        lines.append(
            "  why targets failed: "
            + "; ".join(f"{reason} ({n})" for reason, n in report.failure_reasons.most_common(8))
        )
    top = report.by_mutation.most_common()
    lines.append("  mutations: " + ", ".join(f"{name} {n}" for name, n in top))
    if report.findings_total:
        lines.append(
            "  findings by check: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.findings_by_check.items()))
        )
        lines.extend("  " + finding.describe() for finding in report.findings)
    lines.append("result: " + ("OK, no findings" if report.ok else "FAILED"))
    return "\n".join(lines)


def run_cli(
    count: int,
    seed: int,
    seconds: float | None,
    out: TextIO | None = None,
    trace_python_memory: bool = False,
    save_findings: str | None = None,
) -> int:
    """``godot-dtls fuzz``: run, print the summary, 0 when there is no finding, else 1.

    ``save_findings``: a file to write the detailed findings to, one JSON line each (see
    :meth:`Finding.to_json` and :func:`replay`).
    """
    stream = sys.stdout if out is None else out

    def show_progress(report: FuzzReport) -> None:
        print(
            f"  ... {report.datagrams} datagrams, {report.findings_total} findings, "
            f"{report.elapsed:.0f} s",
            file=stream,
            flush=True,
        )

    report = run_fuzz(
        count,
        seed,
        seconds or None,
        trace_python_memory=trace_python_memory,
        watchdog_seconds=300.0,
        progress=show_progress,
    )
    print(format_report(report), file=stream, flush=True)
    if save_findings and report.findings:
        with open(save_findings, "w", encoding="ascii") as handle:
            for finding in report.findings:
                handle.write(finding.to_json() + "\n")
        print(f"findings saved to {save_findings}", file=stream, flush=True)
    return 0 if report.ok else 1


def replay(line: str, world: FuzzWorld | None = None, seed: int = 0) -> list[Finding]:
    """Feed a saved finding (a :meth:`Finding.to_json` line) to a new target of its kind.

    The new target has new keys and randoms, so what depended on the old session's own
    records (its MACs, its signatures) does not come back; malformed input does.
    """
    saved = json.loads(line)
    session = (world or FuzzWorld(seed)).session(saved["target"], random.Random(seed))
    findings: list[Finding] = []
    with LogWatch() as watch:
        session.log_watch = watch
        for entry in saved["history"]:
            data = bytes.fromhex(entry)
            findings += session.fire_timer() if data == b"timer" else session.feed(data, "replay")
        findings += session.feed(bytes.fromhex(saved["datagram"]), saved["mutation"])
    return findings


def _cmd_fuzz(args: argparse.Namespace) -> int:
    return run_cli(
        args.count,
        args.seed,
        args.seconds,
        trace_python_memory=args.tracemalloc,
        save_findings=args.save_findings,
    )


def add_fuzz_parser(commands: Any) -> None:
    """Register ``godot-dtls fuzz`` on the CLI's subparsers."""
    fuzz = commands.add_parser(
        "fuzz", help="seeded mutation fuzzer of the DTLS state machine (exit 1 on a finding)"
    )
    fuzz.add_argument("--count", type=non_negative_int, default=100_000, help="datagrams to feed")
    fuzz.add_argument("--seed", type=int, default=0, help="seed of every mutation choice")
    fuzz.add_argument(
        "--seconds",
        type=non_negative_float,
        default=0,
        help="stop after T seconds (0: only --count)",
    )
    fuzz.add_argument(
        "--tracemalloc", action="store_true", help="also bound the Python heap (slower)"
    )
    fuzz.add_argument("--save-findings", metavar="FILE", help="write findings as JSON lines")
    fuzz.set_defaults(handler=_cmd_fuzz)
