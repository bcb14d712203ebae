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

import pytest

from godot_dtls import DTLSServer, PacketPeerDTLS, Status, engine

gdtoolkit_parser = pytest.importorskip("gdtoolkit.parser.parser")

REPO = Path(__file__).resolve().parents[2]
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


def functions(path: Path) -> dict[str, dict[str, str]]:
    """``name -> {"params": ..., "returns": ...}`` for every top-level func of a script."""
    return {
        match.group(2): {
            "params": " ".join(match.group(3).split()),
            "returns": match.group(4) or "",
        }
        for match in FUNC.finditer(source(path))
    }


def enum_members(path: Path, name: str) -> list[str]:
    body = re.search(rf"^enum\s+{name}\s*\{{(.*?)\}}", source(path), re.MULTILINE | re.DOTALL)
    assert body is not None, f"enum {name} not found in {path.name}"
    members = []
    for line in body.group(1).splitlines():
        code = line.split("#", 1)[0].strip().rstrip(",")
        if code:
            assert "=" not in code, "explicit values: keep the engine's implicit numbering"
            members.append(code)
    return members


def python_methods(path: Path, class_name: str) -> set[str]:
    """Method names a class defines in an adapter module (read with ast, not imported:
    the runtimes' ``godot`` / ``py4godot`` modules do not exist here)."""
    tree = ast.parse(source(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    raise AssertionError(f"class {class_name} not found in {path}")


#: Object's own methods, which every adapter has without defining them.
OBJECT_METHODS = {"has_method", "call", "get_script", "set_script", "connect", "emit_signal"}


def calls_on(path: Path, receiver: str) -> set[str]:
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
    """``@tool`` first (the editor runs them), and ``##`` docs on every public member.

    The one pragma allowed on the ``@tool`` line is gdlint's ``ignore`` of
    ``max-public-methods``: gdlint reports that rule on line 1, and the peer facade has the
    engine's methods plus the extension builders.
    """
    text = source(path)
    assert re.match(r"@tool(  # gdlint:ignore = max-public-methods)?\n", text)
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
    maiself = ADAPTERS / "godot_python_extension" / "extension_classes.py"
    py4godot_peer = ADAPTERS / "py4godot" / "PyPacketPeerDTLS.py"
    py4godot_server = ADAPTERS / "py4godot" / "PyDTLSServer.py"
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


#: The facades' extension methods beyond the engine: name -> (parameters, return type).
PEER_EXTENSION_METHODS = {
    "with_pins": ("pins: PackedStringArray", "PythonPacketPeerDTLS"),
    "with_crls": ("crls_pem: PackedStringArray, soft_fail := false", "PythonPacketPeerDTLS"),
    "with_alpn": ("protocols: PackedStringArray", "PythonPacketPeerDTLS"),
    "with_session_resumption": ("enabled := true", "PythonPacketPeerDTLS"),
    "with_key_log": ("path: String", "PythonPacketPeerDTLS"),
    "connect_to_peer_psk": (
        "packet_peer: PacketPeerUDP, identity: String, key: PackedByteArray",
        "Error",
    ),
    "get_stats": ("", "Dictionary"),
    "is_session_resumed": ("", "bool"),
    "get_alpn_protocol": ("", "String"),
}
SERVER_EXTENSION_METHODS = {
    "with_sni": (
        "name: String, key: CryptoKey, certificate: X509Certificate",
        "PythonDTLSServer",
    ),
    "with_alpn": ("protocols: PackedStringArray", "PythonDTLSServer"),
    "with_session_resumption": ("enabled := true", "PythonDTLSServer"),
    "with_key_log": ("path: String", "PythonDTLSServer"),
    "setup_psk": ('keys: Dictionary, identity_hint := ""', "Error"),
}


def option_keys(path: Path) -> set[str]:
    """Every key a facade puts in an options Dictionary: the keys of its Dictionary
    literals (EXTENSION_FEATURES included) and of its ``_set_extra`` / ``_extras`` calls."""
    text = "\n".join(line for line in source(path).splitlines() if not line.startswith("#"))
    keys = set(re.findall(r'"(\w+)":', text))
    keys |= set(re.findall(r'_set_extra\("(\w+)"', text))
    keys |= set(re.findall(r'_extras\[\s*"(\w+)"\s*\]', text))
    return keys


def test_facades_have_the_extension_methods_with_their_types() -> None:
    for path, expected in (
        (PEER_FACADE, PEER_EXTENSION_METHODS),
        (SERVER_FACADE, SERVER_EXTENSION_METHODS),
    ):
        found = functions(path)
        for method, (params, returns) in expected.items():
            assert method in found, f"{path.name} lacks {method}()"
            assert found[method]["params"] == params, (path.name, method)
            assert found[method]["returns"] == returns, (path.name, method)
    # the engine's signature is untouched, and the getters exist in godot_dtls too
    assert functions(PEER_FACADE)["connect_to_peer"]["params"] == (
        "packet_peer: PacketPeerUDP, hostname: String, client_options: TLSOptions = null"
    )
    getters = {"get_stats", "is_session_resumed", "get_alpn_protocol"}
    for getter in getters:
        assert callable(getattr(PacketPeerDTLS, getter))
    assert getters <= calls_on(PEER_FACADE, "_py")
    assert getters <= python_methods(ADAPTERS / "godot_python" / "methods.py", "PeerMethods")
    for adapter in (ADAPTERS / "py4godot" / "PyPacketPeerDTLS.py",):
        assert getters <= python_methods(adapter, "PyPacketPeerDTLS"), adapter.name
    assert getters <= python_methods(
        ADAPTERS / "godot_python_extension" / "extension_classes.py", "PyPacketPeerDTLS"
    )


def function_body(text: str, name: str) -> str:
    """The source of the top-level func ``name``, up to the next declaration or doc comment."""
    found = re.search(
        rf"^(?:static\s+)?func {name}\(.*?(?=^(?:##|func |static func |var |const )|\Z)",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert found is not None, f"no func {name}"
    return found.group(0)


def test_builders_return_self_and_the_engine_backend_refuses_extensions() -> None:
    for path, expected in (
        (PEER_FACADE, PEER_EXTENSION_METHODS),
        (SERVER_FACADE, SERVER_EXTENSION_METHODS),
    ):
        text = source(path)
        for method, (_params, returns) in expected.items():
            body = function_body(text, method)
            if method.startswith("with_"):
                assert body.rstrip().endswith("return self"), method
            elif returns == "Error":  # connect_to_peer_psk, setup_psk
                assert "_refuse_on_engine(" in body, method
        refuse = function_body(text, "_refuse_on_engine")
        assert "push_error(_last_error)" in refuse and "return ERR_UNAVAILABLE" in refuse
    # the engine's own entry points refuse too once an extension is set
    assert "_refuse_on_engine(" in function_body(source(PEER_FACADE), "connect_to_peer")
    assert "_refuse_on_engine(" in function_body(source(SERVER_FACADE), "setup")


def test_builder_keys_are_keys_the_bridge_accepts() -> None:
    bridge = engine
    peer_keys = option_keys(PEER_FACADE) - {"psk"}  # "psk" only names a feature
    assert {"pinned_spki_sha256", "crls_pem", "alpn", "session_resumption"} <= peer_keys
    assert peer_keys <= bridge.CLIENT_OPTION_KEYS, peer_keys - bridge.CLIENT_OPTION_KEYS
    server_keys = option_keys(SERVER_FACADE) - {"psk"}
    accepted = bridge.SERVER_OPTION_KEYS | set(bridge.SNI_ENTRY_KEYS)
    assert {"sni", "alpn", "session_resumption", "psk_keys_hex"} <= server_keys
    assert server_keys <= accepted, server_keys - accepted
    # each mode literal the facades send, with the keys sent along with it
    peer, server = source(PEER_FACADE), source(SERVER_FACADE)
    assert '"mode": "client_psk"' in peer and '"mode": "server_psk"' in server
    for key in ("psk_identity", "psk_key_hex"):
        assert f'"{key}"' in peer and key in bridge.CLIENT_MODE_KEYS["client_psk"]
    for key in ("psk_keys_hex", "psk_identity_hint"):
        assert f'"{key}"' in server and key in bridge.SERVER_MODE_KEYS["server_psk"]
    # every builder key is named for the engine backend's refusal
    for path in (PEER_FACADE, SERVER_FACADE):
        features = re.search(r"^const EXTENSION_FEATURES := \{(.*?)^\}", source(path), re.M | re.S)
        assert features is not None
        named = set(re.findall(r'"(\w+)":', features.group(1)))
        built = set(re.findall(r'_set_extra\("(\w+)"', source(path)))
        built |= set(re.findall(r'_extras\[\s*"(\w+)"\s*\]', source(path)))
        assert built <= named, (path.name, built - named)


def test_what_the_builders_send_is_accepted_by_the_bridge() -> None:
    """The Dictionaries the facades build, as Python receives them, go through the bridge."""
    bridge = engine
    runtime = bridge.Runtime("test", log_error=lambda message: None)
    pin = "sha256/" + "A" * 43 + "="
    client = {
        "mode": "client_unsafe",
        "trusted_chain_pem": "",
        "common_name_override": "",
        "pinned_spki_sha256": [pin],
        "alpn": ["game/1"],
        "session_resumption": True,
        "key_log_file": "/tmp/keys.log",
    }
    assert bridge.client_options(client, runtime) is not None
    psk = {"mode": "client_psk", "psk_identity": "player-1", "psk_key_hex": "00ff", "alpn": []}
    assert bridge.client_options(psk, runtime).is_psk()
    server = {"mode": "server_psk", "psk_keys_hex": {"player-1": "00ff"}, "psk_identity_hint": ""}
    assert bridge.server_options(server, runtime).is_psk()


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


# ------------------------------------------------------------------ backends (issue 11)

BACKENDS = ADDON / "godot_dtls_backends.gd"


def gd_constant(path: Path, name: str) -> str:
    found = re.search(rf'^const {name} := "([^"]*)"$', source(path), re.MULTILINE)
    assert found is not None, f"no const {name} in {path.name}"
    return found.group(1)


def test_py4godot_scripts_are_where_the_facades_look_for_them() -> None:
    folder = gd_constant(BACKENDS, "PY4GODOT_ADAPTER_DIR")
    assert folder.startswith("res://")
    for facade in (PEER_FACADE, SERVER_FACADE):
        python_class = gd_constant(facade, "PYTHON_CLASS")
        script = REPO / folder[len("res://") :] / f"{python_class}.py"
        assert script.is_file(), script
        assert python_methods(script, python_class), "py4godot needs the class named like the file"
    assert "py4godot_script_path(python_class)" in function_body(
        source(BACKENDS), "acquire_py4godot_object"
    )


def test_the_backend_choice_is_printed_once_with_its_reason() -> None:
    """A fallback must be visible without --verbose, and said once, not per object."""
    log_choice = function_body(source(BACKENDS), "log_choice")
    assert "_logged_choices.has(backend)" in log_choice
    assert "print(message)" in log_choice and "push_warning(message)" in log_choice
    for facade in (PEER_FACADE, SERVER_FACADE):
        text = source(facade)
        assert "print_verbose" not in text
        init = function_body(text, "_init")
        assert 'Backends.log_choice(_backend, chosen["reason"], false)' in init
        assert '_use_engine(chosen["reason"], chosen["warn"])' in init
        assert "Backends.log_choice(_backend, reason, warn)" in function_body(text, "_use_engine")


def test_a_py4godot_script_that_did_not_load_is_no_backend() -> None:
    """py4godot attaches a script whose module raised as a plain Object."""
    text = source(BACKENDS)
    is_adapter = function_body(text, "is_adapter")
    assert 'has_method("get_backend")' in is_adapter and '.begins_with("python:")' in is_adapter
    assert "not is_adapter(holder)" in function_body(text, "acquire_py4godot_object")
    assert "if is_adapter(instance):" in function_body(text, "find_python_object")


def test_py4godot_objects_are_pooled_not_made_per_connection() -> None:
    """py4godot never frees a script object: facades give theirs back for reuse."""
    text = source(BACKENDS)
    assert "_idle_py4godot_objects" in function_body(text, "acquire_py4godot_object")
    release = function_body(text, "release_python_object")
    assert "backend != PY4GODOT_BACKEND" in release and "instance.recycle()" in release
    for facade in (PEER_FACADE, SERVER_FACADE):
        notification = function_body(source(facade), "_notification")
        assert "NOTIFICATION_PREDELETE" in notification
        assert "Backends.release_python_object(_py, PYTHON_CLASS, _backend)" in notification
    take = function_body(source(SERVER_FACADE), "_take_python_connection")
    assert "Backends.acquire_py4godot_object(" in take and "RefCounted.new()" not in take
    for script in ("PyPacketPeerDTLS", "PyDTLSServer"):
        assert "recycle" in python_methods(ADAPTERS / "py4godot" / f"{script}.py", script)


def test_the_peer_facade_keeps_its_udp_peer() -> None:
    """``server.take_connection(udp_server.take_connection())`` passes a temporary."""
    peer = source(PEER_FACADE)
    assert re.search(r"^var _udp: PacketPeerUDP$", peer, re.MULTILINE)
    assert "_udp = packet_peer" in function_body(peer, "connect_to_peer")
    assert "_udp = packet_peer" in function_body(peer, "connect_to_peer_psk")
    assert "_udp = adopted_udp" in function_body(peer, "_init")
    take = function_body(source(SERVER_FACADE), "take_connection")
    assert 'PythonPacketPeerDTLS.new("", peer, udp_peer)' in take


def test_an_exported_maiself_game_without_its_classes_is_warned() -> None:
    text = source(BACKENDS)
    why = function_body(text, "_maiself_without_adapter")
    assert 'OS.has_feature("template")' in why and "beside the executable" in why
    find = function_body(text, "find_python_object")
    assert "ClassDB.class_exists(MAISELF_LANGUAGE_CLASS)" in find
    assert '"warn": true' in find
