"""``godot-dtls check-presets``: find (and fix) Android presets without INTERNET.

An Android export whose preset leaves ``permissions/internet`` off gets a manifest
without ``android.permission.INTERNET``; Android then refuses to create sockets, so
``UDPServer.listen()`` / ``PacketPeerUDP.bind()`` fail with ``ERR_CANT_CREATE`` and
``connect_to_host()`` with ``ERR_CANT_OPEN``, and no DTLS peer ever connects. The
engine prints no export warning for it, and one-click deploy from the editor adds the
permission for remote debugging, so the project works from the editor and fails only
as an exported APK/AAB. This check runs in CI, before anyone holds a phone.

``--fix`` edits ``export_presets.cfg`` the way a careful person would: it changes the one
``permissions/internet`` line or adds one line (or one options section), and leaves
every other byte alone, line endings included, so the diff a reviewer sees is exactly
the fix. A file it cannot parse is never rewritten.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, TextIO, Union

from .config_file import (
    ConfigDocument,
    ConfigParseError,
    ConfigSection,
    decode_config_bytes,
    parse_config,
    split_lines,
)

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
    "resolve_presets_path",
    "run_check_presets",
]

PathLike = Union[str, Path]

ANDROID_PLATFORM = "Android"
INTERNET_OPTION = "permissions/internet"
DEFAULT_FILE_NAME = "export_presets.cfg"
FIX_HINT = (
    "Project > Export > {preset} > Permissions > Internet, "
    "or set permissions/internet=true in export_presets.cfg"
)
_PRESET_SECTION = re.compile(r"preset\.(\d+)")

#: What a finding says is wrong; ``kind`` values of :class:`PresetFinding`.
MISSING_OPTIONS = "no-options-section"
MISSING_OPTION = "missing"
DISABLED = "disabled"


@dataclass(frozen=True)
class AndroidPreset:
    """An Android preset: its index N (``[preset.N]``), name and where it is."""

    index: int
    name: str
    section: ConfigSection
    options: ConfigSection | None

    @property
    def label(self) -> str:
        """How messages name it: the user's preset name, then the section."""
        return f'"{self.name}" (preset.{self.index})'


@dataclass(frozen=True)
class PresetFinding:
    """One Android preset that would export without the INTERNET permission."""

    index: int
    name: str
    kind: str
    line: int
    detail: str

    @property
    def message(self) -> str:
        """The sentence the CLI prints after ``path:line:``."""
        return (
            f'Android preset "{self.name}" (preset.{self.index}) {self.detail}: the exported '
            f"app cannot open sockets (UDP bind/connect fail with ERR_CANT_CREATE / "
            f"ERR_CANT_OPEN). Fix: {FIX_HINT.format(preset=self.name)}"
        )


@dataclass(frozen=True)
class PresetChange:
    """One edit made by :func:`fix_presets`; ``line`` is in the fixed file."""

    index: int
    name: str
    line: int
    description: str


@dataclass(frozen=True)
class PresetReport:
    """The Android presets of a file and the ones that lack INTERNET."""

    android_presets: tuple[AndroidPreset, ...]
    findings: tuple[PresetFinding, ...]

    @property
    def ok(self) -> bool:
        """True when every Android preset allows INTERNET (or there is none)."""
        return not self.findings


def resolve_presets_path(path: PathLike | None = None) -> Path:
    """The file to check: ``PATH``, ``PATH/export_presets.cfg`` for a directory, or the
    cwd's ``export_presets.cfg`` when no path is given (where Godot keeps it)."""
    candidate = Path(DEFAULT_FILE_NAME if path is None else path)
    return candidate / DEFAULT_FILE_NAME if candidate.is_dir() else candidate


def _android_presets(document: ConfigDocument) -> list[AndroidPreset]:
    presets: list[AndroidPreset] = []
    for section in document.sections:
        match = _PRESET_SECTION.fullmatch(section.name)
        if match is None or document.section(section.name) is not section:
            continue  # not a preset header, or a repeat of one already seen
        index = int(match.group(1))
        platform = document.get_value(section.name, "platform")
        if platform != ANDROID_PLATFORM:
            continue
        name = document.get_value(section.name, "name")
        options = document.sections_named(f"preset.{index}.options")
        presets.append(
            AndroidPreset(
                index=index,
                name=name if isinstance(name, str) and name else f"preset.{index}",
                section=section,
                # the last one: where Godot's last-wins reading ends up, and where we add
                options=options[-1] if options else None,
            )
        )
    return presets


def _finding_for(document: ConfigDocument, preset: AndroidPreset) -> PresetFinding | None:
    if preset.options is None:
        return PresetFinding(
            preset.index,
            preset.name,
            MISSING_OPTIONS,
            preset.section.line,
            f"has no [preset.{preset.index}.options] section, so "
            f"{INTERNET_OPTION} defaults to false",
        )
    entry = document.find_entry(preset.options.name, INTERNET_OPTION)
    if entry is None:
        return PresetFinding(
            preset.index,
            preset.name,
            MISSING_OPTION,
            preset.options.line,
            f"does not set {INTERNET_OPTION}, which defaults to false",
        )
    if entry.value is True:
        return None
    return PresetFinding(
        preset.index, preset.name, DISABLED, entry.line, f"has {INTERNET_OPTION}={entry.raw_value}"
    )


def _report(document: ConfigDocument) -> PresetReport:
    presets = _android_presets(document)
    findings = [_finding_for(document, preset) for preset in presets]
    return PresetReport(tuple(presets), tuple(f for f in findings if f is not None))


def inspect_presets_text(text: str) -> PresetReport:
    """Check ConfigFile text; raises :class:`ConfigParseError` when it is malformed."""
    return _report(parse_config(text))


def _read_text(path: Path) -> str:
    try:
        return decode_config_bytes(path.read_bytes())
    except ConfigParseError as exc:
        raise exc.with_path(path) from None


def inspect_presets(path: PathLike | None = None) -> PresetReport:
    """Check a file (see :func:`resolve_presets_path`); ``OSError`` when unreadable,
    :class:`ConfigParseError` (naming the file and line) when malformed."""
    resolved = resolve_presets_path(path)
    text = _read_text(resolved)
    try:
        return inspect_presets_text(text)
    except ConfigParseError as exc:
        raise exc.with_path(resolved) from None


def check_presets(path: PathLike | None = None) -> list[PresetFinding]:
    """The Android presets of ``path`` that lack INTERNET (empty list: all good)."""
    return list(inspect_presets(path).findings)


def _newline_of(lines: Sequence[str], index: int) -> str:
    """The line ending to give a new line: its neighbour's, else the file's first one."""
    if 0 <= index < len(lines) and lines[index].endswith("\n"):
        return "\r\n" if lines[index].endswith("\r\n") else "\n"
    for line in lines:
        if line.endswith("\n"):
            return "\r\n" if line.endswith("\r\n") else "\n"
    return "\n"


@dataclass(frozen=True)
class _Splice:
    """Replace ``text[start:end]`` with ``replacement`` (an insertion when start == end)."""

    start: int
    end: int
    replacement: str
    finding: PresetFinding
    description: str


def _insert_after_line(
    lines: Sequence[str],
    index: int,
    new_lines: Sequence[str],
    finding: PresetFinding,
    description: str,
) -> _Splice:
    """Insert whole lines after line ``index`` (0-based; -1 inserts at the top)."""
    offset = sum(len(line) for line in lines[: index + 1])
    ending = _newline_of(lines, index)
    if index >= 0 and not lines[index].endswith("\n"):
        # the file ends right here without a newline: end that line and leave the new
        # last line unterminated, as the old last line was
        return _Splice(offset, offset, ending + ending.join(new_lines), finding, description)
    text = "".join(line + ending for line in new_lines)
    return _Splice(offset, offset, text, finding, description)


def _plan(
    document: ConfigDocument, lines: list[str], finding: PresetFinding, preset: AndroidPreset
) -> _Splice:
    """The smallest edit that makes ``preset`` allow INTERNET."""
    if finding.kind == DISABLED:
        assert preset.options is not None
        entry = document.find_entry(preset.options.name, INTERNET_OPTION)
        assert entry is not None
        # only the value changes: the key, spacing, a trailing comment and the line
        # ending stay as they were
        return _Splice(
            entry.value_start,
            entry.value_end,
            "true",
            finding,
            f"changed {INTERNET_OPTION}={entry.raw_value} to {INTERNET_OPTION}=true",
        )
    if finding.kind == MISSING_OPTION:
        assert preset.options is not None
        after = preset.options.last_line - 1
        if not preset.options.entries and after + 1 < len(lines) and not lines[after + 1].strip():
            after += 1  # keep Godot's blank line between a header and its first key
        return _insert_after_line(
            lines, after, [f"{INTERNET_OPTION}=true"], finding, f"added {INTERNET_OPTION}=true"
        )
    new_lines = ["", f"[preset.{preset.index}.options]", "", f"{INTERNET_OPTION}=true"]
    return _insert_after_line(
        lines,
        preset.section.last_line - 1,
        new_lines,
        finding,
        f"added [preset.{preset.index}.options] with {INTERNET_OPTION}=true",
    )


def fix_presets_text(text: str) -> tuple[str, list[PresetChange]]:
    """The text with INTERNET turned on in every Android preset, and what changed.

    Raises :class:`ConfigParseError` for malformed text (nothing is changed then).
    """
    document = parse_config(text)
    report = _report(document)
    if report.ok:
        return text, []
    presets = {preset.index: preset for preset in report.android_presets}
    lines = split_lines(text)
    splices = [_plan(document, lines, f, presets[f.index]) for f in report.findings]
    fixed = text
    # apply bottom-up so earlier edits do not move the offsets of later ones
    for splice in sorted(splices, key=lambda item: item.start, reverse=True):
        fixed = fixed[: splice.start] + splice.replacement + fixed[splice.end :]
    remaining = inspect_presets_text(fixed)
    if not remaining.ok:  # pragma: no cover - a bug in the edit plan: never write it
        raise RuntimeError(f"check-presets --fix left problems: {remaining.findings}")
    return fixed, _describe_changes(fixed, splices)


def _describe_changes(fixed: str, splices: Sequence[_Splice]) -> list[PresetChange]:
    """Report each change at the line where ``permissions/internet`` now is."""
    document = parse_config(fixed)
    changes: list[PresetChange] = []
    for splice in splices:
        finding = splice.finding
        entry = document.find_entry(f"preset.{finding.index}.options", INTERNET_OPTION)
        line = entry.line if entry is not None else finding.line
        changes.append(PresetChange(finding.index, finding.name, line, splice.description))
    return sorted(changes, key=lambda change: change.line)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so an interrupted fix never leaves half a file."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(OSError):  # keep the file's mode where we may
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def fix_presets(path: PathLike | None = None) -> list[PresetChange]:
    """Turn INTERNET on in every Android preset of the file, in place.

    Returns the changes (empty: nothing to do, file untouched). A malformed file raises
    :class:`ConfigParseError` and is not written.
    """
    resolved = resolve_presets_path(path)
    text = _read_text(resolved)
    try:
        fixed, changes = fix_presets_text(text)
    except ConfigParseError as exc:
        raise exc.with_path(resolved) from None
    if changes:
        _write_atomically(resolved, fixed.encode("utf-8"))
    return changes


def _ok_line(report: PresetReport) -> str:
    count = len(report.android_presets)
    if count == 0:
        return "OK: 0 Android preset(s) allow INTERNET (no Android preset to check)"
    return f"OK: {count} Android preset(s) allow INTERNET"


def run_check_presets(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The ``check-presets`` command: 0 all good (or fixed), 1 problems, 2 unreadable."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    path = resolve_presets_path(args.path)
    try:
        report = inspect_presets(path)
    except ConfigParseError as exc:
        print(f"{exc}; file left untouched" if args.fix else str(exc), file=err)
        return 2
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=err)
        return 2
    if args.fix and not report.ok:
        try:
            changes = fix_presets(path)
        except OSError as exc:
            print(f"{path}: cannot write: {exc.strerror or exc}; file left untouched", file=err)
            return 2
        for change in changes:
            print(
                f'{path}:{change.line}: preset "{change.name}" (preset.{change.index}): '
                f"{change.description}",
                file=out,
            )
        print(
            f"fixed {len(changes)} Android preset(s); {_ok_line(inspect_presets(path))}", file=out
        )
        return 0
    if report.ok:
        print(_ok_line(report), file=out)
        return 0
    for finding in report.findings:
        print(f"{path}:{finding.line}: {finding.message}", file=out)
    print(
        f"{len(report.findings)} of {len(report.android_presets)} Android preset(s) lack "
        f"INTERNET; run 'godot-dtls check-presets --fix' to turn it on",
        file=out,
    )
    return 1


def _handle(args: argparse.Namespace) -> int:
    return run_check_presets(args)


def add_check_presets_command(commands: Any) -> argparse.ArgumentParser:
    """Register ``check-presets [--fix] [PATH]`` on the CLI's subparsers object."""
    parser = commands.add_parser(
        "check-presets",
        help="check that Android export presets allow INTERNET (sockets need it)",
        description="Check export_presets.cfg: every Android preset must set "
        "permissions/internet=true, or the exported app cannot open UDP sockets. "
        "Exit 0 all good, 1 a preset lacks it, 2 the file is missing or malformed.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="PATH",
        help="export_presets.cfg, or the project directory holding it (default: ./)",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="turn permissions/internet on, changing only those lines",
    )
    parser.set_defaults(handler=_handle)
    return parser
