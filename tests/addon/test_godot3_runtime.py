"""The Python classes inside a real Godot 3.2.3 with the real godot-python 0.50 runtime.

Every check runs as GDScript (``tests/addon/godot3/*.gd``) in ``godot3-server``, calling
the exposed Python classes the way a game does, against the engine's own DTLS classes.
Each check script prints one ``CHECK`` line per check; each becomes one test here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from godot_dtls.core.verification import pin_text, spki_sha256
from godot_dtls.tools.bench.procs import godot_env
from godot_dtls.tools.godot3.export import export_game, preset_text
from godot_dtls.tools.processes import ManagedProcess
from support.godot3_runtime import CheckRun, assemble_project, require_runtime, run_checks
from support.godot_peer import free_udp_port, require_godot3

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def engine_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runtime = require_runtime()
    return assemble_project(tmp_path_factory.mktemp("godot3-python") / "project", runtime)


def _pki_args(pki: Any, other_pki: Any) -> dict[str, object]:
    return {
        "key": pki.key_path,
        "cert": pki.cert_path,
        "ca": pki.ca_path,
        "other_ca": other_pki.ca_path,
    }


@pytest.fixture(scope="module")
def python_client_run(engine_project: Path, pki: Any, other_pki: Any) -> CheckRun:
    args = {"port": free_udp_port(), **_pki_args(pki, other_pki)}
    return run_checks(engine_project, "python_client.gd", args)


PYTHON_CLIENT_CHECKS = [
    "native_server_started",
    "adapter_loads",
    "connect_returns_ok_handshaking",
    "handshake_connects",
    "status_changed_seen_from_gdscript",
    "stats_name_the_cipher",
    *[f"echo_{size}_bytes_exact_in_order" for size in (1, 2, 64, 1200, 4096, 16384)],
    "put_var_ok",
    "put_var_bytes_are_godot3_var2bytes",
    "get_var_decodes_it",
    "get_var_leaves_packet_error_ok",
    "get_var_of_junk_is_null_with_invalid_data",
    "disconnect_gives_disconnected",
    "put_packet_after_disconnect_is_unconfigured",
    "same_object_reconnects",
    "reconnected_echo",
    "wrong_name_is_hostname_mismatch",
    "wrong_name_is_hostname_mismatch_is_final",
    "untrusted_is_error",
    "untrusted_is_error_is_final",
]


@pytest.mark.parametrize("check", PYTHON_CLIENT_CHECKS)
def test_python_client_against_the_engines_server(python_client_run: CheckRun, check: str):
    python_client_run.require(check)


def test_python_client_script_ran_to_its_end(python_client_run: CheckRun):
    assert python_client_run.done, "\n".join(python_client_run.output[-40:])
    assert python_client_run.returncode == 0


@pytest.fixture(scope="module")
def python_server_run(engine_project: Path, pki: Any, other_pki: Any) -> CheckRun:
    args = {"port": free_udp_port(), **_pki_args(pki, other_pki)}
    return run_checks(engine_project, "python_server.gd", args)


PYTHON_SERVER_CHECKS = [
    "python_server_setup_with_engine_objects",
    "engine_objects_survive_setup",
    "second_setup_is_already_in_use",
    "native_client_connects",
    "native_client_echo_64",
    "native_client_echo_1200",
    "native_client_echo_16384",
    "python_get_var_reads_native_put_var",
    "native_get_var_reads_python_put_var",
    "server_peer_sees_close_notify",
    "python_to_python_connects",
    "python_to_python_echo",
    "three_native_clients_at_once_connect",
    "three_native_clients_at_once_echo_their_own",
    "three_python_clients_at_once_connect",
    "three_python_clients_at_once_echo_their_own",
    "cookie_exchange_peers_are_error",
]


@pytest.mark.parametrize("check", PYTHON_SERVER_CHECKS)
def test_python_server_with_engine_and_python_clients(python_server_run: CheckRun, check: str):
    python_server_run.require(check)


def test_python_server_script_ran_to_its_end(python_server_run: CheckRun):
    assert python_server_run.done, "\n".join(python_server_run.output[-40:])
    assert python_server_run.returncode == 0


@pytest.fixture(scope="module")
def bad_arguments_run(engine_project: Path, pki: Any, other_pki: Any) -> CheckRun:
    args = {
        "port": free_udp_port(),
        "key": pki.key_path,
        "cert": pki.cert_path,
        "other_key": other_pki.key_path,
    }
    return run_checks(engine_project, "bad_arguments.gd", args)


BAD_ARGUMENT_CHECKS = [
    "connect_null_udp",
    "connect_unconnected_udp",
    "connect_hostname_int",
    "connect_options_not_dictionary",
    "connect_certificate_junk",
    "connect_object_as_udp",
    "connect_twice_is_already_in_use",
    "too_many_arguments",
    "too_few_arguments",
    "put_packet_string",
    "put_packet_disconnected",
    "put_packet_empty_disconnected",
    "get_packet_disconnected",
    "get_available_packet_count_disconnected",
    "get_var_disconnected",
    "put_var_disconnected",
    "accept_connection_bad_server_id",
    "accept_connection_unknown_server",
    "setup_null",
    "setup_junk_pem",
    "setup_key_not_text",
    "setup_mismatched_key",
    "setup_unknown_option",
    "udp_survives_failing_calls",
    "python_object_passed_to_itself",
    "error_message_names_the_problem",
]


@pytest.mark.parametrize("check", BAD_ARGUMENT_CHECKS)
def test_bad_arguments_get_an_error_never_an_exception(bad_arguments_run: CheckRun, check: str):
    bad_arguments_run.require(check)


def test_no_python_traceback_reached_the_engine(bad_arguments_run: CheckRun):
    assert bad_arguments_run.done, "\n".join(bad_arguments_run.output[-40:])
    assert bad_arguments_run.returncode == 0
    joined = "\n".join(bad_arguments_run.output)
    assert "Traceback" not in joined and "SCRIPT ERROR" not in joined, joined[-3000:]


@pytest.fixture(scope="module")
def reload_run(engine_project: Path) -> CheckRun:
    return run_checks(engine_project, "reload.gd", {})


RELOAD_CHECKS = [
    "load_new_free_20_times",
    "server_load_new_free_20_times",
    "peer_and_server_alternating",
    "load_free_load_without_new",
    "instance_kept_while_loading_again",
    "preload_20_times",
    "script_reload",
    "scene_change_20_times",
]


@pytest.mark.parametrize("check", RELOAD_CHECKS)
def test_scripts_load_again_however_often(reload_run: CheckRun, check: str):
    reload_run.require(check)


def test_reload_script_ran_to_its_end(reload_run: CheckRun):
    assert reload_run.done, "\n".join(reload_run.output[-40:])
    assert reload_run.returncode == 0
    assert "doesn't expose any class" not in "\n".join(reload_run.output)


@pytest.fixture(scope="module")
def engine_only_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Godot 3 project without Python, as an Android or HTML5 export runs it."""
    require_godot3()
    return assemble_project(tmp_path_factory.mktemp("godot3-no-python") / "project", None)


def _spki_pin(pki: Any) -> str:
    leaf = x509.load_pem_x509_certificate(pki.server_cert.cert_chain_pems[0].bytes())
    return pin_text(spki_sha256(leaf))


@pytest.fixture(scope="module", params=["python", "engine"])
def facade_run(
    request: pytest.FixtureRequest, pki: Any, tmp_path_factory: pytest.TempPathFactory
) -> CheckRun:
    python = request.param == "python"
    project = (
        request.getfixturevalue("engine_project")
        if python
        else request.getfixturevalue("engine_only_project")
    )
    args = {
        "port": free_udp_port(),
        "port2": free_udp_port(),
        "key": pki.key_path,
        "cert": pki.cert_path,
        "ca": pki.ca_path,
        # A real name mismatch is 4 on the Python backend, 3 on Godot 3's own class.
        "backend": "python:godot-python" if python else "engine:PacketPeerDTLS",
        "mismatch": 4 if python else 3,
        "pin": _spki_pin(pki) if python else "",
    }
    run = run_checks(project, "facade.gd", args)
    run.backend = request.param  # type: ignore[attr-defined]
    return run


FACADE_CHECKS = [
    "peer_backend",
    "status_constants_match_the_engine",
    "count_when_disconnected_is_0",
    "put_packet_when_disconnected_is_unconfigured",
    "client_connects",
    "status_changed_signal",
    "echo_byte_exact",
    "burst_in_order",
    "native_get_var_reads_facade_put_var",
    "facade_get_var_reads_native_put_var",
    "get_var_packet_error_ok",
    "disconnected",
    "wrong_name_status",
    "server_backend",
    "server_setup",
    "native_client_to_server_facade",
    "server_facade_echo",
    "server_facade_cookie_peer_is_error",
    "engine_preference_is_honoured",
]


@pytest.mark.parametrize("check", FACADE_CHECKS)
def test_godot3_facades_on_both_backends(facade_run: CheckRun, check: str):
    facade_run.require(check)


def test_backend_specific_facade_checks(facade_run: CheckRun):
    if facade_run.backend == "python":  # type: ignore[attr-defined]
        facade_run.require("pinned_key_connects_without_ca")
        facade_run.require("wrong_pin_fails_even_with_trusted_ca")
        facade_run.require("required_python_is_used")
        facade_run.require("client_idle_timeout_disconnects")
        facade_run.require("negative_idle_timeout_refused")
        facade_run.require("server_peer_idle_timeout_disconnects")
    else:
        facade_run.require("extensions_refused_on_engine")
        facade_run.require("idle_timeout_refused_on_engine")
        facade_run.require("required_python_is_refused_loudly")
    assert facade_run.done and facade_run.returncode == 0, "\n".join(facade_run.output[-40:])
    backend_lines = [
        line for line in facade_run.output if line.startswith("godot-dtls: DTLS runs on")
    ]
    assert len(backend_lines) == 1, backend_lines  # the choice is logged, once


MAIN_SCENE = """[gd_scene load_steps=2 format=2]

[ext_resource path="res://checks/export_game.gd" type="Script" id=1]

[node name="Main" type="Node"]
script = ExtResource( 1 )
"""


@pytest.fixture(scope="module")
def exported_game_run(tmp_path_factory: pytest.TempPathFactory, pki: Any) -> CheckRun:
    """A game exported with --export-pack and laid out by export_game, started from
    another working directory through its launcher."""
    runtime = require_runtime()
    root = tmp_path_factory.mktemp("godot3-export")
    project = assemble_project(
        root / "project",
        runtime,
        name="exported_game",
        settings={"application": {"run/main_scene": '"res://main.tscn"'}},
    )
    (project / "main.tscn").write_text(MAIN_SCENE, encoding="utf-8")
    (project / "export_presets.cfg").write_text(preset_text(), encoding="utf-8")
    game = export_game(project, root / "game", require_godot3())
    args = {"port": free_udp_port(), "key": pki.key_path, "cert": pki.cert_path, "ca": pki.ca_path}
    command = [str(game.launcher), "--", *(f"{key}={value}" for key, value in args.items())]
    process = ManagedProcess(command, name="exported-game", env=godot_env())
    with process:
        process.wait(90.0)
    run = CheckRun.parse(process.stdout_lines, process.stderr_lines, process.returncode)
    run.game = game  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize(
    "check", ["exported_backend_is_python", "exported_game_connects", "exported_game_echoes"]
)
def test_exported_game_runs_the_python_class(exported_game_run: CheckRun, check: str):
    exported_game_run.require(check)


def test_exported_game_layout(exported_game_run: CheckRun):
    game = exported_game_run.game  # type: ignore[attr-defined]
    assert exported_game_run.done and exported_game_run.returncode == 0
    assert (game.folder / "addons/pythonscript/x11-64/libpythonscript.so").is_file()
    assert (game.folder / "addons/godot_dtls/python/godot_python/packet_peer_dtls.py").is_file()
    assert (game.folder / "lib/godot_dtls/__init__.py").is_file()
    assert not any(game.folder.rglob("config-3.*"))  # the static libpython is left out
    assert game.pack.stat().st_size < 1024 * 1024  # the pack holds the game, not Python
