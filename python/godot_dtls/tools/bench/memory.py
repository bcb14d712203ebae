"""Where a server's memory goes: the Python heap (tracemalloc) and the C heap (malloc).

The benchmark's godot-dtls server (:mod:`.pyserver`) takes a :func:`snapshot` when asked
(a request file, see ``--snapshot-dir``): its RSS, glibc's ``mallinfo2()`` (every malloc
arena: what OpenSSL, cffi and Python's own large blocks hold) and, when tracing, the
Python allocations by source line. :func:`breakdown` turns two snapshots (before the
peers connect, and with the peers handshaking, connected, or after their echoes) into
KiB per peer:

- ``python_small``: Python objects in pymalloc's arenas (blocks of at most 512 bytes);
- ``python_large``: Python's larger blocks, which pymalloc hands to malloc;
- ``c_heap``: malloc in use apart from Python's large blocks and tracemalloc's own
  tables (OpenSSL's SSL objects and buffers, cffi's, the kernel-facing libc state);
- ``rss``: the resident set, also less tracemalloc's tables; ``unaccounted`` is RSS less
  the three: above 0 allocator slack, page granularity, memory freed but kept; below 0
  memory allocated but never touched (malloc'd buffers whose pages were never written
  are not resident);
- ``rss_after_trim`` (when the later snapshot asked for it): the resident set once glibc
  gave the free pages of its heap back to the system (``malloc_trim(0)``). The
  difference to ``rss`` is memory freed (the handshakes' temporary buffers) that glibc
  keeps for reuse, not memory any peer holds.

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

__all__ = [
    "PYMALLOC_THRESHOLD",
    "breakdown",
    "combine",
    "malloc_stats",
    "snapshot",
    "trim_heap",
]

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


def _malloc_trim() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        function = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_size_t]
    return function


_MALLOC_TRIM = _malloc_trim()


def trim_heap() -> bool | None:
    """Have glibc give the free pages of its heaps back to the system (``malloc_trim``):
    True when it released any, None without glibc. The process's live memory is the same
    afterwards; only what malloc kept for reuse goes."""
    if _MALLOC_TRIM is None:
        return None
    return bool(_MALLOC_TRIM(0))


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


def snapshot(
    peers: int,
    previous: tracemalloc.Snapshot | None = None,
    trim: bool = False,
    **counts: int,
) -> tuple[dict, Any]:
    """The process's memory now (after a full collection), and the tracemalloc snapshot
    taken (None when not tracing) to compare the next one with.

    ``peers``: the peers the figures are divided by; ``counts`` are recorded as they are
    (e.g. how many of them are connected). ``trim``: afterwards, also the RSS once glibc
    gave its free heap back (:func:`trim_heap`; this changes the process, so only the
    last snapshot of a run asks for it).
    """
    gc.collect()
    entry: dict[str, Any] = {"peers": peers, "rss": _rss_bytes(), "malloc": malloc_stats()}
    entry.update(counts)
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
    if trim and trim_heap() is not None:
        entry["rss_after_trim"] = _rss_bytes()
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
    trimmed = None
    if isinstance(after.get("rss_after_trim"), int) and isinstance(before.get("rss"), int):
        trimmed = (after["rss_after_trim"] - before["rss"]) / 1024.0 / peers - tables
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
    if trimmed is not None:
        per_peer["rss_after_trim"] = trimmed
    lines = [
        dict(line, kib_per_peer=line["bytes"] / 1024.0 / peers)
        for line in after.get("top_lines", [])
    ]
    return {"peers": peers, "kib_per_peer": per_peer, "top_python_lines": lines}


def combine(plain: dict[str, Any], traced: dict[str, Any]) -> dict[str, Any]:
    """One breakdown from two runs of the same measurement: the RSS and the heap from
    ``plain`` (a process without tracemalloc, which costs memory beyond its own tables),
    the Python heap and its source lines from ``traced``.

    ``c_heap`` is then the malloc in use of ``plain`` less ``traced``'s Python large
    blocks, and ``unaccounted`` the RSS of ``plain`` less its malloc in use and
    ``traced``'s Python objects.
    """
    if "kib_per_peer" not in plain or "kib_per_peer" not in traced:
        return plain if "kib_per_peer" in plain else traced
    heap = plain["kib_per_peer"]
    python = traced["kib_per_peer"]
    small, large = python.get("python_small"), python.get("python_large")
    malloc = heap.get("c_heap")  # no Python figures in plain: all of malloc in use
    rss = heap.get("rss")
    per_peer: dict[str, Any] = {
        "rss": rss,
        "python_small": small,
        "python_large": large,
        "c_heap": malloc - (large or 0.0) if malloc is not None else None,
        "unaccounted": (
            rss - malloc - small
            if rss is not None and malloc is not None and small is not None
            else None
        ),
        "rss_traced": python.get("rss"),
    }
    if "rss_after_trim" in heap:
        per_peer["rss_after_trim"] = heap["rss_after_trim"]
    return {
        "peers": plain["peers"],
        "peers_traced": traced["peers"],
        "kib_per_peer": per_peer,
        "top_python_lines": traced.get("top_python_lines", []),
    }
