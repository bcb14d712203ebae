"""Where a server's memory goes: the Python heap (tracemalloc) and the C heap (malloc).

The benchmark's godot-dtls server (:mod:`.pyserver`) takes a :func:`snapshot` when asked
(a request file, see ``--snapshot-dir``): its RSS, glibc's ``mallinfo2()`` (every malloc
arena: what OpenSSL, cffi and Python's own large blocks hold) and, when tracing, the
Python allocations by source line. :func:`breakdown` turns two snapshots (before the
peers connect, and with every peer connected) into KiB per peer:

- ``python_small``: Python objects in pymalloc's arenas (blocks of at most 512 bytes);
- ``python_large``: Python's larger blocks, which pymalloc hands to malloc;
- ``c_heap``: malloc in use apart from Python's large blocks and tracemalloc's own
  tables (OpenSSL's SSL objects and buffers, cffi's, the kernel-facing libc state);
- ``rss``: the resident set, also less tracemalloc's tables; ``unaccounted`` is RSS less
  the three: above 0 allocator slack, page granularity, memory freed but kept; below 0
  memory allocated but never touched (malloc'd buffers whose pages were never written
  are not resident).

Only the standard library and ``/proc``; ``mallinfo2`` needs glibc 2.33 or later (None
elsewhere).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import tracemalloc
from typing import Any

__all__ = ["PYMALLOC_THRESHOLD", "breakdown", "malloc_stats", "snapshot"]

#: Larger requests bypass pymalloc and go to malloc (CPython's SMALL_REQUEST_THRESHOLD).
PYMALLOC_THRESHOLD = 512
#: How many source lines the breakdown lists.
TOP_LINES = 12


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo2() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    function.argtypes = []
    return function


_MALLINFO2 = _mallinfo2()


def malloc_stats() -> dict[str, int] | None:
    """glibc's heap figures in bytes: ``in_use`` (allocated, incl. mmapped blocks) and
    ``footprint`` (obtained from the system); None without ``mallinfo2``."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return {
        "in_use": int(info.uordblks + info.hblkhd),
        "footprint": int(info.arena + info.hblkhd),
        "free": int(info.fordblks),
        "mmapped": int(info.hblkhd),
    }


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def snapshot(peers: int, previous: tracemalloc.Snapshot | None = None) -> tuple[dict, Any]:
    """The process's memory now (after a full collection), and the tracemalloc snapshot
    taken (None when not tracing) to compare the next one with."""
    gc.collect()
    entry: dict[str, Any] = {"peers": peers, "rss": _rss_bytes(), "malloc": malloc_stats()}
    traced = None
    if tracemalloc.is_tracing():
        traced = tracemalloc.take_snapshot()
        entry["python"] = tracemalloc.get_traced_memory()[0]
        entry["python_large"] = sum(
            trace.size for trace in traced.traces if trace.size > PYMALLOC_THRESHOLD
        )
        entry["tracemalloc_tables"] = tracemalloc.get_tracemalloc_memory()
        if previous is not None:
            entry["top_lines"] = [
                {
                    "where": _short(stat.traceback[0].filename) + f":{stat.traceback[0].lineno}",
                    "bytes": stat.size_diff,
                    "blocks": stat.count_diff,
                }
                for stat in traced.compare_to(previous, "lineno")[:TOP_LINES]
            ]
    return entry, traced


def _short(filename: str) -> str:
    """A source path from its package folder on (``godot_dtls/core/connection.py``)."""
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("godot_dtls", "OpenSSL", "cryptography"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) :])
    return "/".join(parts[-2:])


def breakdown(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """KiB per peer between two :func:`snapshot` entries (see the module's docstring)."""
    peers = after["peers"] - before["peers"]
    if peers <= 0:
        return {"peers": peers}

    def delta(key: str, inner: str | None = None) -> float | None:
        first, second = before.get(key), after.get(key)
        if inner is not None:
            first = first.get(inner) if isinstance(first, dict) else None
            second = second.get(inner) if isinstance(second, dict) else None
        if not isinstance(first, int) or not isinstance(second, int):
            return None
        return (second - first) / 1024.0 / peers

    tables = delta("tracemalloc_tables") or 0.0
    python = delta("python")
    large = delta("python_large")
    small = python - large if python is not None and large is not None else None
    malloc = delta("malloc", "in_use")
    c_heap = malloc - tables - (large or 0.0) if malloc is not None else None
    rss = delta("rss")
    rss_net = rss - tables if rss is not None else None
    unaccounted = None
    if rss_net is not None and malloc is not None and small is not None:
        unaccounted = rss_net - (malloc - tables) - small
    per_peer = {
        "rss": rss_net,
        "python_small": small,
        "python_large": large,
        "c_heap": c_heap,
        "unaccounted": unaccounted,
        "tracemalloc_tables": tables,
    }
    lines = [
        dict(line, kib_per_peer=line["bytes"] / 1024.0 / peers)
        for line in after.get("top_lines", [])
    ]
    return {"peers": peers, "kib_per_peer": per_peer, "top_python_lines": lines}
