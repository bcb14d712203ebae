"""Running GDScript checks inside a real Godot 3.2.3 with the real godot-python runtime.

The runtime comes from :mod:`godot_dtls.tools.godot3.runtime` (built once from the
vendored sources and cached). Without it the tests skip with one line saying how to
provide it; with ``CI=true`` they fail instead. Each project is assembled in a temporary
folder the way a user installs godot-dtls into a Godot 3 project
(:mod:`godot_dtls.tools.godot3.project`), plus the check scripts of ``tests/addon/godot3``
under ``res://checks``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pytest

from godot_dtls.tools.godot3 import project as layout
from godot_dtls.tools.godot3.runtime import Runtime, RuntimeUnavailable, find_runtime

from .godot_peer import GodotError, GodotProcess, require_godot3

__all__ = ["CHECKS", "CheckRun", "assemble_project", "require_runtime", "run_checks"]

#: The GDScript check scripts (Godot 3.2 syntax), linked into each project as res://checks.
CHECKS = Path(__file__).resolve().parents[1] / "addon" / "godot3"


def require_runtime() -> Runtime:
    """The godot-python runtime, built on first use; skip (fail with CI=true) without it."""
    require_godot3()
    try:
        return find_runtime(build=True, log=sys.stderr)
    except RuntimeUnavailable as exc:
        message = f"real Godot 3 Python runtime unavailable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def assemble_project(
    root: Path,
    runtime: Runtime | None,
    *,
    name: str = "godot_dtls_checks",
    settings: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """A Godot 3 project at ``root``: godot-dtls installed as a user would, with the
    runtime when given (``None``: a project without Python, as on Android or HTML5)."""
    root.mkdir(parents=True, exist_ok=True)
    if runtime is not None:
        layout.install_runtime(root, runtime, link=True)
        layout.install_package(root, link=True)
    layout.install_addon(root, link=True)
    (root / "checks").symlink_to(CHECKS, target_is_directory=True)
    layout.write_project_file(
        root,
        name,
        python=runtime is not None,
        settings={key: dict(value) for key, value in (settings or {}).items()},
    )
    return root


@dataclass
class CheckRun:
    """What a check script printed: each CHECK line by name, whether it reached DONE."""

    output: list[str]
    returncode: int | None
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    done: bool = False

    @classmethod
    def parse(cls, stdout: list[str], stderr: list[str], returncode: int | None) -> CheckRun:
        """The CHECK and DONE lines of a finished run."""
        run = cls(output=stdout + [f"[stderr] {line}" for line in stderr], returncode=returncode)
        for line in stdout:
            if line == "DONE":
                run.done = True
            elif line.startswith("CHECK "):
                parts = line.split(" ", 3)
                if len(parts) >= 3:
                    run.checks[parts[1]] = (parts[2] == "PASS", parts[3] if len(parts) > 3 else "")
        return run

    def require(self, name: str) -> None:
        """Fail the test unless check ``name`` printed PASS."""
        tail = "\n".join(self.output[-40:])
        assert name in self.checks, f"check {name!r} never ran (aborted?)\n{tail}"
        passed, detail = self.checks[name]
        assert passed, f"{name}: {detail}\n{tail}"


def run_checks(
    project: Path, script: str, args: Mapping[str, object], timeout: float = 90.0
) -> CheckRun:
    """Run ``res://checks/<script>`` to its end (at most ``timeout`` seconds) and parse it."""
    process = GodotProcess(f"checks/{script}", args, project=project, stop_timeout=5.0)
    with process:
        try:
            returncode: int | None = process.wait(timeout)
        except GodotError:  # still running at the deadline: the checks tell what hung
            returncode = None
    return CheckRun.parse(process.stdout_lines, process.stderr_lines, returncode)
