"""The Godot project files of the repository, read with ``godot_dtls.tools.presets.config_file``.

No Godot 4 runs in CI, so these tests are what stands between a typo in
``project.godot`` / ``plugin.cfg`` / ``export_presets.cfg`` / the demo scene and a project
that opens with errors. The first half checks the ConfigFile reader itself on the value
syntax those files use.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from godot_dtls.tools.presets.config_file import (
    ConfigParseError,
    Constructor,
    NodePath,
    StringName,
    load_config,
    parse_config,
    split_lines,
)

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "addons" / "godot_dtls"

#: Keys of ``[preset.N]`` that Godot 4 reads without a default (spec 8.2), plus the ones
#: this repository always writes.
REQUIRED_PRESET_KEYS = (
    "name",
    "platform",
    "runnable",
    "export_filter",
    "include_filter",
    "exclude_filter",
)
WRITTEN_PRESET_KEYS = (
    *REQUIRED_PRESET_KEYS,
    "dedicated_server",
    "custom_features",
    "export_path",
    "encryption_include_filters",
    "encryption_exclude_filters",
    "encrypt_pck",
    "encrypt_directory",
    "script_export_mode",
)
GODOT4_PLATFORMS = {"Linux", "Linux/X11", "Windows Desktop", "macOS", "Android", "Web", "iOS"}


def res_path(path: str) -> Path:
    """The file a ``res://`` path names in this project (the repository root)."""
    assert path.startswith("res://"), path
    return REPO / path[len("res://") :]


# -- the reader -----------------------------------------------------------------------


def test_values_of_every_kind() -> None:
    document = parse_config(
        "top=1\n"
        "[s]\n"
        'text="a \\"quoted\\" \\\\ tab\\t nl\\n \\u00e9 \\U01F600"\n'
        "yes=true\n"
        "no=false\n"
        "nothing=null\n"
        "int=-42\n"
        "hex=0x1F\n"
        "float=1.5e3\n"
        "inf=inf\n"
        "neg=-inf\n"
        'name=&"node_name"\n'
        'path=^"Path/To:prop"\n'
        'features=PackedStringArray("4.3", "Forward Plus")\n'
        "empty=PackedStringArray()\n"
        "vec=Vector2(1, -2.5)\n"
        "typed=Array[int]([1, 2, 3])\n"
        "color=#ff8000\n"
        'nested=[1, [2, {"k": "v"}], ExtResource("1_a")]\n',
    )
    assert document.get_value("", "top") == 1
    section = document["s"]
    assert section["text"] == 'a "quoted" \\ tab\t nl\n \u00e9 \U0001f600'
    assert (section["yes"], section["no"], section["nothing"]) == (True, False, None)
    assert (section["int"], section["hex"], section["float"]) == (-42, 31, 1500.0)
    assert math.isinf(section["inf"]) and section["neg"] == -math.inf
    assert isinstance(section["name"], StringName) and section["name"] == "node_name"
    assert isinstance(section["path"], NodePath) and section["path"] == "Path/To:prop"
    assert section["features"] == Constructor(
        "PackedStringArray", ("4.3", "Forward Plus"), 'PackedStringArray("4.3", "Forward Plus")'
    )
    assert section["empty"].args == ()
    assert section["vec"].args == (1, -2.5)
    assert section["typed"] == [1, 2, 3]
    assert section["color"].raw == "#ff8000"
    assert section["nested"][:2] == [1, [2, {"k": "v"}]]
    assert section["nested"][2].name == "ExtResource"


def test_multiline_dictionary_and_raw_object_keep_line_numbers() -> None:
    text = (
        "[input]\n"
        "\n"
        "ui_accept={\n"
        '"deadzone": 0.5,\n'
        '"events": [Object(InputEventKey,"resource_local_to_scene":false,"keycode":0,'
        '"unicode":32,"script":null)\n'
        "]\n"
        "}\n"
        "after=2 ; a comment\n"
    )
    document = parse_config(text)
    entry = document.find_entry("input", "ui_accept")
    assert entry is not None
    assert (entry.line, entry.end_line) == (3, 7)
    event = entry.value["events"][0]
    assert (event.name, event.parsed) == ("Object", False)
    assert event.raw.startswith("Object(InputEventKey,") and event.raw.endswith('"script":null)')
    after = document.find_entry("input", "after")
    assert after is not None and (after.value, after.line) == (2, 8)
    assert text[after.value_start : after.value_end] == "2"


def test_multiline_string_and_quoted_key() -> None:
    document = parse_config('[a]\n"key with space"="line 1\nline 2"\nnext=1\n')
    entry = document["a"].entry("key with space")
    assert entry is not None
    assert entry.value == "line 1\nline 2"
    assert (entry.line, entry.end_line) == (2, 3)
    assert document["a"].entry("next").line == 4  # type: ignore[union-attr]


def test_text_scene_headers_carry_attributes() -> None:
    document = parse_config(
        '[gd_scene load_steps=2 format=3 uid="uid://abc"]\n\n'
        '[ext_resource type="Script" path="res://x.gd" id="1"]\n\n'
        '[node name="Root" type="Node"]\nscript = ExtResource("1")\n\n'
        '[node name="Child" type="Label" parent="."]\ntext = "hi"\n'
    )
    assert document["gd_scene"].attributes == {"load_steps": 2, "format": 3, "uid": "uid://abc"}
    nodes = document.sections_named("node")
    assert [n.attributes["name"] for n in nodes] == ["Root", "Child"]
    assert nodes[0]["script"] == Constructor("ExtResource", ("1",), 'ExtResource("1")')


def test_repeated_keys_and_sections_last_one_wins() -> None:
    document = parse_config("[a]\nk=1\n[b]\nk=5\n[a]\nk=2\nk=3\n")
    assert document.get_value("a", "k") == 3
    assert document.find_entry("a", "k").line == 7  # type: ignore[union-attr]
    assert document.section_names == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[a]\nk="open\n', 2, "unterminated string"),
        ("[a]\nk=\n", 2, "missing value"),
        ("[a]\njust text\n", 2, "expected 'key=value'"),
        ("[a\nk=1\n", 1, "not closed"),
        ("[]\n", 1, "empty section name"),
        ("[a]\nk=[1, 2\nother=3\n", 2, "never closed"),
        ("[a]\nk=[1 2]\n", 2, "expected ','"),
        ("[a]\nk=1 2\n", 2, "after the value"),
        ("[a]\nk=bogus\n", 2, "unexpected identifier"),
        ("[a]\nk=Vector2(1,\n2\n", 2, "never closed"),
        ('[a]\nk="\\x"\n', 2, "invalid escape"),
        ("[a]\nk=1.5e\n", 2, "malformed number"),
        ("[a]\nk=Object(Foo, (\n", 2, "never closed"),
        ("[a]\nk={[1]: 2}\n", 2, "dictionary key"),
    ],
)
def test_malformed_input_names_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigParseError) as caught:
        parse_config(text)
    assert caught.value.line == line
    assert message in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.cfg"
    path.write_text("[a]\n\nk=?\n", encoding="utf-8")
    with pytest.raises(ConfigParseError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    with pytest.raises(OSError):
        load_config(tmp_path / "missing.cfg")


def test_split_lines_counts_only_newlines() -> None:
    assert split_lines("a\r\nb\x0cc\nd") == ["a\r\n", "b\x0cc\n", "d"]
    assert split_lines("") == []


# -- the project files ----------------------------------------------------------------


def test_project_godot_is_a_godot4_project_with_the_demo_and_plugin() -> None:
    project = load_config(REPO / "project.godot")
    assert project.get_value("", "config_version") == 5
    application = project["application"]
    assert application["config/name"] == "godot-dtls demo"
    assert res_path(application["run/main_scene"]).is_file()
    features = application["config/features"]
    assert features.name == "PackedStringArray"
    assert any(re.fullmatch(r"4\.\d+", feature) for feature in features.args)
    enabled = project.get_value("editor_plugins", "enabled")
    assert enabled.name == "PackedStringArray"
    assert "res://addons/godot_dtls/plugin.cfg" in enabled.args
    for plugin in enabled.args:
        assert res_path(plugin).is_file(), plugin


def test_module_search_path_reaches_the_python_packages() -> None:
    """godot-python-extension imports ``python_package`` and ``godot_dtls`` through it."""
    project = load_config(REPO / "project.godot")
    search_path: list[str] = project.get_value("python", "config/module_search_path")
    assert isinstance(search_path, list) and "res://" in search_path
    roots = [res_path(entry) for entry in search_path]
    pyextension = load_config(REPO / "godot_dtls.pyextension")
    package = pyextension.get_value("configuration", "python_package")
    assert package == "addons.godot_dtls.python.godot_python_extension"
    assert any((root / package.replace(".", "/") / "__init__.py").is_file() for root in roots), (
        package
    )
    assert any((root / "godot_dtls" / "__init__.py").is_file() for root in roots)


def test_plugin_cfg_names_an_existing_script() -> None:
    plugin = load_config(ADDON / "plugin.cfg")["plugin"]
    for key in ("name", "description", "author", "version", "script"):
        assert isinstance(plugin[key], str) and plugin[key], key
    assert plugin["author"] == "godot-dtls contributors"
    assert plugin["version"] == "0.1.0"
    assert (ADDON / plugin["script"]).is_file()
    assert (ADDON / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_export_presets_have_the_required_keys() -> None:
    presets = load_config(REPO / "export_presets.cfg")
    headers = [s.name for s in presets.sections if re.fullmatch(r"preset\.\d+", s.name)]
    # Godot stops loading at the first gap in the numbering
    assert headers == [f"preset.{n}" for n in range(len(headers))]
    by_platform = {}
    for name in headers:
        section = presets[name]
        missing = [key for key in WRITTEN_PRESET_KEYS if key not in section]
        assert not missing, f"[{name}] lacks {missing}"
        assert section["platform"] in GODOT4_PLATFORMS
        assert section["export_filter"] == "all_resources"
        assert presets.section(f"{name}.options") is not None, f"[{name}.options] missing"
        by_platform[section["platform"]] = name
    assert [presets[n]["name"] for n in headers] == ["Linux", "Windows", "macOS", "Android"]
    assert set(by_platform) == {"Linux", "Windows Desktop", "macOS", "Android"}
    macos = presets[f"{by_platform['macOS']}.options"]
    assert re.fullmatch(r"[A-Za-z0-9.-]+", macos["application/bundle_identifier"])
    android = presets[f"{by_platform['Android']}.options"]
    assert android["permissions/internet"] is True
    assert android["architectures/arm64-v8a"] is True
    assert android["gradle_build/use_gradle_build"] is False
    assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", android["package/unique_name"])


def test_demo_scene_is_a_format_3_scene_with_a_label_and_its_script() -> None:
    scene = load_config(REPO / "demo" / "dtls_echo.tscn")
    header = scene["gd_scene"]
    assert header.attributes["format"] == 3
    resources = {s.attributes["id"]: s.attributes for s in scene.sections_named("ext_resource")}
    nodes = scene.sections_named("node")
    root, *children = nodes
    assert "parent" not in root.attributes
    assert root.attributes["type"] in ("Control", "Node", "Node2D")
    script = root["script"]
    assert script.name == "ExtResource"
    assert res_path(resources[script.args[0]]["path"]).is_file()
    assert resources[script.args[0]]["type"] == "Script"
    assert any(node.attributes["type"] == "Label" for node in children)
    assert header.attributes.get("load_steps", len(resources) + 1) == len(resources) + 1


def test_gitattributes_ships_only_the_addon() -> None:
    lines = [
        line.split()
        for line in (REPO / ".gitattributes").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    rules = {parts[0]: parts[1:] for parts in lines}
    assert rules["/**"] == ["export-ignore"]
    assert rules["/addons"] == ["!export-ignore"]
    assert rules["/addons/**"] == ["!export-ignore"]


def _every_value(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for item in value for v in _every_value(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _every_value(item)]
    return [value]


def test_every_res_path_in_the_project_files_exists() -> None:
    for name in ("project.godot", "demo/dtls_echo.tscn", "addons/godot_dtls/plugin.cfg"):
        document = load_config(REPO / name)
        for section in document:
            values = list(section.attributes.values())
            values += [v for entry in section.entries for v in _every_value(entry.value)]
            for value in values:
                texts = value.args if isinstance(value, Constructor) else (value,)
                for text in texts:
                    if isinstance(text, str) and text.startswith("res://") and ";" not in text:
                        assert res_path(text).exists(), f"{name}: {text}"
