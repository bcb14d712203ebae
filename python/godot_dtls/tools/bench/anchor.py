"""``godot-dtls bench --anchor-check``: is pair 3's client as fast as the engine allows?

Against one Godot 3.2.3 server (``bench_server.gd``), in alternating rounds so that the
machine's load falls on every variant alike:

- the benchmark's own GDScript client (``bench_client.gd``, the loop of pairs 3 and 5);
- the least GDScript client there can be (``bench_minimal.gd``: put_packet, poll,
  get_available_packet_count and get_packet on the engine's PacketPeerDTLS, nothing else);
- a C client on OpenSSL (``c/dtls_echo_client.c``, built here with ``cc`` when the OpenSSL
  headers are installed): no script and no engine at all, the same server.

each both sleeping on the socket when nothing is readable (``block``, the benchmark's
default, as the Python clients' poll(2)) and polling again at once (``spin``). If the
benchmark's loop runs as fast as the least loop, per packet it costs nothing beyond the
engine's own calls; the C client shows what the server gives a client without a script.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable

from .pki import HOSTNAME, BenchPKI
from .procs import BenchProcess, ProcessError, godot_command

__all__ = ["C_CLIENT_SOURCE", "build_c_client", "format_anchor_check", "run_anchor_check"]

C_CLIENT_SOURCE = Path(__file__).resolve().parent / "c" / "dtls_echo_client.c"
HOST = "127.0.0.1"
#: The GDScript client's spin setting that never sleeps.
NEVER_SLEEP = 1 << 40


def build_c_client(workdir: Path) -> tuple[Path | None, str]:
    """The C client compiled into ``workdir``, or None and why not."""
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        return None, "no C compiler (cc)"
    binary = workdir / "dtls_echo_client"
    command = [compiler, "-O2", "-o", str(binary), str(C_CLIENT_SOURCE), "-lssl", "-lcrypto"]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot run {compiler}: {exc}"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["?"])[0]
        return None, f"the C client did not build (OpenSSL headers missing?): {first}"
    return binary, ""


def _rates(result: dict[str, Any], counted: bool) -> dict[str, float]:
    """``{"serial 64": pkt/s, ...}`` from a bench_client.gd RESULT (counted False) or from
    a bench_minimal.gd / C client RESULT (packets and elapsed_us per size)."""
    rates: dict[str, float] = {}
    for mode in ("serial", "pipelined"):
        for size, entry in (result.get(mode) or {}).items():
            runs = [entry] if counted else entry
            rate = [
                float(run.get("packets", run.get("received", 0))) / (float(run["elapsed_us"]) / 1e6)
                for run in runs
                if float(run.get("elapsed_us", 0)) > 0
            ]
            if rate:
                rates[f"{mode} {size}"] = statistics.median(rate)
    return rates


def run_anchor_check(
    pki: BenchPKI,
    workdir: Path,
    start_server: Callable[[], BenchProcess],
    *,
    sizes: tuple[int, ...] = (64, 1200),
    rounds: int = 3,
    seconds: float = 1.0,
    window: int = 32,
    progress: Callable[[str], None] = lambda _label: None,
) -> dict[str, Any]:
    """Every variant ``rounds`` times against one Godot server; pkt/s per run."""
    binary, c_reason = build_c_client(workdir)
    serial_count = max(500, int(20000 * seconds))
    pipelined_count = max(2000, int(80000 * seconds))
    common = {"host": HOST, "hostname": HOSTNAME, "ca": pki.ca_path}
    variants: list[tuple[str, str]] = [
        ("bench loop", "block"),
        ("bench loop", "spin"),
        ("minimal loop", "block"),
        ("minimal loop", "spin"),
    ]
    if binary is not None:
        variants += [("C client", "block"), ("C client", "spin")]
    runs: dict[str, list[dict[str, float]]] = {f"{name}, {wait}": [] for name, wait in variants}
    errors: list[str] = []
    server = start_server()
    try:
        for number in range(rounds):
            for name, wait in variants:
                label = f"{name}, {wait}"
                progress(f"anchor check round {number + 1}/{rounds}: {label}")
                try:
                    runs[label].append(
                        _run_variant(
                            name, wait, server.port or 0, common, binary,
                            sizes, seconds, window, serial_count, pipelined_count,
                        )
                    )  # fmt: skip
                except (ProcessError, OSError, ValueError, KeyError) as exc:
                    errors.append(f"{label}: {str(exc).splitlines()[0]}")
    finally:
        server.stop()
    return {
        "rounds": rounds,
        "sizes": list(sizes),
        "window": window,
        "bench_loop_seconds": seconds,
        "counted_loops_packets": {"serial": serial_count, "pipelined": pipelined_count},
        "c_client": "OpenSSL (system), built with cc" if binary is not None else c_reason,
        "runs": runs,
        "errors": errors,
    }


def _run_variant(
    name: str,
    wait: str,
    port: int,
    common: dict[str, object],
    binary: Path | None,
    sizes: tuple[int, ...],
    seconds: float,
    window: int,
    serial_count: int,
    pipelined_count: int,
) -> dict[str, float]:
    size_list = ",".join(str(size) for size in sizes)
    budget = 120.0 + 20 * seconds
    if name == "C client":
        assert binary is not None
        command = [
            str(binary), HOST, str(port), HOSTNAME, str(common["ca"]), size_list,
            str(serial_count), str(pipelined_count), str(window), wait,
        ]  # fmt: skip
        with BenchProcess(command, name="C client") as client:
            result = client.result(budget)
            client.stop()
        return _checked(result, counted=True)
    if name == "minimal loop":
        args = dict(common, port=port, sizes=size_list, serial=serial_count)
        args.update(pipelined=pipelined_count, window=window, wait=wait)
        command = godot_command("bench_minimal.gd", args)
        counted = True
    else:
        args = dict(common, port=port, mode="perf", backend="engine", handshakes=0)
        args.update(sizes=size_list, serial_s=seconds, pipelined_s=seconds, repeats=1)
        args.update(window=window, spin=0 if wait == "block" else NEVER_SLEEP, timeout=600)
        command = godot_command("bench_client.gd", args)
        counted = False
    with BenchProcess(command, name=name) as client:
        result = client.result(budget)
        client.stop()
    return _checked(result, counted)


def _checked(result: dict[str, Any], counted: bool) -> dict[str, float]:
    if result.get("exit_code") not in (0, None) or "error" in result:
        raise ValueError(f"exit {result.get('exit_code')}: {result.get('error', 'echo failed')}")
    return _rates(result, counted)


def format_anchor_check(check: dict[str, Any], load: tuple[Any, Any]) -> str:
    """The check as a table: median pkt/s (lowest-highest) per variant and measurement."""
    keys = [f"{mode} {size}" for mode in ("serial", "pipelined") for size in check["sizes"]]
    lines = [
        "",
        "Anchor check: pkt/s against one Godot 3.2.3 server, median (lowest-highest) of "
        f"{check['rounds']} rounds; load average before {load[0]}, after {load[1]}",
        "".ljust(22) + "".join(key.rjust(24) for key in keys),
    ]
    minimal = {}
    for label, rows in check["runs"].items():
        cells = []
        for key in keys:
            values = [row[key] for row in rows if key in row]
            if not values:
                cells.append("-")
                continue
            median = statistics.median(values)
            cells.append(f"{median:,.0f} ({min(values):,.0f}-{max(values):,.0f})")
            if label.startswith("minimal loop"):
                minimal[(label.split(", ")[1], key)] = median
        lines.append(label.ljust(22) + "".join(cell.rjust(24) for cell in cells))
    for wait in ("block", "spin"):
        rows = check["runs"].get(f"bench loop, {wait}") or []
        ratios = []
        for key in keys:
            values = [row[key] for row in rows if key in row]
            base = minimal.get((wait, key))
            if values and base:
                ratios.append(f"{key} {statistics.median(values) / base:.2f}")
        if ratios:
            lines.append(f"bench loop / minimal loop ({wait}): " + ", ".join(ratios))
    lines.append(f"C client: {check['c_client']}")
    lines.extend(f"  failed: {error}" for error in check.get("errors", []))
    return "\n".join(lines) + "\n"
