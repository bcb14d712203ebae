"""What one crossing between GDScript and Python costs inside Godot 3 (godot-python 0.50).

Linked into the in-engine benchmark project as ``res://bench_probe.py``; ``bench_client.gd``
(``mode=calls``) calls its methods from GDScript in loops and asks it to time, from the
Python side, the crossings a packet makes there: a call into the engine and the
PoolByteArray ⇄ bytes conversions of the godot-python adapter (``RUNTIME.to_bytes`` /
``RUNTIME.from_bytes``). Also: ``profile_start()`` / ``profile_stop(path)`` run cProfile in
the engine's interpreter (``bench_client.gd profile=PATH``).
"""

from __future__ import annotations

import cProfile
import time
from typing import Any

from godot import Dictionary, GDString, Reference, exposed

#: The godot-python adapter module, as godot-python names ``res://addons/.../methods.py``.
_ADAPTER = "addons.godot_dtls.python.godot_python.methods"
_profile: list[cProfile.Profile] = []
_runtime: list[Any] = []


def _adapter_runtime() -> Any:
    """The adapter's Runtime (imported on first use: the probe loads without it)."""
    if not _runtime:
        import importlib

        _runtime.append(importlib.import_module(_ADAPTER).RUNTIME)
    return _runtime[0]


def _per_call_us(function: Any, argument: Any, calls: int) -> float:
    """µs per call of ``function(argument)`` (``argument`` None: no argument), best of 3,
    less the loop itself."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        if argument is None:
            for _ in range(calls):
                function()
        else:
            for _ in range(calls):
                function(argument)
        best = min(best, time.perf_counter() - start)
    empty = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            pass
        empty = min(empty, time.perf_counter() - start)
    return max(0.0, (best - empty) / calls * 1e6)


@exposed
class BenchProbe(Reference):
    """Methods that do (almost) nothing, for timing the crossing itself."""

    def noop(self):
        return None

    def take(self, buffer):
        return None

    def to_bytes(self, buffer):
        """One PoolByteArray → bytes conversion as the adapter does it."""
        _adapter_runtime().to_bytes(buffer)
        return None

    def round_trip(self, buffer):
        """PoolByteArray → bytes → PoolByteArray, as a packet in and a packet out."""
        runtime = _adapter_runtime()
        return runtime.from_bytes(runtime.to_bytes(buffer))

    def time_inside(self, engine_object, small, large, calls):
        """µs per operation timed from Python: a call into the engine
        (``engine_object.get_status()``), and each conversion at 64 and 1200 bytes."""
        runtime = _adapter_runtime()
        calls = int(calls)
        small_bytes, large_bytes = runtime.to_bytes(small), runtime.to_bytes(large)
        timings = {
            "engine_get_status": _per_call_us(engine_object.get_status, None, calls),
            "to_bytes_64": _per_call_us(runtime.to_bytes, small, calls),
            "to_bytes_1200": _per_call_us(runtime.to_bytes, large, calls),
            "from_bytes_64": _per_call_us(runtime.from_bytes, small_bytes, calls),
            "from_bytes_1200": _per_call_us(runtime.from_bytes, large_bytes, calls),
        }
        result = Dictionary()
        for key, value in timings.items():
            result[GDString(key)] = float(value)
        return result

    def profile_start(self):
        profile = cProfile.Profile()
        _profile.append(profile)
        profile.enable()
        return 0

    def profile_stop(self, path):
        if not _profile:
            return 1
        profile = _profile.pop()
        profile.disable()
        profile.dump_stats(str(path))
        return 0
