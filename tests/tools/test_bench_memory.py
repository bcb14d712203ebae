"""The benchmark's memory breakdown puts C allocations in the C heap and Python's in the
Python heap (``godot_dtls.tools.bench.memory``), measured in this process."""

from __future__ import annotations

import ctypes
import ctypes.util
import tracemalloc

import pytest

from godot_dtls.tools.bench.memory import breakdown, combine, malloc_stats, snapshot

COUNT = 400


@pytest.fixture
def tracing():
    if malloc_stats() is None:
        pytest.skip("no glibc mallinfo2() here: the C heap cannot be read")
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_c_allocations_count_as_c_heap(tracing: None) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    before, traced = snapshot(0)
    blocks = [libc.malloc(16384) for _ in range(COUNT)]
    try:
        for block in blocks:
            ctypes.memset(block, 1, 16384)  # resident, not only reserved
        after, _ = snapshot(COUNT, traced)
    finally:
        for block in blocks:
            libc.free(block)
    per_peer = breakdown(before, after)["kib_per_peer"]
    assert 15.0 < per_peer["c_heap"] < 18.0, per_peer
    assert abs(per_peer["python_large"]) < 1.0, per_peer
    # RSS grows by less where malloc reuses pages this process already touched.
    assert per_peer["rss"] is not None, per_peer


def test_python_objects_count_as_python_heap(tracing: None) -> None:
    before, traced = snapshot(0)
    keep = [(bytearray(8192), [index] * 20) for index in range(COUNT)]
    after, _ = snapshot(COUNT, traced)
    result = breakdown(before, after)
    per_peer = result["kib_per_peer"]
    assert 7.5 < per_peer["python_large"] < 9.5, per_peer  # the 8 KiB bytearrays
    assert per_peer["python_small"] > 0.1, per_peer  # the small lists
    assert abs(per_peer["c_heap"]) < 1.0, per_peer
    assert any("test_bench_memory.py" in line["where"] for line in result["top_python_lines"])
    assert len(keep) == COUNT


def test_snapshot_records_counts_and_the_rss_after_trimming(tracing: None) -> None:
    before, traced = snapshot(0)
    garbage = [bytearray(100_000) for _ in range(100)]  # 10 MB of freed heap to return
    del garbage
    after, _ = snapshot(4, traced, trim=True, connected=3, handshaking=1)
    assert after["connected"] == 3 and after["handshaking"] == 1
    assert isinstance(after["rss_after_trim"], int)
    assert after["rss_after_trim"] <= after["rss"] + 64 * 1024
    per_peer = breakdown(before, after)["kib_per_peer"]
    assert per_peer["rss_after_trim"] is not None
    untrimmed, _ = snapshot(4, traced)
    assert "rss_after_trim" not in untrimmed
    assert "rss_after_trim" not in breakdown(before, untrimmed)["kib_per_peer"]


def test_combine_takes_the_heap_from_the_plain_run_and_python_from_the_traced_one() -> None:
    plain = {
        "peers": 10,
        "kib_per_peer": {"rss": 70.0, "c_heap": 66.0, "python_small": None, "rss_after_trim": 60.0},
    }
    traced = {
        "peers": 10,
        "kib_per_peer": {"rss": 80.0, "c_heap": 60.0, "python_small": 3.0, "python_large": 1.0},
        "top_python_lines": [{"where": "x.py:1", "bytes": 10, "kib_per_peer": 0.5}],
    }
    per_peer = combine(plain, traced)["kib_per_peer"]
    assert per_peer["rss"] == 70.0 and per_peer["rss_traced"] == 80.0
    assert per_peer["python_small"] == 3.0 and per_peer["python_large"] == 1.0
    assert per_peer["c_heap"] == 65.0  # malloc in use less Python's large blocks
    assert per_peer["unaccounted"] == 70.0 - 66.0 - 3.0
    assert per_peer["rss_after_trim"] == 60.0
    assert combine(plain, traced)["top_python_lines"] == traced["top_python_lines"]
