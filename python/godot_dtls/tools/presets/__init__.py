"""``godot-dtls check-presets``: Android export presets must carry the INTERNET permission.

:mod:`.config_file` reads and writes Godot's ConfigFile text format (``project.godot``,
``export_presets.cfg``, ``plugin.cfg``) without losing a byte it does not change;
:mod:`.check` finds Android presets without ``permissions/internet`` and fixes them.
"""

from .check import (
    ANDROID_PLATFORM,
    DEFAULT_FILE_NAME,
    INTERNET_OPTION,
    AndroidPreset,
    PresetChange,
    PresetFinding,
    PresetReport,
    add_check_presets_command,
    check_presets,
    fix_presets,
    fix_presets_text,
    inspect_presets,
    inspect_presets_text,
    resolve_presets_path,
    run_check_presets,
)
from .config_file import load_config, parse_config

__all__ = [
    "ANDROID_PLATFORM",
    "DEFAULT_FILE_NAME",
    "INTERNET_OPTION",
    "AndroidPreset",
    "PresetChange",
    "PresetFinding",
    "PresetReport",
    "add_check_presets_command",
    "check_presets",
    "fix_presets",
    "fix_presets_text",
    "inspect_presets",
    "inspect_presets_text",
    "load_config",
    "parse_config",
    "resolve_presets_path",
    "run_check_presets",
]
