"""``godot-dtls bench --quick`` runs and writes JSON with the expected keys.

Smoke tests only: the benchmark runs in a subprocess with a timeout, exits 0 (which
also means every echo came back unchanged) and its JSON has every figure in place.
No timing is ever asserted. The Godot pairs need ``godot3-server``: without it that
test is skipped locally and fails when CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest

#: The quick run takes about 15 s with every pair; this bounds a hang.
RUN_TIMEOUT = 240
SIZES = ("64", "1200")
QUICK_PEERS = "20"


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


def _check_common(data: dict[str, Any], measured: Sequence[str]) -> None:
    for key in ("machine", "settings", "pairs", "ratios", "goals", "verification", "layer_cpu"):
        assert key in data, key
    for key in ("cpu_model", "cores", "python", "openssl", "pyopenssl", "godot"):
        assert key in data["machine"], key
    assert data["verification"]["ok"] is True, data["verification"]
    assert sorted(data["pairs"]) == sorted(measured)
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
        many = pair["many_peers"][QUICK_PEERS]
        for key in ("handshake_all_s", "echo_pps", "rss_before_kib", "rss_per_peer_kib"):
            assert key in many, key
        assert many["connected"] == int(QUICK_PEERS)
    for size in SIZES:
        for window in ("1", "32"):
            entry = data["layer_cpu"]["sizes"][size][window]
            assert {"raw_us", "core_us", "api_us", "api_overhead"} <= set(entry)
    assert {goal["id"] for goal in data["goals"]} == {
        "handshake",
        "pps_pipelined_64",
        "pps_pipelined_1200",
        "api_overhead",
        "many_handshakes",
        "many_rss",
    }


def test_bench_quick_godot_dtls_pair(tmp_path: Path) -> None:
    """Pair 1 alone (no Godot needed): JSON, table and a plot or a clear message."""
    plot = tmp_path / "bench.png"
    data = _run_bench(tmp_path, "--pairs", "1", "--plot", str(plot))
    _check_common(data, ["1"])
    assert data["pairs"]["1"]["cpu_us_per_packet"]["pipelined"]["64"] is not None
    assert data["ratios"] == {}  # no anchor in this run
    if plot.exists():
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in data["_stdout"]


@pytest.mark.interop
def test_bench_quick_all_pairs(tmp_path: Path) -> None:
    """The four pairs against Godot 3.2.3 (godot3-server), with ratios to pair 3."""
    if shutil.which("godot3-server") is None:
        message = "godot3-server not installed (apt-get install godot3-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    data = _run_bench(tmp_path)
    _check_common(data, ["1", "2", "3", "4"])
    assert data["machine"]["godot"]
    for number in ("1", "2", "4"):
        ratios = data["ratios"][number]
        assert {"handshake_ms", "rtt_us", "pps_serial", "pps_pipelined"} <= set(ratios)
        assert set(ratios["pps_pipelined"]) == set(SIZES)
    for number in ("1", "2", "3", "4"):  # pair 3: the Godot client's CPU from /proc
        assert "64" in data["pairs"][number]["cpu_us_per_packet"]["pipelined"]
