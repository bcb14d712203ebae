"""Ratios, goals, the printed table, the JSON file and the plot of a benchmark run."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import ssl
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "GOALS",
    "finalize",
    "format_report",
    "machine_info",
    "write_json",
    "write_plot",
]

#: (id, description, target, comparison) of the goals the run is judged against.
GOALS: list[tuple[str, str, float, str]] = [
    ("handshake", "handshake median, pair 2 / pair 3", 1.0, "<="),
    ("pps_pipelined_64", "64 B pipelined pkt/s, pair 2 / pair 3", 0.55, ">="),
    ("pps_pipelined_1200", "1200 B pipelined pkt/s, pair 2 / pair 3", 0.9, ">="),
    (
        "api_overhead",
        "Godot-API layer CPU over raw pyOpenSSL (client CPU/echo, pair 2 vs pair 4)",
        0.15,
        "<=",
    ),
    ("engine_handshake", "in Godot: handshake median, pair 5 / pair 3", 1.2, "<="),
    ("engine_pps_pipelined_64", "in Godot: 64 B pipelined pkt/s, pair 5 / pair 3", 0.3, ">="),
    ("engine_pps_pipelined_1200", "in Godot: 1200 B pipelined pkt/s, pair 5 / pair 3", 0.5, ">="),
    ("many_handshakes", "peers on one Python server (pair 1): all handshakes, s", 10.0, "<="),
    ("many_rss", "peers on one Python server (pair 1): RSS per peer, KiB", 64.0, "<="),
    (
        "crowd_handshakes",
        "10,000 peers on one Python server (--crowd): all handshakes, s",
        30.0,
        "<=",
    ),
]
#: Peers the crowd goal is set for.
CROWD_GOAL_PEERS = 10000


def machine_info(godot_binary: str | None) -> dict[str, Any]:
    """CPU, cores, Python, OpenSSL, pyOpenSSL, cryptography and Godot versions."""
    from OpenSSL import SSL
    from OpenSSL import __version__ as pyopenssl_version

    from .procs import godot3_version

    cpu_model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import cryptography

        cryptography_version: str | None = cryptography.__version__
    except ImportError:  # pragma: no cover - a dependency
        cryptography_version = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "openssl": SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode("ascii", "replace"),
        "openssl_python_ssl": ssl.OPENSSL_VERSION,
        "pyopenssl": pyopenssl_version,
        "cryptography": cryptography_version,
        "godot": godot3_version(godot_binary) if godot_binary else None,
        "godot_tls": "mbedTLS (built into godot3-server)" if godot_binary else None,
    }


# ------------------------------------------------------------------------ derived figures


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _ratio(value: Any, anchor: Any) -> float | None:
    if not isinstance(value, (int, float)) or not isinstance(anchor, (int, float)):
        return None
    if anchor == 0 or math.isnan(value) or math.isnan(anchor):
        return None
    return float(value) / float(anchor)


def _ratios(pairs: dict[str, Any], anchor_key: str) -> dict[str, Any]:
    anchor = pairs.get(anchor_key)
    if not anchor or "skipped" in anchor or "error" in anchor:
        return {}
    ratios: dict[str, Any] = {}
    for key, pair in pairs.items():
        if "skipped" in pair or "error" in pair:
            continue
        entry: dict[str, Any] = {
            "handshake_ms": _ratio(
                _get(pair, "handshake_ms", "median"), _get(anchor, "handshake_ms", "median")
            ),
            "rtt_us": {},
            "pps_serial": {},
            "pps_pipelined": {},
            "many_peers": {},
        }
        for size in pair["rtt_us"]:
            entry["rtt_us"][size] = _ratio(
                _get(pair, "rtt_us", size, "median"), _get(anchor, "rtt_us", size, "median")
            )
            for metric in ("pps_serial", "pps_pipelined"):
                entry[metric][size] = _ratio(_get(pair, metric, size), _get(anchor, metric, size))
        for peers, many in pair["many_peers"].items():
            other = anchor["many_peers"].get(peers, {})
            entry["many_peers"][peers] = {
                metric: _ratio(many.get(metric), other.get(metric))
                for metric in ("handshake_all_s", "echo_pps", "rss_per_peer_kib")
            }
        ratios[key] = entry
    return ratios


def _goal(goal_id: str, value: float | None, note: str = "") -> dict[str, Any]:
    description, target, comparison = next(
        (text, target, op) for key, text, target, op in GOALS if key == goal_id
    )
    met: bool | None = None
    if value is not None and not math.isnan(value):
        met = value <= target if comparison == "<=" else value >= target
    return {
        "id": goal_id,
        "goal": description,
        "target": target,
        "comparison": comparison,
        "value": value,
        "met": met,
        "note": note,
    }


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    ratios = results.get("ratios", {})
    pairs = results["pairs"]
    goals = [
        _goal("handshake", _get(ratios, "2", "handshake_ms")),
        _goal("pps_pipelined_64", _get(ratios, "2", "pps_pipelined", "64")),
        _goal("pps_pipelined_1200", _get(ratios, "2", "pps_pipelined", "1200")),
    ]
    engine_note = "" if "5" in ratios else "needs pairs 3 and 5"
    engine_goals = [
        _goal("engine_handshake", _get(ratios, "5", "handshake_ms"), engine_note),
        _goal("engine_pps_pipelined_64", _get(ratios, "5", "pps_pipelined", "64"), engine_note),
        _goal("engine_pps_pipelined_1200", _get(ratios, "5", "pps_pipelined", "1200"), engine_note),
    ]
    overheads = []
    for size in ("64", "1200"):
        api = _get(pairs, "2", "cpu_us_per_packet", "pipelined", size)
        raw = _get(pairs, "4", "cpu_us_per_packet", "pipelined", size)
        ratio = _ratio(api, raw)
        if ratio is not None:
            overheads.append((ratio - 1.0, size))
    if overheads:
        worst, size = max(overheads)
        note = "worst size: {} B ({})".format(
            size,
            ", ".join(f"{s} B {o * 100:+.0f} %" for o, s in sorted(overheads, key=lambda x: x[1])),
        )
        goals.append(_goal("api_overhead", worst, note))
    else:
        goals.append(_goal("api_overhead", None, "needs pairs 2 and 4"))
    many = _get(pairs, "1", "many_peers") or {}
    if many:
        largest = max(many, key=int)
        entry = many[largest]
        note = f"measured with {largest} peers"
        if int(largest) < 1000:
            note += " (the goal is for 1000)"
        handshake = entry.get("handshake_all_s")
        if entry.get("connected") != entry.get("peers"):
            note += f"; only {entry.get('connected')} of {entry.get('peers')} connected"
            handshake = float("inf")
        goals.append(_goal("many_handshakes", handshake, note))
        goals.append(_goal("many_rss", entry.get("rss_per_peer_kib"), note))
    else:
        goals.append(_goal("many_handshakes", None, "needs pair 1"))
        goals.append(_goal("many_rss", None, "needs pair 1"))
    goals[4:4] = engine_goals
    goals.append(_crowd_goal(results.get("crowd")))
    return goals


def _crowd_goal(crowd: Any) -> dict[str, Any]:
    if not isinstance(crowd, dict) or not crowd.get("peers"):
        return _goal("crowd_handshakes", None, "run with --crowd")
    peers = int(crowd["peers"])
    note = f"{peers:,} peers, bare pyOpenSSL clients"
    if peers != CROWD_GOAL_PEERS:
        note += f" (the goal is for {CROWD_GOAL_PEERS:,})"
    if "error" in crowd:
        return _goal("crowd_handshakes", None, note + f"; failed: {crowd['error']}")
    value = crowd.get("handshake_all_s")
    if crowd.get("connected") != peers:
        note += f"; only {crowd.get('connected')} of {peers} connected"
        value = float("inf")
    return _goal("crowd_handshakes", value, note)


def _verification(results: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    warnings: list[str] = []
    for key, pair in results["pairs"].items():
        if "skipped" in pair:
            continue
        if "error" in pair:
            problems.append(f"pair {key}: {pair['error'].splitlines()[0]}")
            continue
        failures = _get(pair, "handshake_ms", "failures")
        if failures:
            problems.append(f"pair {key}: {failures} handshake(s) failed")
        for mode, per_size in pair["echo"].items():
            for size, entry in per_size.items():
                if entry["lost"] or entry["mismatches"]:
                    problems.append(
                        f"pair {key}: {mode} {size} B lost {entry['lost']}, "
                        f"mismatched {entry['mismatches']} of {entry['sent']}"
                    )
        for size, checked in (pair.get("echo_checked") or {}).items():
            if checked.get("lost") or checked.get("mismatches"):
                problems.append(
                    f"pair {key}: {size} B check passes lost {checked.get('lost')}, "
                    f"mismatched {checked.get('mismatches')} of {checked.get('compared')}"
                )
        for peers, entry in pair["many_peers"].items():
            if entry.get("echo_mismatches"):
                problems.append(
                    f"pair {key}: {peers} peers: {entry['echo_mismatches']} echoes mismatched"
                )
            if entry.get("connected") != entry.get("peers"):
                warnings.append(
                    f"pair {key}: {peers} peers: {entry.get('connected')} connected in time"
                )
            if entry.get("echo_lost"):
                warnings.append(
                    f"pair {key}: {peers} peers: {entry['echo_lost']} echoes lost (overload)"
                )
    crowd = results.get("crowd")
    if isinstance(crowd, dict) and crowd.get("peers"):
        if "error" in crowd:
            problems.append(f"crowd: {crowd['error'].splitlines()[0]}")
        else:
            if crowd.get("echo_mismatches"):
                problems.append(f"crowd: {crowd['echo_mismatches']} echoes mismatched")
            if crowd.get("connected") != crowd.get("peers"):
                warnings.append(f"crowd: {crowd.get('connected')} of {crowd['peers']} connected")
    memory = results.get("server_memory")
    if isinstance(memory, dict) and "error" in memory:
        warnings.append(f"memory breakdown: {memory['error'].splitlines()[0]}")
    return {"ok": not problems, "problems": problems, "warnings": warnings}


def finalize(results: dict[str, Any], anchor: str = "3") -> None:
    """Add ``ratios`` (to pair ``anchor``), ``goals`` and ``verification`` to ``results``."""
    results["anchor"] = anchor
    results["ratios"] = _ratios(results["pairs"], anchor)
    results["goals"] = _goals(results)
    results["verification"] = _verification(results)


# ------------------------------------------------------------------------ the table

_SHORT = {
    "1": "1 py↔py",
    "2": "2 py↔Godot",
    "3": "3 Godot↔Godot",
    "4": "4 bare↔Godot",
    "5": "5 py-in-Godot",
}
_LABEL_WIDTH = 34
_COLUMN_WIDTH = 19


def _number(value: Any, kind: str) -> str:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "-"
    if kind == "ms":
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if kind in ("us", "pps", "count"):
        return f"{value:,.0f}"
    if kind == "us1":
        return f"{value:.1f}"
    if kind == "s":
        return f"{value:.2f}"
    if kind == "kib":
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(value: Any, kind: str, ratio: Any) -> str:
    text = _number(value, kind)
    if isinstance(ratio, float) and text != "-":
        text += f" ({ratio:.2f}x)"
    return text


def _rows(results: dict[str, Any]) -> list[tuple[str, Callable[[str], str]]]:
    pairs = results["pairs"]
    ratios = results.get("ratios", {})
    anchor = results.get("anchor", "3")
    sizes = [str(size) for size in results["settings"]["sizes"]]

    def cell(
        path: tuple[str, ...], kind: str, ratio_path: tuple[str, ...] | None
    ) -> Callable[[str], str]:
        def render(key: str) -> str:
            pair = pairs[key]
            if "skipped" in pair:
                return "skipped"
            if "error" in pair and _get(pair, *path) is None:
                return "failed"
            ratio = None
            if ratio_path is not None and key != anchor:
                ratio = _get(ratios, key, *ratio_path)
            return _cell(_get(pair, *path), kind, ratio)

        return render

    rows: list[tuple[str, Callable[[str], str]]] = [
        ("handshake median (ms)", cell(("handshake_ms", "median"), "ms", ("handshake_ms",))),
        ("handshake p95 (ms)", cell(("handshake_ms", "p95"), "ms", None)),
    ]
    for size in sizes:
        rows.append(
            (f"RTT {size} B median (µs)", cell(("rtt_us", size, "median"), "us", ("rtt_us", size)))
        )
        rows.append((f"RTT {size} B p95 (µs)", cell(("rtt_us", size, "p95"), "us", None)))
    for size in sizes:
        rows.append(
            (f"serial {size} B (pkt/s)", cell(("pps_serial", size), "pps", ("pps_serial", size)))
        )
    for size in sizes:
        rows.append(
            (
                f"pipelined {size} B (pkt/s)",
                cell(("pps_pipelined", size), "pps", ("pps_pipelined", size)),
            )
        )
    for mode in ("serial", "pipelined"):
        for size in sizes:
            rows.append(
                (
                    f"client CPU {mode} {size} B (µs/pkt)",
                    cell(("cpu_us_per_packet", mode, size), "us1", None),
                )
            )
    many_keys = sorted(
        {peers for pair in pairs.values() for peers in pair.get("many_peers", {})}, key=int
    )
    for peers in many_keys:
        rows.append(
            (
                f"{peers} peers: all handshakes (s)",
                cell(
                    ("many_peers", peers, "handshake_all_s"),
                    "s",
                    ("many_peers", peers, "handshake_all_s"),
                ),
            )
        )
        rows.append(
            (
                f"{peers} peers: echo rate (pkt/s)",
                cell(("many_peers", peers, "echo_pps"), "pps", ("many_peers", peers, "echo_pps")),
            )
        )
        rows.append(
            (
                f"{peers} peers: client retransmissions",
                cell(("many_peers", peers, "client_retransmissions"), "count", None),
            )
        )
        rows.append(
            (
                f"{peers} peers: UDP rcvbuf drops",
                cell(("many_peers", peers, "udp_rcvbuf_drops"), "count", None),
            )
        )
        rows.append(
            (
                f"{peers} peers: server RSS/peer (KiB)",
                cell(
                    ("many_peers", peers, "rss_per_peer_kib"),
                    "kib",
                    ("many_peers", peers, "rss_per_peer_kib"),
                ),
            )
        )

    def echo_check(key: str) -> str:
        pair = pairs[key]
        if "skipped" in pair:
            return "skipped"
        lost = sum(e["lost"] for m in pair["echo"].values() for e in m.values())
        bad = sum(e["mismatches"] for m in pair["echo"].values() for e in m.values())
        sent = sum(e["sent"] for m in pair["echo"].values() for e in m.values())
        if "error" in pair and not sent:
            return "failed"
        return f"{'ok' if not lost and not bad else 'FAIL'} {lost}/{bad} of {sent:,}"

    def cipher(key: str) -> str:
        value = pairs[key].get("cipher")
        if not value:
            return "-"
        short = str(value).replace("ECDHE-", "").replace("-POLY1305", "")
        short = short.replace("-SHA256", "").replace("-SHA384", "")
        for name, alias in (("secp256r1", "P-256"), ("secp384r1", "P-384"), ("secp521r1", "P-521")):
            short = short.replace(name, alias)
        return short[: _COLUMN_WIDTH - 1]

    rows.append(("echo check (lost/mismatched)", echo_check))
    rows.append(("cipher, group (Python clients)", cipher))
    return rows


def _line(label: str, cells: list[str]) -> str:
    return label.ljust(_LABEL_WIDTH) + "".join(cell.rjust(_COLUMN_WIDTH) for cell in cells)


def _format_layer(layer: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Godot-API layer CPU in memory, no sockets (µs per echo: 2 encryptions + 2 decryptions)",
        "  size    window   raw pyOpenSSL    sans-IO core           PacketPeerDTLS API",
    ]
    for size, per_window in layer.get("sizes", {}).items():
        for window, entry in per_window.items():
            lines.append(
                f"  {size:>5} B {window:>6}   {entry['raw_us']:>13.1f}    "
                f"{entry['core_us']:>6.1f} ({entry['core_overhead'] * 100:+4.0f} %)"
                f"{entry['api_us']:>16.1f} ({entry['api_overhead'] * 100:+4.0f} %)"
            )
    cipher = layer.get("cipher", {})
    lines.append(
        f"  cipher: {cipher.get('api')} (api/core), {cipher.get('raw')} (raw); "
        f"{layer.get('count')} echoes, best of {layer.get('repeats')}"
    )
    return lines


_CALL_ROWS = (
    ("gdscript_noop", "GDScript → GDScript, a no-op method"),
    ("engine_get_status", "GDScript → engine, PacketPeerDTLS.get_status()"),
    ("python_noop", "GDScript → Python, a no-op method"),
    ("python_take_64", "GDScript → Python, a 64 B PoolByteArray argument"),
    ("python_take_1200", "GDScript → Python, a 1200 B PoolByteArray argument"),
    ("python_round_trip_64", "GDScript → Python → bytes → PoolByteArray back, 64 B"),
    ("python_round_trip_1200", "GDScript → Python → bytes → PoolByteArray back, 1200 B"),
)
_INSIDE_ROWS = (
    ("engine_get_status", "Python → engine, PacketPeerDTLS.get_status()"),
    ("to_bytes_64", "PoolByteArray → bytes, 64 B"),
    ("to_bytes_1200", "PoolByteArray → bytes, 1200 B"),
    ("from_bytes_64", "bytes → PoolByteArray, 64 B"),
    ("from_bytes_1200", "bytes → PoolByteArray, 1200 B"),
)


def _format_calls(pairs: dict[str, Any]) -> list[str]:
    calls = _get(pairs, "5", "call_us")
    if not isinstance(calls, dict):
        return []
    lines = [
        "",
        f"Cost of one call inside Godot 3.2.3 with godot-python (pair 5's engine; µs, best of 3"
        f" loops of {calls.get('calls')}, less the empty loop)",
    ]
    measured = calls.get("from_gdscript") or {}
    for key, text in _CALL_ROWS:
        if key in measured:
            lines.append(f"  {text:<60} {measured[key]:>6.2f}")
    inside = calls.get("inside_python") or {}
    for key, text in _INSIDE_ROWS:
        if key in inside:
            lines.append(f"  {text + ' (timed in Python)':<60} {inside[key]:>6.2f}")
    if calls.get("note"):
        lines.append(f"  {calls['note']}")
    return lines


#: The memory breakdown's rows: key in ``kib_per_peer``, label.
_MEMORY_ROWS = (
    ("rss", "resident (RSS)"),
    ("c_heap", "C heap (malloc in use: OpenSSL, cffi)"),
    ("python_small", "Python objects (pymalloc)"),
    ("python_large", "Python's large blocks (malloc)"),
    ("unaccounted", "RSS less allocated"),
)
_MEMORY_COLUMNS = (
    ("handshaking", "mid-handshake"),
    ("connected", "connected"),
    ("echoed", "after echoes"),
)


def _format_memory(memory: Any) -> list[str]:
    if not isinstance(memory, dict):
        return []
    if "error" in memory:
        return ["", f"Server memory per peer: not measured ({memory['error'].splitlines()[0]})"]
    phases = memory.get("phases") or {"connected": {"kib_per_peer": memory.get("kib_per_peer")}}
    columns = [(key, label) for key, label in _MEMORY_COLUMNS if key in phases]

    def kib(phase: str, key: str) -> str:
        value = (phases[phase].get("kib_per_peer") or {}).get(key)
        return "-" if value is None else f"{value:.1f}"

    lines = [
        "",
        f"Memory per peer on the godot-dtls server ({memory.get('peers')} peers; RSS and C heap"
        " from a server without tracemalloc, Python's heap from one with it), KiB per peer:",
        "  " + " " * 40 + "".join(f"{label:>15}" for _, label in columns),
    ]
    for key, label in _MEMORY_ROWS:
        lines.append(f"  {label:<40}" + "".join(f"{kib(phase, key):>15}" for phase, _ in columns))
    lines.append(
        "  (RSS less allocated below 0: allocated but never touched, so never resident;"
        " mid-handshake: the server's first flight sent, the client's keys not yet in)"
    )
    trimmed = ((phases.get("echoed") or {}).get("kib_per_peer") or {}).get("rss_after_trim")
    if trimmed is not None:
        lines.append(
            f"  after echoes, once glibc gave its free heap back (malloc_trim): RSS"
            f" {trimmed:.1f} (the rest of the difference is freed handshake memory glibc"
            " keeps for reuse, held by no peer)"
        )
    top = memory.get("top_python_lines") or []
    if top:
        lines.append("  Python allocations that grew most (connected), KiB per peer:")
        lines.extend(
            f"    {line['kib_per_peer']:>6.2f}  {line['where']}"
            for line in top[:8]
            if line.get("kib_per_peer", 0) > 0.05
        )
    return lines


def _format_crowd(crowd: Any) -> list[str]:
    if not isinstance(crowd, dict) or not crowd.get("peers"):
        return []
    peers = int(crowd["peers"])
    if "error" in crowd:
        return ["", f"Crowd, {peers:,} peers: failed ({crowd['error'].splitlines()[0]})"]
    per_peer = crowd.get("rss_per_peer_kib")
    return [
        "",
        f"Crowd: {peers:,} peers at once on one godot-dtls server ({crowd.get('clients')}"
        f" clients): {crowd.get('connected')} connected, all handshakes in"
        f" {_number(crowd.get('handshake_all_s'), 's')} s, echo"
        f" {_number(crowd.get('echo_pps'), 'pps')} pkt/s, server RSS per peer"
        f" {_number(crowd.get('rss_connected_per_peer_kib'), 'kib')} KiB with every"
        f" handshake done ({_number(per_peer, 'kib')} KiB at the peak)",
        f"  server CPU {_number(_get(crowd, 'server_result', 'cpu_s'), 's')} s in"
        f" {_number((_get(crowd, 'server_result', 'elapsed_ms') or 0) / 1000.0, 's')} s;"
        f" UDP rcvbuf drops {_number(crowd.get('udp_rcvbuf_drops'), 'count')}, client"
        f" retransmissions {_number(crowd.get('client_retransmissions'), 'count')}",
    ]


def _format_goal(goal: dict[str, Any]) -> str:
    value = goal["value"]
    if goal["id"] == "api_overhead":
        shown = "-" if value is None else f"{value * 100:+.0f} %"
        target = f"{goal['comparison']} {goal['target'] * 100:+.0f} %"
    elif goal["id"].startswith(("many", "crowd")):
        shown = "-" if value is None or math.isinf(value) else f"{value:.2f}"
        target = f"{goal['comparison']} {goal['target']:g}"
    else:
        shown = "-" if value is None else f"{value:.2f}x"
        target = f"{goal['comparison']} {goal['target']:g}x"
    verdict = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
    text = f"  {goal['goal']:<76} {shown:>9}  {target:>8}  {verdict}"
    if goal.get("note"):
        text += f"  ({goal['note']})"
    return text


def format_report(results: dict[str, Any]) -> str:
    """The human-readable report: machine, the pair table, layer CPU, goals, checks."""
    machine = results["machine"]
    settings = results["settings"]
    pairs = results["pairs"]
    keys = sorted(pairs, key=int)
    lines = [
        "",
        "godot-dtls bench ({}, {} keys, {} handshakes, {}x {:g} s runs, window {},"
        " clients {} on the socket)".format(
            "quick" if settings["quick"] else "full",
            settings["key_type"].upper(),
            settings["handshakes"],
            settings["repeats"],
            settings["serial_s"],
            settings["window"],
            {"block": "sleep", "spin": "spin"}.get(settings.get("wait", "block"), "sleep"),
        ),
        "machine: {}, {} cores; {}; {}; pyOpenSSL {}; Godot {}".format(
            machine["cpu_model"],
            machine["cores"],
            machine["python"],
            machine["openssl"],
            machine["pyopenssl"],
            machine["godot"] or "not installed",
        ),
        "load average (1/5/15 min) before: {}, after: {}".format(
            machine.get("load_average_before"), machine.get("load_average_after")
        ),
        "pairs: " + "; ".join(f"{key} = {pairs[key]['label']}" for key in keys),
        f"(x) = ratio to pair {results.get('anchor', '3')}, the anchor",
        "",
        _line("", [_SHORT.get(key, key) for key in keys]),
    ]
    for label, render in _rows(results):
        lines.append(_line(label, [render(key) for key in keys]))
    for key in keys:
        pair = pairs[key]
        if "skipped" in pair:
            lines.append(f"pair {key} skipped: {pair['skipped']}")
        elif "error" in pair:
            lines.append(f"pair {key} failed: {pair['error'].splitlines()[0]}")
    if any(pair.get("many_peers") for pair in pairs.values()):
        lines.append("N peers: all clients start at once, from one process. Each server gets")
        lines.append("  max_pending_connections = N + 16 (godot-dtls: max_handshakes = N + 16 too)")
        lines.append("  UDP rcvbuf drops: the kernel's count for the whole machine during the run.")
    if any(pair.get("echo_checked") for pair in pairs.values()):
        lines.append(
            "Echo check: the Python clients compare every echo; the GDScript client (pairs 3, 5)"
        )
        lines.append(
            "  counts in its timed runs and compares every echo in untimed passes before and"
            " after them."
        )
    lines.extend(_format_calls(pairs))
    if "layer_cpu" in results:
        lines.extend(_format_layer(results["layer_cpu"]))
    lines.extend(_format_memory(results.get("server_memory")))
    lines.extend(_format_crowd(results.get("crowd")))
    lines.append("")
    lines.append("Goals (ratios from this run)")
    lines.extend(_format_goal(goal) for goal in results.get("goals", []))
    verification = results.get("verification", {})
    lines.append("")
    if verification.get("ok"):
        lines.append("Echo check: every echo of every pair came back, unchanged (zero loss).")
    else:
        lines.append("Echo check FAILED:")
        lines.extend(f"  {problem}" for problem in verification.get("problems", []))
    for warning in verification.get("warnings", []):
        lines.append(f"  note: {warning}")
    load = machine.get("load_average_before") or [0.0]
    cores = machine.get("cores") or 1
    busy = max(load[0], (machine.get("load_average_after") or [0.0])[0]) > 0.5 * cores
    if busy and settings.get("wait") == "spin":
        lines.append(
            "  note: spinning clients on a busy machine: a client or Godot's server may wait"
            " whole scheduler slices; rerun with --wait block"
        )
    if busy:
        lines.append(
            f"  note: the machine was busy (load average up to "
            f"{max(load[0], (machine.get('load_average_after') or [0.0])[0]):.1f} on "
            f"{cores} cores): wall-clock figures are noisy, CPU per packet less so"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ files


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write every figure of ``results`` as JSON."""
    path.write_text(
        json.dumps(_clean(results), indent=2, ensure_ascii=False, sort_keys=False) + "\n",
        encoding="utf-8",
    )


def write_plot(results: dict[str, Any], path: Path) -> str:
    """Bar charts of the four pairs side by side; a message saying what happened."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            f"--plot {path}: matplotlib is not installed; "
            "install it with: pip install 'godot-dtls[bench]' (or pip install matplotlib)"
        )
    pairs = results["pairs"]
    keys = [key for key in sorted(pairs, key=int) if "skipped" not in pairs[key]]
    sizes = [str(size) for size in results["settings"]["sizes"]]
    many = sorted({p for key in keys for p in pairs[key].get("many_peers", {})}, key=int)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]

    panels: list[tuple[str, list[str], Callable[[dict[str, Any], str], Any]]] = [
        ("handshake median (ms)", ["all"], lambda p, _g: _get(p, "handshake_ms", "median")),
        ("echo RTT median (µs)", sizes, lambda p, g: _get(p, "rtt_us", g, "median")),
        ("serial echo (pkt/s)", sizes, lambda p, g: _get(p, "pps_serial", g)),
        ("pipelined echo, window 32 (pkt/s)", sizes, lambda p, g: _get(p, "pps_pipelined", g)),
        (
            "client CPU per echo, pipelined (µs)",
            sizes,
            lambda p, g: _get(p, "cpu_us_per_packet", "pipelined", g),
        ),
        (
            "many peers: all handshakes (s)",
            many,
            lambda p, g: _get(p, "many_peers", g, "handshake_all_s"),
        ),
        ("many peers: echo rate (pkt/s)", many, lambda p, g: _get(p, "many_peers", g, "echo_pps")),
        (
            "many peers: server RSS per peer (KiB)",
            many,
            lambda p, g: _get(p, "many_peers", g, "rss_per_peer_kib"),
        ),
    ]
    figure, axes = plt.subplots(2, 4, figsize=(20, 9))
    width = 0.8 / max(1, len(keys))
    for axis, (title, groups, getter) in zip(axes.flat, panels):
        for index, key in enumerate(keys):
            values = [getter(pairs[key], group) for group in groups]
            heights = [
                v if isinstance(v, (int, float)) and not math.isnan(v) else 0 for v in values
            ]
            positions = [g + (index - (len(keys) - 1) / 2) * width for g in range(len(groups))]
            axis.bar(
                positions,
                heights,
                width,
                label=f"{key}: {pairs[key]['label']}",
                color=colors[(int(key) - 1) % len(colors)],
            )
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(groups)))
        suffix = " B" if groups is sizes else (" peers" if groups is many else "")
        axis.set_xticklabels([f"{group}{suffix}" if group != "all" else "" for group in groups])
        axis.grid(axis="y", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    machine = results["machine"]
    figure.legend(handles, labels, loc="lower center", ncol=min(5, len(keys) or 1), fontsize=9)
    figure.suptitle(
        "godot-dtls bench ({}): {}, {} cores, {}, Godot {}".format(
            "quick" if results["settings"]["quick"] else "full",
            machine["cpu_model"],
            machine["cores"],
            machine["python"],
            machine["godot"],
        ),
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0.05, 1, 0.96))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot written to {path}"
