"""The Godot 3 project of the in-engine pair: godot-dtls inside Godot through godot-python.

The benchmark's own project (``godot3/``) has no Python. For the pair that measures what
a game's GDScript gets from the Python class, the benchmark assembles a project the way a
user installs godot-dtls into a Godot 3 game (:mod:`godot_dtls.tools.godot3.project`: the
runtime, the package under ``res://lib``, the facades under ``res://addons/godot_dtls``)
and links the benchmark's scripts into its top folder, so the same ``bench_client.gd``
runs there with ``backend=facade``. The runtime is only looked for, never built here: a
build takes minutes (``godot-dtls godot3 runtime`` makes it once).
"""

from __future__ import annotations

from pathlib import Path

from godot_dtls.tools.godot3 import project as layout
from godot_dtls.tools.godot3.runtime import Runtime, RuntimeUnavailable, find_runtime

from .procs import GODOT3_PROJECT

__all__ = ["BENCH_SCRIPTS", "assemble_engine_project", "find_engine_runtime"]

#: The benchmark files the in-engine project needs at ``res://``.
BENCH_SCRIPTS = ("bench_client.gd", "bench_common.gd", "bench_probe.py")


def find_engine_runtime() -> tuple[Runtime | None, str]:
    """The godot-python runtime if it is built on this machine, else None and why not."""
    try:
        return find_runtime(build=False), ""
    except RuntimeUnavailable as exc:
        return None, f"the Godot 3 Python runtime is not available ({exc})"
    except OSError as exc:
        return None, f"the Godot 3 Python runtime cannot be read ({exc})"


def assemble_engine_project(root: Path, runtime: Runtime) -> Path:
    """A Godot 3 project at ``root`` with godot-python, godot-dtls, its facades and the
    benchmark's scripts (all linked, nothing copied)."""
    root.mkdir(parents=True, exist_ok=True)
    layout.install_runtime(root, runtime, link=True)
    layout.install_package(root, link=True)
    layout.install_addon(root, link=True)
    for name in BENCH_SCRIPTS:
        target = root / name
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(GODOT3_PROJECT / name)
    layout.write_project_file(root, "godot_dtls_bench_engine", python=True)
    return root
