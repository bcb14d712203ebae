"""A desktop (Linux x86-64) export of a Godot 3 game that runs godot-dtls in Python.

godot-python 0.50 does not export itself. In an exported game ``res://`` is the pack, and
``ProjectSettings.globalize_path("res://")`` is the empty string, so everything the runtime
opens from disk is found relative to the *working directory*: the GDNative library
``addons/pythonscript/x11-64/libpythonscript.so`` (and the embedded CPython beside it),
and the ``res://`` and ``res://lib`` entries of ``sys.path``, from which Python imports
``.py`` files (it never reads them from the pack). A game folder therefore holds, at the
same relative paths as in the project:

- the pack (``game.pck``, from ``--export-pack``) and the engine binary that runs it
  (the Linux export template in a real release; the headless engine here);
- ``addons/pythonscript/x11-64/`` (minus the static libpython and build config);
- ``addons/godot_dtls/python/`` (the exposed Python classes) and ``lib/`` (pyOpenSSL,
  cryptography, cffi, certifi, godot_dtls);
- a launcher that changes to the game folder before starting the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPORT_PRESET", "ExportError", "ExportedGame", "export_game", "preset_text"]

#: The Godot 3 desktop preset name (and platform) the pack is exported with.
EXPORT_PRESET = "Linux/X11"
#: Longest an --export-pack may take.
EXPORT_TIMEOUT = 300.0

_LAUNCHER = """#!/bin/sh
# godot-python opens its library and imports Python files relative to the working
# directory: run the game from its own folder, wherever it is started from.
cd "$(dirname "$(readlink -f "$0")")" || exit 1
exec ./{binary} --main-pack {pack} "$@"
"""


class ExportError(RuntimeError):
    """The export could not be made; the message says which step failed."""


@dataclass(frozen=True)
class ExportedGame:
    folder: Path
    launcher: Path
    pack: Path


def preset_text(name: str = EXPORT_PRESET) -> str:
    """An ``export_presets.cfg`` preset (Godot 3 format) for a desktop pack: every
    resource, nothing from ``lib/`` (Python imports it from disk, never from a pack)."""
    return f"""[preset.0]

name="{name}"
platform="{EXPORT_PRESET}"
runnable=true
custom_features=""
export_filter="all_resources"
include_filter=""
exclude_filter="lib/*"
export_path="game.pck"
patch_list=PoolStringArray(  )
script_export_mode=1
script_encryption_key=""

[preset.0.options]

texture_format/bptc=false
texture_format/s3tc=true
texture_format/etc=false
texture_format/etc2=false
texture_format/no_bptc_fallbacks=true
binary_format/64_bits=true
binary_format/embed_pck=false
custom_template/release=""
custom_template/debug=""
"""


def _copy_tree(source: Path, target: Path) -> None:
    """A real copy (links followed) without Python caches."""
    shutil.copytree(
        source,
        target,
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )


def export_game(
    project: Path,
    out: Path,
    godot_binary: str,
    *,
    preset: str = EXPORT_PRESET,
    runner: Path | None = None,
    pack_name: str = "game.pck",
) -> ExportedGame:
    """Export ``project`` with ``preset`` and lay the game out in ``out`` (made anew).

    ``runner`` is the binary that plays the pack (the Linux export template); without one
    the ``godot_binary`` used for the export is copied, which runs packs too.
    """
    project, out = project.resolve(), out.resolve()
    if out == project or project in out.parents:
        raise ExportError(f"{out} is inside the project: the next export would pack it")
    if not (project / "export_presets.cfg").is_file():
        raise ExportError(f"{project} has no export_presets.cfg (add a {preset!r} preset)")
    runtime = project / "addons" / "pythonscript" / "x11-64"
    if not runtime.is_dir():
        raise ExportError(f"{runtime} is missing: the project has no Linux godot-python")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pack = out / pack_name
    try:
        done = subprocess.run(
            [godot_binary, "--path", str(project), "--export-pack", preset, str(pack)],
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT,
            check=False,
            env={**os.environ, "LANG": os.environ.get("LANG", "en_US.UTF-8")},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"--export-pack failed: {exc}") from None
    if not pack.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise ExportError(f"--export-pack wrote no {pack.name}: " + " | ".join(tail))
    binary = Path(runner or godot_binary)
    shutil.copy2(binary, out / binary.name)
    _copy_tree(runtime, out / "addons" / "pythonscript" / "x11-64")
    for config in (out / "addons" / "pythonscript" / "x11-64" / "lib").glob("python3.*/config-3.*"):
        shutil.rmtree(config)  # the static libpython and its build files: not run
    adapters = Path("addons") / "godot_dtls" / "python"
    _copy_tree(project / adapters, out / adapters)
    if (project / "lib").is_dir():
        _copy_tree(project / "lib", out / "lib")
    launcher = out / "run.sh"
    launcher.write_text(_LAUNCHER.format(binary=binary.name, pack=pack_name), encoding="utf-8")
    launcher.chmod(0o755)
    return ExportedGame(folder=out, launcher=launcher, pack=pack)
