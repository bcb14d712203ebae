"""``godot-dtls bench --quick`` runs and writes JSON with the expected keys.

Smoke tests only: the benchmark runs in a subprocess with a timeout, exits 0 (which
also means every echo came back unchanged) and its JSON has every figure in place.
No timing is ever asserted. The Godot pairs need ``godot3-server``, and pair 5 (the
Python class inside Godot) the godot-python runtime: without them those tests are
skipped locally and fail when CI=true.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest

from support.godot3_runtime import require_runtime
from support.godot_peer import require_godot3

#: The quick run takes about 20 s with every pair; this bounds a hang.
RUN_TIMEOUT = 300
SIZES = ("64", "1200")
QUICK_PEERS = "20"
GOAL_IDS = {
    "handshake",
    "pps_pipelined_64",
    "pps_pipelined_1200",
    "api_overhead",
    "engine_handshake",
    "engine_pps_pipelined_64",
    "engine_pps_pipelined_1200",
    "many_handshakes",
    "many_rss",
    "crowd_handshakes",
}


def _run_bench(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "godot_dtls", "bench", "--quick", "--json", str(out)]
    done = subprocess.run(
        [*command, *extra],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Goals" in done.stdout, done.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    data["_stdout"] = done.stdout
    return data


def _check_common(
    data: dict[str, Any], measured: Sequence[str], listed: Sequence[str] = ()
) -> None:
    for key in ("machine", "settings", "pairs", "ratios", "goals", "verification", "layer_cpu"):
        assert key in data, key
    for key in ("cpu_model", "cores", "python", "openssl", "pyopenssl", "godot"):
        assert key in data["machine"], key
    assert data["verification"]["ok"] is True, data["verification"]
    assert sorted(data["pairs"]) == sorted(listed or measured)
    for number in measured:
        pair = data["pairs"][number]
        assert "error" not in pair and "skipped" not in pair, pair
        assert {"median", "p95", "samples"} <= set(pair["handshake_ms"])
        assert len(pair["handshake_ms"]["samples"]) >= 30
        for size in SIZES:
            assert {"median", "p95"} <= set(pair["rtt_us"][size])
            assert isinstance(pair["pps_serial"][size], float)
            assert isinstance(pair["pps_pipelined"][size], float)
            for mode in ("serial", "pipelined"):
                assert pair["echo"][mode][size]["lost"] == 0
                assert pair["echo"][mode][size]["mismatches"] == 0
            if pair["client"] in ("godot", "godot-python"):  # compared outside the timed runs
                checked = pair["echo_checked"][size]
                assert checked["compared"] > 0
                assert checked["lost"] == checked["mismatches"] == 0
            else:
                assert pair["echo"]["pipelined"][size]["compared"] > 0
        if pair["client"] == "godot-python":
            continue  # one game client: no many-peer runs
        many = pair["many_peers"][QUICK_PEERS]
        for key in ("handshake_all_s", "echo_pps", "rss_before_kib", "rss_per_peer_kib"):
            assert key in many, key
        assert many["connected"] == int(QUICK_PEERS)
    for size in SIZES:
        for window in ("1", "32"):
            entry = data["layer_cpu"]["sizes"][size][window]
            assert {"raw_us", "core_us", "api_us", "api_overhead"} <= set(entry)
    assert {goal["id"] for goal in data["goals"]} == GOAL_IDS


def test_bench_quick_godot_dtls_pair(tmp_path: Path) -> None:
    """Pair 1 alone (no Godot needed): JSON, table and a plot or a clear message; the
    per-peer memory breakdown of its server and a small crowd."""
    plot = tmp_path / "bench.png"
    data = _run_bench(tmp_path, "--pairs", "1", "--crowd", "40", "--plot", str(plot))
    _check_common(data, ["1"])
    assert data["pairs"]["1"]["cpu_us_per_packet"]["pipelined"]["64"] is not None
    assert data["ratios"] == {}  # no anchor in this run
    if plot.exists():
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in data["_stdout"]
    memory = data["server_memory"]
    assert memory["peers"] == 20, memory
    assert memory["held_mid_handshake"] == 20, memory
    assert set(memory["phases"]) == {"handshaking", "connected", "echoed"}
    for phase, entry in memory["phases"].items():
        assert entry["peers"] == 20, (phase, entry)
        assert {
            "rss",
            "python_small",
            "python_large",
            "c_heap",
            "unaccounted",
            "rss_traced",
        } <= set(entry["kib_per_peer"]), (phase, entry)
        assert entry["kib_per_peer"]["python_small"] > 0, (phase, entry)  # Python objects
    assert memory["kib_per_peer"] == memory["phases"]["connected"]["kib_per_peer"]
    # The server really held every peer mid-handshake, then every one connected.
    snapshots = memory["snapshots"]
    for suffix in ("", "_traced"):
        assert snapshots["handshaking" + suffix]["handshaking"] == 20, snapshots
        assert snapshots["connected" + suffix]["connected"] == 20, snapshots
        assert snapshots["echoed" + suffix]["connected"] == 20, snapshots
    if "rss_after_trim" in snapshots["echoed"]:  # glibc
        assert "rss_after_trim" in memory["phases"]["echoed"]["kib_per_peer"]
    assert any("godot_dtls/" in line["where"] for line in memory["top_python_lines"])
    assert "Memory per peer on the godot-dtls server" in data["_stdout"]
    assert "mid-handshake" in data["_stdout"] and "after echoes" in data["_stdout"]
    crowd = data["crowd"]
    assert crowd["peers"] == 40 and crowd["connected"] == 40, crowd
    assert crowd["echo_mismatches"] == 0
    assert crowd["rss_connected_kib"] is not None and "rss_connected_per_peer_kib" in crowd
    assert "with every handshake done" in data["_stdout"]
    goal = next(goal for goal in data["goals"] if goal["id"] == "crowd_handshakes")
    assert goal["value"] == crowd["handshake_all_s"]
    assert "the goal is for 10,000" in goal["note"]


@pytest.mark.interop
def test_bench_quick_all_pairs(tmp_path: Path) -> None:
    """The Godot pairs against Godot 3.2.3 (godot3-server), with ratios to pair 3; pair 5
    runs when the godot-python runtime is built, else it is skipped with the reason."""
    require_godot3()
    data = _run_bench(tmp_path, "--memory-peers", "0")
    pair5 = data["pairs"]["5"]
    if "skipped" in pair5:
        assert "runtime" in pair5["skipped"], pair5
        measured = ["1", "2", "3", "4"]
    else:
        measured = ["1", "2", "3", "4", "5"]
    _check_common(data, measured, listed=["1", "2", "3", "4", "5"])
    assert data["machine"]["godot"]
    assert "server_memory" not in data  # --memory-peers 0
    for number in [key for key in measured if key != "3"]:
        ratios = data["ratios"][number]
        assert {"handshake_ms", "rtt_us", "pps_serial", "pps_pipelined"} <= set(ratios)
        assert set(ratios["pps_pipelined"]) == set(SIZES)
    for number in measured:  # the Godot clients' CPU from /proc
        assert "64" in data["pairs"][number]["cpu_us_per_packet"]["pipelined"]
    assert data["pairs"]["3"]["backend"] == "engine:PacketPeerDTLS"


@pytest.mark.interop
def test_bench_quick_in_engine_pair(tmp_path: Path) -> None:
    """Pair 5: the Python class inside Godot 3.2.3 (godot-python) through the facade, driven
    by pair 3's GDScript loop; its ratios to pair 3 and the cost of a call from GDScript."""
    require_runtime()
    data = _run_bench(tmp_path, "--pairs", "3,5", "--memory-peers", "0")
    _check_common(data, ["3", "5"])
    pair = data["pairs"]["5"]
    assert pair["backend"] == "python:godot-python via facade", pair["backend"]
    assert pair["many_peers"] == {}
    ratios = data["ratios"]["5"]
    assert set(ratios["pps_pipelined"]) == set(SIZES)
    assert isinstance(ratios["handshake_ms"], float)
    calls = pair["call_us"]["from_gdscript"]
    assert {"gdscript_noop", "engine_get_status", "python_noop", "python_take_64"} <= set(calls)
    inside = pair["call_us"]["inside_python"]
    assert {"engine_get_status", "to_bytes_64", "from_bytes_1200"} <= set(inside)
    goals = {goal["id"]: goal for goal in data["goals"]}
    assert goals["engine_pps_pipelined_64"]["value"] == ratios["pps_pipelined"]["64"]
    assert "GDScript → Python, a no-op method" in data["_stdout"]


@pytest.mark.interop
def test_bench_anchor_check(tmp_path: Path) -> None:
    """--anchor-check runs the benchmark's GDScript loop, the least GDScript loop and
    (where it builds) the C client against one Godot server, each blocking and spinning."""
    require_godot3()
    out = tmp_path / "anchor.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "godot_dtls",
            "bench",
            "--quick",
            "--anchor-check",
            "--json",
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    check = json.loads(out.read_text(encoding="utf-8"))["anchor_check"]
    assert check["errors"] == []
    names = ["bench loop", "minimal loop"]
    if check["c_client"].startswith("OpenSSL"):  # built here; else the reason is given
        names.append("C client")
    else:
        assert "C" in check["c_client"] or "cc" in check["c_client"], check["c_client"]
    expected = {f"{name}, {wait}" for name in names for wait in ("block", "spin")}
    assert set(check["runs"]) == expected
    for label, rows in check["runs"].items():
        assert len(rows) == check["rounds"], label
        for row in rows:
            assert set(row) == {"serial 64", "serial 1200", "pipelined 64", "pipelined 1200"}
    assert "bench loop / minimal loop (block)" in done.stdout
