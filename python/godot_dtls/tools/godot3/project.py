"""A Godot 3 project that runs godot-dtls through godot-python: what goes where.

The layout, relative to the project folder (``res://``):

- ``pythonscript.gdnlib`` and ``addons/pythonscript/`` — the godot-python runtime, listed
  in ``project.godot`` as a GDNative singleton;
- ``lib/`` — what the embedded interpreter imports (godot-python puts ``res://lib`` on
  ``sys.path``): pyOpenSSL, cryptography, cffi, certifi and the ``godot_dtls`` package;
  marked ``.gdignore`` (the editor never needs to scan it, and an export must not pack it:
  Python imports only from files on disk);
- ``addons/godot_dtls/`` — the Godot 3 facades (``PythonPacketPeerDTLS``,
  ``PythonDTLSServer``) and ``python/godot_python/``, the exposed Python classes.

The repository keeps the Godot 3 facades in ``addons/godot_dtls/godot3/`` (a ``.gdignore``
hides them from the Godot 4 project they sit in); installing copies them up one level.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from godot_dtls.tools.presets.config_file import parse_config

from .runtime import Runtime

__all__ = [
    "REPOSITORY",
    "install_addon",
    "install_package",
    "install_runtime",
    "register_runtime",
    "write_project_file",
]

#: The checkout this package was imported from (the addon files live outside the package).
REPOSITORY = Path(__file__).resolve().parents[4]
_ADDON_SOURCE = REPOSITORY / "addons" / "godot_dtls"
_PACKAGE_SOURCE = Path(__file__).resolve().parents[2]


def _place(source: Path, target: Path, link: bool) -> None:
    """Copy ``source`` to ``target`` (a symlink when ``link``), replacing what was there."""
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        target.symlink_to(source, target_is_directory=source.is_dir())
    elif source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, target)


def install_addon(project: Path, link: bool = False) -> Path:
    """The Godot 3 facades and the godot-python adapter into ``project/addons/godot_dtls``."""
    if not (_ADDON_SOURCE / "godot3").is_dir():
        raise FileNotFoundError(
            f"{_ADDON_SOURCE}/godot3 is missing: a repository checkout is needed"
        )
    addon = project / "addons" / "godot_dtls"
    addon.mkdir(parents=True, exist_ok=True)
    for script in sorted((_ADDON_SOURCE / "godot3").glob("*.gd")):
        _place(script, addon / script.name, link)
    _place(_ADDON_SOURCE / "LICENSE", addon / "LICENSE", link)
    _place(
        _ADDON_SOURCE / "python" / "godot_python",
        addon / "python" / "godot_python",
        link,
    )
    return addon


def install_package(project: Path, link: bool = False) -> Path:
    """This ``godot_dtls`` package into ``project/lib``."""
    lib = project / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / ".gdignore").touch()
    target = lib / "godot_dtls"
    _place(_PACKAGE_SOURCE, target, link)
    return target


def install_runtime(project: Path, runtime: Runtime, link: bool = False) -> None:
    """godot-python itself and the packages its interpreter needs."""
    _place(runtime.gdnlib, project / "pythonscript.gdnlib", link=False)
    _place(runtime.addon, project / "addons" / "pythonscript", link)
    lib = project / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / ".gdignore").touch()
    for entry in sorted(runtime.site_packages.iterdir()):
        if entry.name.startswith(".") or entry.name in ("bin", "__pycache__"):
            continue
        _place(entry, lib / entry.name, link)


def script_classes(project: Path) -> list[tuple[str, str, str]]:
    """(class_name, base, res:// path) of every GDScript under ``project/addons``.

    Godot 3 knows a ``class_name`` only from ``project.godot``'s ``_global_script_classes``,
    which the editor writes when it scans the project; a project run without ever being
    opened in the editor (a headless server, a test) needs the list written for it.
    """
    found = []
    for script in sorted((project / "addons").rglob("*.gd")):
        name = base = ""
        for line in script.read_text(encoding="utf-8").splitlines()[:40]:
            words = line.split()
            if len(words) >= 2 and words[0] == "class_name":
                name = words[1]
            elif len(words) >= 2 and words[0] == "extends":
                base = words[1]
        if name:
            found.append((name, base or "Reference", relative_to_project(project, script)))
    return found


def _class_list(classes: list[tuple[str, str, str]]) -> dict[str, str]:
    entries = ", ".join(
        f'{{\n"base": "{base}",\n"class": "{name}",\n"language": "GDScript",\n"path": "{path}"\n}}'
        for name, base, path in classes
    )
    icons = ",\n".join(f'"{name}": ""' for name, _base, _path in classes)
    return {
        "_global_script_classes": f"[ {entries} ]",
        "_global_script_class_icons": f"{{\n{icons}\n}}",
    }


def write_project_file(
    project: Path,
    name: str,
    *,
    python: bool = True,
    main_scene: str = "",
    settings: dict[str, dict[str, str]] | None = None,
) -> Path:
    """``project.godot`` (Godot 3 format) with the pythonscript singleton when ``python``
    and the ``class_name`` list of the installed scripts (see :func:`script_classes`).

    ``settings`` adds sections: ``{"section": {"key": "value as written in the file"}}``.
    File logging is off: on a machine's first run for a project Godot cannot create the
    user-data log folder and prints a harmless but alarming error.
    """
    sections: dict[str, dict[str, str]] = {
        "application": {"config/name": f'"{name}"'},
        "logging": {"file_logging/enable_file_logging.pc": "false"},
    }
    if main_scene:
        sections["application"]["run/main_scene"] = f'"{main_scene}"'
    if python:
        sections["gdnative"] = {"singletons": f'[ "{GDNLIB_PATH}" ]'}
    for section, values in (settings or {}).items():
        sections.setdefault(section, {}).update(values)
    lines = ["config_version=4", ""]
    classes = script_classes(project)
    if classes:
        lines += [f"{key}={value}" for key, value in _class_list(classes).items()] + [""]
    for section, values in sections.items():
        lines += [f"[{section}]", ""] + [f"{key}={value}" for key, value in values.items()] + [""]
    path = project / "project.godot"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


GDNLIB_PATH = "res://pythonscript.gdnlib"


def register_runtime(project: Path) -> bool:
    """List godot-python as a GDNative singleton in an existing ``project.godot``.

    Returns False when it already was. The file is only appended to (a new ``[gdnative]``
    section): a project that lists other singletons already is refused with a message
    rather than rewritten, since Godot's config format cannot be merged by appending.
    """
    path = project / "project.godot"
    text = path.read_text(encoding="utf-8")
    document = parse_config(text)
    singletons = document.get_value("gdnative", "singletons")
    if singletons is not None:
        if GDNLIB_PATH in list(singletons):
            return False
        raise OSError(
            f'{path} lists other GDNative singletons: add "{GDNLIB_PATH}" to '
            "Project Settings > GDNative > Singletons"
        )
    separator = "" if text.endswith("\n") else "\n"
    path.write_text(
        f'{text}{separator}\n[gdnative]\n\nsingletons=[ "{GDNLIB_PATH}" ]\n', encoding="utf-8"
    )
    return True


def relative_to_project(project: Path, path: Path) -> str:
    """``res://`` path of a file inside ``project``."""
    return "res://" + os.path.relpath(path, project).replace(os.sep, "/")
