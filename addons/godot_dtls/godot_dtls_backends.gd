@tool
extends RefCounted
## Finds the Python object that does the DTLS work, for each Godot 4 Python runtime.
##
## Shared by [PythonPacketPeerDTLS] and [PythonDTLSServer] so a client and a server in one
## game always agree on the runtime. Each runtime reaches Python differently:
## [br]- godot-python-extension (maiself) registers real extension classes
## ([code]PyPacketPeerDTLS[/code], [code]PyDTLSServer[/code]) from the project-root
## [code]godot_dtls.pyextension[/code]: found with [method ClassDB.class_exists].
## [br]- py4godot has no global class names and no [code]new()[/code] on Python scripts:
## a [RefCounted] gets the script [code]addons/godot_dtls/python/<Class>.py[/code] with
## [method Object.set_script].
## [br]- godot-python 0.50 runs on Godot 3 only, where this GDScript 2 code cannot load;
## Godot 3 projects call its adapter directly (see the addon README).

## Use a Python backend when one is loaded, else the engine's classes.
const AUTO := "auto"
## Use a Python backend or fail loudly (no silent fallback).
const PYTHON := "python"
## Use the engine's PacketPeerDTLS / DTLSServer even when Python is available.
const ENGINE := "engine"
## Project setting holding the default preference ([constant AUTO] when unset).
const PREFER_BACKEND_SETTING := "godot_dtls/runtime/prefer_backend"
## [method get_backend] text of a facade whose backend could not be created.
const NO_BACKEND := "none"
## Present when the py4godot addon is installed.
const PY4GODOT_GDEXTENSION := "res://addons/py4godot/python.gdextension"
## Folder of the Python adapters (py4godot wants one class per file, named like the file).
const PYTHON_ADAPTER_DIR := "res://addons/godot_dtls/python"


## The preference to apply: [param prefer_backend] when given, else the project setting.
## Unknown values fall back to [constant AUTO] with a warning, so a typo cannot disable
## networking.
static func resolve_preference(prefer_backend: String) -> String:
	var preference := prefer_backend.strip_edges().to_lower()
	if preference.is_empty():
		preference = str(ProjectSettings.get_setting(PREFER_BACKEND_SETTING, AUTO))
		preference = preference.strip_edges().to_lower()
	if preference not in [AUTO, PYTHON, ENGINE]:
		var message := (
			'godot-dtls: unknown backend preference "%s" (expected auto, python or engine); '
			+ "using auto."
		)
		push_warning(message % preference)
		preference = AUTO
	return preference


## A new instance of the Python class [param python_class] from whichever runtime has it,
## or null when no Python runtime provides it.
static func create_python_object(python_class: String) -> Object:
	if ClassDB.class_exists(python_class) and ClassDB.can_instantiate(python_class):
		var instance: Object = ClassDB.instantiate(python_class)
		if instance != null:
			return instance
	return create_py4godot_object(python_class)


## A [RefCounted] running the py4godot script [code]<python_class>.py[/code] of the
## adapter folder, or null when py4godot or the script is missing.
static func create_py4godot_object(python_class: String) -> Object:
	var script_path := "%s/%s.py" % [PYTHON_ADAPTER_DIR, python_class]
	if not FileAccess.file_exists(PY4GODOT_GDEXTENSION):
		return null
	if not ResourceLoader.exists(script_path):
		return null
	var script := load(script_path) as Script
	if script == null:
		return null
	var holder := RefCounted.new()
	holder.set_script(script)
	return holder if holder.get_script() == script else null


## Which Python runtimes this process could use, for error messages.
static func describe_python_runtimes(python_class: String) -> String:
	var found := PackedStringArray()
	if ClassDB.class_exists(python_class):
		found.append("godot-python-extension class %s" % python_class)
	if FileAccess.file_exists(PY4GODOT_GDEXTENSION):
		found.append("py4godot addon")
	if found.is_empty():
		return (
			"no Python runtime found (no %s extension class, no %s)"
			% [python_class, PY4GODOT_GDEXTENSION]
		)
	return "found: " + ", ".join(found)


## An integer [enum Error] from a Python call result. A Python method that raised
## returns null (py4godot) or reports a call error, so anything but an int is
## [constant FAILED]: GDScript cannot catch exceptions, only compare codes.
static func to_error(value: Variant) -> Error:
	if typeof(value) == TYPE_INT:
		return value as Error
	return FAILED


## Bytes from a Python call result. Runtimes hand Python [code]bytes[/code] back as a
## [PackedByteArray], an [Array] of ints (maiself) or null (error): accept all three.
static func to_bytes(value: Variant) -> PackedByteArray:
	if typeof(value) == TYPE_PACKED_BYTE_ARRAY:
		return value
	if typeof(value) == TYPE_ARRAY:
		return PackedByteArray(value)
	return PackedByteArray()


## Sets [param key] of a facade's extension options to [param value] when
## [param enabled], removes it otherwise (the builders' "empty turns it off" rule).
static func set_extra(extras: Dictionary, key: String, value: Variant, enabled: bool) -> void:
	if enabled:
		extras[key] = value
	else:
		extras.erase(key)


## The file path the Python side writes a key log to: [param path] globalized
## ([code]res://[/code], [code]user://[/code]), or "" to turn the key log off.
static func key_log_path(path: String) -> String:
	return ProjectSettings.globalize_path(path) if not path.is_empty() else ""


## The error a facade reports when the engine backend is asked for extension options
## [param keys] it cannot honour; [param features] names each key for people.
static func engine_refusal(
	method: String, keys: Array, features: Dictionary, engine_class: String
) -> String:
	var names := PackedStringArray()
	for key: Variant in keys:
		names.append(str(features.get(key, key)))
	var message := "%s: %s need the Python backend; the engine's %s cannot honour them"
	return message % [method, ", ".join(names), engine_class]
