"""``godot-dtls check-presets``: Android presets must grant INTERNET, ``--fix`` edits minimally.

Without ``permissions/internet`` an exported Android app cannot open sockets, so every
test here is about telling that case apart from a good file, naming the preset and line,
and fixing it with the smallest possible diff (a reviewer must see exactly the fix).
"""

from __future__ import annotations

import difflib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from godot_dtls.tools import cli
from godot_dtls.tools.presets.check import (
    DISABLED,
    MISSING_OPTION,
    MISSING_OPTIONS,
    check_presets,
    fix_presets,
    fix_presets_text,
    inspect_presets,
    resolve_presets_path,
)

REPO = Path(__file__).resolve().parents[2]


def preset(index: int, name: str, platform: str, options: list[str] | None) -> str:
    """One preset as Godot writes it; ``options=None`` leaves out the options section."""
    text = (
        f'[preset.{index}]\n\nname="{name}"\nplatform="{platform}"\nrunnable=true\n'
        f'dedicated_server=false\ncustom_features=""\nexport_filter="all_resources"\n'
        f'include_filter=""\nexclude_filter=""\nexport_path=""\nscript_export_mode=2\n'
    )
    if options is not None:
        text += f"\n[preset.{index}.options]\n\n" + "".join(line + "\n" for line in options)
    return text


ANDROID_OK = [
    'package/unique_name="com.example.game"',
    "architectures/arm64-v8a=true",
    "permissions/internet=true",
]
ANDROID_MISSING = ['package/unique_name="com.example.game"', "architectures/arm64-v8a=true"]
ANDROID_FALSE = [
    'package/unique_name="com.example.game"',
    "permissions/internet=false",
    "architectures/arm64-v8a=true",
]
LINUX = ['binary_format/architecture="x86_64"']


def presets_file(*sections: str) -> str:
    return "\n".join(sections)


def write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "export_presets.cfg"
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["check-presets", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines of a line diff, endings included."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(True), after.splitlines(True)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line equal to ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line == needle:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found")


# -- checking -------------------------------------------------------------------------


def test_good_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        presets_file(
            preset(0, "Linux", "Linux", LINUX), preset(1, "Android", "Android", ANDROID_OK)
        ),
    )
    assert check_presets(path) == []
    code, out, err = run([str(path)], capsys)
    assert (code, out.strip(), err) == (0, "OK: 1 Android preset(s) allow INTERNET", "")


def test_file_without_android_presets_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, preset(0, "Linux", "Linux", LINUX))
    code, out, _ = run([str(path)], capsys)
    assert code == 0
    assert out.startswith("OK: 0 Android preset(s) allow INTERNET")


def test_missing_permission_names_the_preset_and_the_options_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = presets_file(preset(0, "Phone", "Android", ANDROID_MISSING))
    path = write(tmp_path, text)
    [finding] = check_presets(path)
    assert (finding.index, finding.name, finding.kind) == (0, "Phone", MISSING_OPTION)
    assert finding.line == line_of(text, "[preset.0.options]")
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert f'{path}:{finding.line}: Android preset "Phone" (preset.0)' in out
    assert "Project > Export > Phone > Permissions > Internet" in out
    assert "permissions/internet=true in export_presets.cfg" in out


def test_permission_false_points_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = presets_file(
        preset(0, "Linux", "Linux", LINUX), preset(1, "Android", "Android", ANDROID_FALSE)
    )
    path = write(tmp_path, text)
    [finding] = check_presets(path)
    assert finding.kind == DISABLED
    assert finding.line == line_of(text, "permissions/internet=false")
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert f"{path}:{finding.line}: " in out
    assert "permissions/internet=false" in out


def test_a_string_true_is_not_a_bool_true(tmp_path: Path) -> None:
    options = ['package/unique_name="com.example.game"', 'permissions/internet="true"']
    path = write(tmp_path, preset(0, "Android", "Android", options))
    [finding] = check_presets(path)
    assert finding.kind == DISABLED


def test_missing_options_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = presets_file(preset(0, "Android", "Android", None), preset(1, "Linux", "Linux", LINUX))
    path = write(tmp_path, text)
    [finding] = check_presets(path)
    assert finding.kind == MISSING_OPTIONS
    assert finding.line == line_of(text, "[preset.0]")
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert "has no [preset.0.options] section" in out


def test_several_android_presets_each_bad_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = presets_file(
        preset(0, "Android release", "Android", ANDROID_OK),
        preset(1, "Linux", "Linux", LINUX),
        preset(2, "Android debug", "Android", ANDROID_FALSE),
        preset(3, "Android TV", "Android", ANDROID_MISSING),
    )
    path = write(tmp_path, text)
    report = inspect_presets(path)
    assert [p.name for p in report.android_presets] == [
        "Android release",
        "Android debug",
        "Android TV",
    ]
    assert [(f.index, f.name) for f in report.findings] == [(2, "Android debug"), (3, "Android TV")]
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert '"Android debug" (preset.2)' in out
    assert '"Android TV" (preset.3)' in out
    assert "Android release" not in out
    assert "2 of 3 Android preset(s) lack INTERNET" in out


def test_path_may_be_a_directory_or_default_to_the_cwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, preset(0, "Android", "Android", ANDROID_OK))
    assert resolve_presets_path(tmp_path) == tmp_path / "export_presets.cfg"
    assert run([str(tmp_path)], capsys)[0] == 0
    monkeypatch.chdir(tmp_path)
    assert run([], capsys)[0] == 0


# -- --fix ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "removed", "added"),
    [
        (ANDROID_FALSE, ["permissions/internet=false\n"], ["permissions/internet=true\n"]),
        (ANDROID_MISSING, [], ["permissions/internet=true\n"]),
        ([], [], ["permissions/internet=true\n"]),
    ],
    ids=["false", "missing", "empty-options-section"],
)
def test_fix_changes_exactly_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    removed: list[str],
    added: list[str],
) -> None:
    text = presets_file(
        preset(0, "Linux", "Linux", LINUX),
        preset(1, "Android", "Android", options),
        preset(2, "Windows", "Windows Desktop", LINUX),
    )
    path = write(tmp_path, text)
    code, out, err = run(["--fix", str(path)], capsys)
    assert (code, err) == (0, "")
    fixed = path.read_text(encoding="utf-8")
    assert changed_lines(text, fixed) == (removed, added)
    assert f'{path}:{line_of(fixed, "permissions/internet=true")}: preset "Android"' in out
    assert "OK: 1 Android preset(s) allow INTERNET" in out
    assert check_presets(path) == []


def test_fix_inserts_at_the_end_of_the_options_section(tmp_path: Path) -> None:
    text = presets_file(
        preset(0, "Android", "Android", ANDROID_MISSING), preset(1, "Linux", "Linux", LINUX)
    )
    path = write(tmp_path, text)
    fix_presets(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index("permissions/internet=true")
    assert lines[at - 1] == "architectures/arm64-v8a=true"  # the last option before it
    assert lines[at + 1 : at + 3] == ["", "[preset.1]"]  # Godot's blank line kept


def test_fix_adds_a_missing_options_section(tmp_path: Path) -> None:
    text = presets_file(preset(0, "Android", "Android", None), preset(1, "Linux", "Linux", LINUX))
    path = write(tmp_path, text)
    [change] = fix_presets(path)
    fixed = path.read_text(encoding="utf-8")
    removed, added = changed_lines(text, fixed)
    assert removed == []
    assert added == ["\n", "[preset.0.options]\n", "\n", "permissions/internet=true\n"]
    assert change.line == line_of(fixed, "permissions/internet=true")
    assert "[preset.0.options]" in change.description
    assert check_presets(path) == []


def test_fix_handles_several_presets_in_one_pass(tmp_path: Path) -> None:
    text = presets_file(
        preset(0, "A", "Android", ANDROID_FALSE),
        preset(1, "B", "Android", ANDROID_MISSING),
        preset(2, "C", "Android", None),
        preset(3, "D", "Android", ANDROID_OK),
    )
    path = write(tmp_path, text)
    changes = fix_presets(path)
    assert sorted(c.name for c in changes) == ["A", "B", "C"]
    fixed = path.read_text(encoding="utf-8")
    removed, added = changed_lines(text, fixed)
    assert removed == ["permissions/internet=false\n"]
    assert added.count("permissions/internet=true\n") == 3
    assert check_presets(path) == []
    assert fix_presets(path) == []  # idempotent: nothing left to do


def test_fix_keeps_crlf_line_endings(tmp_path: Path) -> None:
    text = presets_file(
        preset(0, "Linux", "Linux", LINUX),
        preset(1, "Android", "Android", ANDROID_MISSING),
        preset(2, "Old", "Android", ANDROID_FALSE),
    )
    path = write(tmp_path, text, newline="\r\n")
    before = path.read_bytes()
    fix_presets(path)
    after = path.read_bytes()
    assert after.count(b"\n") == before.count(b"\n") + 1
    assert after.count(b"\r\n") == after.count(b"\n")  # no bare LF crept in
    removed, added = changed_lines(before.decode(), after.decode())
    assert removed == ["permissions/internet=false\r\n"]
    assert added == ["permissions/internet=true\r\n", "permissions/internet=true\r\n"]


def test_fix_keeps_a_comment_spacing_and_a_missing_final_newline(tmp_path: Path) -> None:
    text = (
        '[preset.0]\n\nname="Android"\nplatform="Android"\n\n[preset.0.options]\n\n'
        'package/unique_name="a.b"\npermissions/internet = false ; set by CI'
    )
    path = write(tmp_path, text)
    fix_presets(path)
    assert path.read_text(encoding="utf-8") == text.replace("= false", "= true")
    text = '[preset.0]\n\nname="Android"\nplatform="Android"\n\n[preset.0.options]\n\na=1'
    path.write_text(text, encoding="utf-8")
    fix_presets(path)
    assert path.read_text(encoding="utf-8") == text + "\npermissions/internet=true"


def test_fix_keeps_every_other_byte_of_a_file_with_a_bom_and_unicode(tmp_path: Path) -> None:
    text = "\ufeff" + presets_file(preset(0, "Андроид ✓", "Android", ANDROID_MISSING))
    path = tmp_path / "export_presets.cfg"
    path.write_bytes(text.encode("utf-8"))
    [change] = fix_presets(path)
    assert change.name == "Андроид ✓"
    fixed = path.read_bytes().decode("utf-8")
    assert fixed.startswith("\ufeff")
    assert changed_lines(text, fixed) == ([], ["permissions/internet=true\n"])


def test_fix_on_a_good_file_does_not_touch_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, preset(0, "Android", "Android", ANDROID_OK))
    os.utime(path, (1_000_000_000, 1_000_000_000))
    code, out, _ = run(["--fix", str(path)], capsys)
    assert (code, out.strip()) == (0, "OK: 1 Android preset(s) allow INTERNET")
    assert path.stat().st_mtime == 1_000_000_000


def test_fix_presets_text_reports_lines_in_the_fixed_text() -> None:
    text = presets_file(preset(0, "A", "Android", None), preset(1, "B", "Android", ANDROID_FALSE))
    fixed, changes = fix_presets_text(text)
    for change in changes:
        assert fixed.splitlines()[change.line - 1] == "permissions/internet=true"


# -- malformed or missing files -------------------------------------------------------


@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
@pytest.mark.parametrize(
    ("broken_line", "message"),
    [
        ('name="Android', "closing quote is probably missing"),
        ("permissions/internet", "expected 'key=value'"),
        ("[preset.0.options", "not closed"),
        ('custom_features="\\q"', "invalid escape"),
        ('options={"a": 1', "never closed"),
    ],
    ids=["unterminated-string", "no-equals", "open-header", "bad-escape", "open-dict"],
)
def test_malformed_file_exits_2_with_the_line_and_is_left_untouched(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    broken_line: str,
    message: str,
    fix: bool,
) -> None:
    lines = preset(0, "Android", "Android", ANDROID_FALSE).splitlines()
    lines.insert(5, broken_line)  # line 6
    text = "\n".join(lines) + "\n"
    path = write(tmp_path, text)
    before = path.read_bytes()
    code, out, err = run((["--fix"] if fix else []) + [str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(f"{path}:6: ")
    assert message in err
    assert path.read_bytes() == before


def test_invalid_utf8_is_malformed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export_presets.cfg"
    path.write_bytes(b'[preset.0]\n\nname="\xff"\n')
    code, _, err = run([str(path)], capsys)
    assert code == 2
    assert err.startswith(f"{path}:3: not valid UTF-8")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(tmp_path / "nope.cfg")], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'nope.cfg'}: cannot read")
    code, _, err = run([str(tmp_path)], capsys)  # a directory without the file
    assert code == 2
    assert "export_presets.cfg: cannot read" in err


# -- the repository's own presets and the real command --------------------------------


def test_the_repository_export_presets_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(REPO / "export_presets.cfg")], capsys)
    assert (code, out.strip()) == (0, "OK: 1 Android preset(s) allow INTERNET")


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    bad = write(tmp_path, preset(0, "Android", "Android", ANDROID_MISSING))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")]),
    )
    result = subprocess.run(
        [sys.executable, "-m", "godot_dtls", "check-presets", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert '"Android" (preset.0)' in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "godot_dtls", "check-presets"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(REPO),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK: 1 Android preset(s) allow INTERNET"


def test_run_check_presets_can_write_elsewhere(tmp_path: Path) -> None:
    """The handler takes its streams as arguments, so other tools can embed it."""
    from argparse import Namespace

    from godot_dtls.tools.presets import run_check_presets

    path = write(tmp_path, preset(0, "Android", "Android", ANDROID_OK))
    out, err = io.StringIO(), io.StringIO()
    assert run_check_presets(Namespace(path=str(path), fix=False), out, err) == 0
    assert out.getvalue().startswith("OK:")
