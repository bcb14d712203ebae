"""The GDScript of the addon and the demo: it parses, lints clean, and matches the engine API.

No Godot 4 runs in CI, so gdtoolkit's parser and linter stand in for the editor, and the
facade's names are compared with the engine's PacketPeerDTLS API (spec section 2) and
with the Python classes, so that code written for the native class reads the same.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

from godot_dtls import DTLSServer, PacketPeerDTLS, Status

gdtoolkit_parser = pytest.importorskip("gdtoolkit.parser.parser")

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "addons" / "godot_dtls"
ADAPTERS = ADDON / "python"
PEER_FACADE = ADDON / "python_packet_peer_dtls.gd"
SERVER_FACADE = ADDON / "python_dtls_server.gd"
GD_FILES = sorted(
    path for folder in (REPO / "addons", REPO / "demo") for path in folder.rglob("*.gd")
)

#: Script-visible methods of the engine's PacketPeerDTLS (4.x) with their return types:
#: its own, then the ones inherited from PacketPeer (spec 2.1 and 2.2).
PACKET_PEER_DTLS_METHODS = {
    "connect_to_peer": "Error",
    "poll": "void",
    "get_status": "Status",
    "disconnect_from_peer": "void",
    "put_packet": "Error",
    "get_packet": "PackedByteArray",
    "get_packet_error": "Error",
    "put_var": "Error",
    "get_var": "Variant",
    "get_available_packet_count": "int",
}
DTLS_SERVER_METHODS = {"setup": "Error", "take_connection": "PythonPacketPeerDTLS"}
FUNC = re.compile(
    r"^(static\s+)?func\s+(\w+)\s*\((.*?)\)\s*(?:->\s*([\w.\[\]]+))?\s*:", re.MULTILINE | re.DOTALL
)


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def functions(path: Path) -> Dict[str, Dict[str, str]]:
    """``name -> {"params": ..., "returns": ...}`` for every top-level func of a script."""
    return {
        match.group(2): {
            "params": " ".join(match.group(3).split()),
            "returns": match.group(4) or "",
        }
        for match in FUNC.finditer(source(path))
    }


def enum_members(path: Path, name: str) -> List[str]:
    body = re.search(rf"^enum\s+{name}\s*\{{(.*?)\}}", source(path), re.MULTILINE | re.DOTALL)
    assert body is not None, f"enum {name} not found in {path.name}"
    members = []
    for line in body.group(1).splitlines():
        code = line.split("#", 1)[0].strip().rstrip(",")
        if code:
            assert "=" not in code, "explicit values: keep the engine's implicit numbering"
            members.append(code)
    return members


def python_methods(path: Path, class_name: str) -> Set[str]:
    """Method names a class defines in an adapter module (read with ast, not imported:
    the runtimes' ``godot`` / ``py4godot`` modules do not exist here)."""
    tree = ast.parse(source(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    raise AssertionError(f"class {class_name} not found in {path}")


#: Object's own methods, which every adapter has without defining them.
OBJECT_METHODS = {"has_method", "call", "get_script", "set_script", "connect", "emit_signal"}


def calls_on(path: Path, receiver: str) -> Set[str]:
    """Methods a script calls on ``receiver`` (Object's built-ins left out)."""
    return set(re.findall(rf"\b{receiver}\.(\w+)\(", source(path))) - OBJECT_METHODS


def test_there_are_scripts_to_check() -> None:
    names = {path.name for path in GD_FILES}
    assert {
        "plugin.gd",
        "android_internet_export_plugin.gd",
        "python_packet_peer_dtls.gd",
        "python_dtls_server.gd",
        "dtls_echo.gd",
    } <= names


@pytest.mark.parametrize("path", GD_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_parses_with_gdtoolkit(path: Path) -> None:
    gdtoolkit_parser.parser.parse(source(path))


def test_gdlint_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gdtoolkit.linter", *map(str, GD_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=str(REPO),
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", GD_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_res_paths_in_scripts_exist(path: Path) -> None:
    for literal in re.findall(r'"(res://[^"%]+)"', source(path)):
        if literal.endswith(".py") or "/py4godot/" in literal:
            continue  # optional runtimes: looked up at run time, absent here by design
        assert (REPO / literal[len("res://") :]).exists(), f"{path.name}: {literal}"


@pytest.mark.parametrize("path", [p for p in GD_FILES if p.parent == ADDON], ids=lambda p: p.name)
def test_addon_scripts_follow_the_addon_style(path: Path) -> None:
    """``@tool`` first (the editor runs them), and ``##`` docs on every public member."""
    text = source(path)
    assert text.startswith("@tool\n")
    lines = text.splitlines()
    for number, line in enumerate(lines):
        declared = re.match(r"(?:static\s+)?func\s+([a-z]\w*)|signal\s+(\w+)|enum\s+(\w+)", line)
        if declared and not line.startswith("func _"):
            above = number - 1
            assert above >= 0 and lines[above].startswith("##"), (
                f"{path.name}:{number + 1}: {line.strip()} has no ## doc comment"
            )


def test_facades_are_named_classes_with_the_icon() -> None:
    for path, name in ((PEER_FACADE, "PythonPacketPeerDTLS"), (SERVER_FACADE, "PythonDTLSServer")):
        text = source(path)
        assert re.search(rf"^class_name {name} extends RefCounted$", text, re.MULTILINE)
        icon = re.search(r'^@icon\("res://(.+?)"\)$', text, re.MULTILINE)
        assert icon is not None and (REPO / icon.group(1)).is_file()


def test_status_enum_matches_godot_dtls_status() -> None:
    members = enum_members(PEER_FACADE, "Status")
    expected = [f"STATUS_{status.name}" for status in sorted(Status, key=int)]
    assert members == expected
    assert [int(status) for status in sorted(Status, key=int)] == list(range(len(members)))
    assert re.search(
        r"^signal status_changed\(new_status: Status\)$", source(PEER_FACADE), re.MULTILINE
    )


def test_peer_facade_has_the_packet_peer_dtls_methods_with_their_types() -> None:
    found = functions(PEER_FACADE)
    for method, returns in PACKET_PEER_DTLS_METHODS.items():
        assert method in found, f"PythonPacketPeerDTLS lacks {method}()"
        assert found[method]["returns"] == returns, method
        assert callable(getattr(PacketPeerDTLS, method)), f"godot_dtls lacks {method}"
    assert found["connect_to_peer"]["params"] == (
        "packet_peer: PacketPeerUDP, hostname: String, client_options: TLSOptions = null"
    )
    assert found["put_packet"]["params"] == "buffer: PackedByteArray"
    assert found["put_var"]["params"] == "value: Variant, full_objects := false"
    assert found["get_var"]["params"] == "allow_objects := false"
    for extra in ("get_backend", "get_last_error_message"):
        assert found[extra]["returns"] == "String"
    assert callable(PacketPeerDTLS.get_last_error_message)


def test_server_facade_has_the_dtls_server_methods() -> None:
    found = functions(SERVER_FACADE)
    for method, returns in DTLS_SERVER_METHODS.items():
        assert found[method]["returns"] == returns, method
        assert callable(getattr(DTLSServer, method))
    assert found["setup"]["params"] == "server_options: TLSOptions"
    assert found["take_connection"]["params"] == "udp_peer: PacketPeerUDP"


def test_facades_call_only_what_the_python_adapters_define() -> None:
    """The facades call the adapters by name; a renamed adapter method would only show as
    a call error inside Godot, so compare the names here."""
    maiself = ADAPTERS / "godot_dtls_gd4" / "__init__.py"
    py4godot_peer = ADAPTERS / "PyPacketPeerDTLS.py"
    py4godot_server = ADAPTERS / "PyDTLSServer.py"
    if not (maiself.is_file() and py4godot_peer.is_file() and py4godot_server.is_file()):
        pytest.skip("Python adapters not present")
    peer_calls = calls_on(PEER_FACADE, "_py")
    assert peer_calls, "the peer facade calls no adapter method?"
    for methods in (
        python_methods(maiself, "PyPacketPeerDTLS"),
        python_methods(py4godot_peer, "PyPacketPeerDTLS"),
    ):
        assert peer_calls <= methods, peer_calls - methods
        assert "accept_connection" in methods  # used by the py4godot server path
    server_calls = calls_on(SERVER_FACADE, "_py")
    maiself_server = python_methods(maiself, "PyDTLSServer")
    py4godot_server_methods = python_methods(py4godot_server, "PyDTLSServer")
    assert server_calls <= maiself_server, server_calls - maiself_server
    # py4godot's server has no take_connection: the facade checks has_method first
    assert 'has_method("take_connection")' in source(SERVER_FACADE)
    assert server_calls - {"take_connection"} <= py4godot_server_methods


def test_option_dictionary_keys_match_the_adapter_contract() -> None:
    peer = source(PEER_FACADE)
    for key in ("mode", "trusted_chain_pem", "common_name_override"):
        assert f'"{key}"' in peer
    assert '"client_unsafe"' in peer
    server = source(SERVER_FACADE)
    for key in ("key_pem", "certificate_pem"):
        assert f'"{key}"' in server


def test_export_plugin_warns_with_the_exact_fix() -> None:
    text = source(ADDON / "android_internet_export_plugin.gd")
    assert "get_option(INTERNET_OPTION)" in text and '"permissions/internet"' in text
    assert '"godot_dtls/warn_missing_internet"' in text
    assert "Project > Export > %s > Permissions > Internet, or set" in text
    assert "permissions/internet=true in export_presets.cfg" in text
    assert "platform.get_os_name() == ANDROID_OS_NAME" in text and '"Android"' in text
    for hook in (
        "_get_name",
        "_supports_platform",
        "_get_export_options",
        "_get_export_option_warning",
        "_export_begin",
    ):
        assert hook in functions(ADDON / "android_internet_export_plugin.gd"), hook
    plugin = functions(ADDON / "plugin.gd")
    assert {"_enter_tree", "_exit_tree"} <= set(plugin)
    plugin_text = source(ADDON / "plugin.gd")
    assert "add_export_plugin(" in plugin_text and "remove_export_plugin(" in plugin_text
