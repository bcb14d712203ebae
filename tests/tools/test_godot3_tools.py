"""``godot-dtls godot3``: the runtime build and its cache, installing into a Godot 3
project, and what happens without the runtime's sources."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from godot_dtls.tools.godot3 import runtime as runtime_module
from godot_dtls.tools.godot3.project import register_runtime
from godot_dtls.tools.godot3.runtime import RuntimeUnavailable, find_runtime
from support.godot3_runtime import CHECKS, require_runtime, run_checks
from support.godot_peer import free_udp_port

CLI_TIMEOUT = 300


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "godot_dtls", "godot3", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_a_built_runtime_is_found_again_without_building():
    built = require_runtime()
    started = time.monotonic()
    again = find_runtime(build=False)
    assert again == built
    assert time.monotonic() - started < 60  # a cache hit, not a second build
    assert (again.addon / "x11-64" / "libpythonscript.so").is_file()
    assert (again.site_packages / "OpenSSL").is_dir()


def test_the_cache_key_follows_the_sources_and_the_recipe():
    first = runtime_module._key(["archive-a"])
    assert first == runtime_module._key(["archive-a"])
    assert first != runtime_module._key(["archive-b"])


def test_godot_python_naming_a_built_runtime_is_used_as_it_is(monkeypatch: Any):
    built = require_runtime()
    monkeypatch.setenv("GODOT_PYTHON", str(built.root))
    assert find_runtime(build=False).root == built.root


def test_without_sources_the_message_says_how_to_provide_them(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("GODOT_PYTHON", raising=False)
    monkeypatch.setenv("GODOT_PYTHON_VENDOR", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(runtime_module, "vendor_folder", lambda checkout=None: None)
    with pytest.raises(RuntimeUnavailable) as raised:
        find_runtime(build=False)
    assert "GODOT_PYTHON" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_godot_python_naming_something_else_is_refused(tmp_path: Path, monkeypatch: Any):
    monkeypatch.setenv("GODOT_PYTHON", str(tmp_path))
    with pytest.raises(RuntimeUnavailable, match="neither a godot-python build nor its sources"):
        find_runtime(build=False)


def test_cli_runtime_fails_with_one_line_when_not_built(tmp_path: Path):
    done = cli("runtime", "--no-build", env={"GODOT_DTLS_CACHE": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_register_runtime_appends_once_and_refuses_other_singletons(tmp_path: Path):
    project = tmp_path / "project.godot"
    project.write_text('config_version=4\n\n[application]\n\nconfig/name="x"\n')
    assert register_runtime(tmp_path) is True
    assert register_runtime(tmp_path) is False
    assert project.read_text().count("pythonscript.gdnlib") == 1
    project.write_text('config_version=4\n\n[gdnative]\n\nsingletons=[ "res://other.gdnlib" ]\n')
    with pytest.raises(OSError, match="other GDNative singletons"):
        register_runtime(tmp_path)


@pytest.mark.interop
def test_cli_install_makes_a_project_that_runs_the_python_class(
    tmp_path: Path, pki: Any, other_pki: Any
) -> None:
    require_runtime()
    project = tmp_path / "game"
    project.mkdir()
    (project / "project.godot").write_text(
        'config_version=4\n\n[application]\n\nconfig/name="installed game"\n'
    )
    done = cli("install", str(project))
    assert done.returncode == 0, done.stderr
    for installed in ("addons/pythonscript", "lib/godot_dtls", "lib/OpenSSL"):
        assert (project / installed).exists() and not (project / installed).is_symlink()
    (project / "checks").symlink_to(CHECKS, target_is_directory=True)
    args = {
        "port": free_udp_port(),
        "key": pki.key_path,
        "cert": pki.cert_path,
        "ca": pki.ca_path,
        "other_ca": other_pki.ca_path,
    }
    run = run_checks(project, "python_client.gd", args)
    for check in ("adapter_loads", "handshake_connects", "echo_1200_bytes_exact_in_order"):
        run.require(check)


def test_cli_install_refuses_a_folder_without_project_godot(tmp_path: Path):
    done = cli("install", str(tmp_path))
    assert (
        done.returncode == 1 and "project.godot" in done.stderr and "Traceback" not in done.stderr
    )
