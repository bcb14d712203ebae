"""``godot-dtls godot3``: godot-dtls in a Godot 3 project, through godot-python 0.50.

- ``godot-dtls godot3 runtime`` builds (once, then from the cache) godot-python and the
  packages its interpreter needs, and prints where they are;
- ``godot-dtls godot3 install PROJECT`` puts the runtime, the Python packages, this package
  and the Godot 3 facades into a Godot 3 project;
- ``godot-dtls godot3 export PROJECT OUT`` exports a Linux desktop game folder that runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from . import project as layout
from .export import EXPORT_PRESET, ExportError, export_game
from .runtime import GODOT_BINARY, RuntimeUnavailable, find_runtime

__all__ = ["add_godot3_parser"]


def _fail(message: str) -> int:
    print(f"godot-dtls godot3: {message}", file=sys.stderr)
    return 1


def _cmd_runtime(args: argparse.Namespace) -> int:
    try:
        runtime = find_runtime(build=not args.no_build, log=sys.stderr)
    except RuntimeUnavailable as exc:
        return _fail(str(exc))
    print(f"runtime: {runtime.root}")
    print(f"packages: {runtime.site_packages} (for the embedded Python {runtime.python_version})")
    return 0


def _cmd_install(args: argparse.Namespace) -> int:
    project = Path(args.project)
    if not (project / "project.godot").is_file():
        return _fail(f"{project} has no project.godot (a Godot 3 project folder is expected)")
    try:
        runtime = find_runtime(build=True, log=sys.stderr)
    except RuntimeUnavailable as exc:
        return _fail(str(exc))
    try:
        layout.install_runtime(project, runtime)
        layout.install_package(project)
        addon = layout.install_addon(project)
        layout.register_runtime(project)
    except OSError as exc:
        return _fail(f"cannot install into {project}: {exc}")
    print(f"installed godot-python {runtime.root.name}, pyOpenSSL and godot_dtls into {project}")
    print(f"facades: {layout.relative_to_project(project, addon)}/python_packet_peer_dtls.gd")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    binary = shutil.which(GODOT_BINARY)
    if binary is None:
        return _fail(f"{GODOT_BINARY} is not installed")
    try:
        game = export_game(Path(args.project), Path(args.out), binary, preset=args.preset)
    except ExportError as exc:
        return _fail(str(exc))
    print(f"game folder: {game.folder}")
    print(f"start it with: {game.launcher}")
    return 0


def add_godot3_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``godot3`` subcommand to the ``godot-dtls`` subparsers ``commands``."""
    godot3 = commands.add_parser("godot3", help="use godot-dtls from a Godot 3 project")
    actions = godot3.add_subparsers(dest="godot3_command", required=True)
    runtime = actions.add_parser("runtime", help="build or find godot-python 0.50")
    runtime.add_argument("--no-build", action="store_true", help="only look in the cache")
    runtime.set_defaults(handler=_cmd_runtime)
    install = actions.add_parser("install", help="install godot-dtls into a Godot 3 project")
    install.add_argument("project", help="the Godot 3 project folder (holds project.godot)")
    install.set_defaults(handler=_cmd_install)
    export = actions.add_parser("export", help="export a Linux desktop game folder")
    export.add_argument("project", help="the Godot 3 project folder")
    export.add_argument("out", help="the game folder to make (outside the project)")
    export.add_argument("--preset", default=EXPORT_PRESET, help="export preset name")
    export.set_defaults(handler=_cmd_export)
    return godot3
