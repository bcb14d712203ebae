extends Reference
# Godot 3: finds the Python class that does the DTLS work (godot-python 0.50) or says why
# the engine's own classes are used. Shared by PythonPacketPeerDTLS and PythonDTLSServer,
# so a client and a server in one game always agree.
#
# godot-python is a PluginScript language: a Python class is a script file, loaded with
# load() and instanced with new(). Where the language is not loaded (Android and HTML5
# exports, or a project without the pythonscript singleton) no ".py" resource loads, and
# the facades use PacketPeerDTLS / DTLSServer instead.

# Use the Python backend when it loads, else the engine's classes.
const AUTO := "auto"
# Use the Python backend or fail loudly (no silent fallback).
const PYTHON := "python"
# Use the engine's PacketPeerDTLS / DTLSServer even when Python is available.
const ENGINE := "engine"
# Project setting holding the default preference (AUTO when unset).
const PREFER_BACKEND_SETTING := "godot_dtls/runtime/prefer_backend"
# get_backend() text of a facade whose backend could not be created.
const NO_BACKEND := "none"
# The adapter scripts, one exposed class per module as godot-python requires.
const PEER_SCRIPT := "res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py"
const SERVER_SCRIPT := "res://addons/godot_dtls/python/godot_python/dtls_server.py"
# Engine metadata key: set once the backend choice was logged in this process.
const LOGGED_META := "godot_dtls_backend_logged"


# The preference to apply: prefer_backend when given, else the project setting. Unknown
# values fall back to AUTO with a warning, so a typo cannot disable networking.
static func resolve_preference(prefer_backend: String) -> String:
	var preference := prefer_backend.strip_edges().to_lower()
	if preference.empty():
		preference = AUTO
		if ProjectSettings.has_setting(PREFER_BACKEND_SETTING):
			preference = str(ProjectSettings.get_setting(PREFER_BACKEND_SETTING))
			preference = preference.strip_edges().to_lower()
	if not preference in [AUTO, PYTHON, ENGINE]:
		push_warning(
			'godot-dtls: unknown backend preference "%s" (expected auto, python or engine); using auto.'
			% preference
		)
		preference = AUTO
	return preference


# True when a Python language is loaded: ".py" is then a script extension.
static func python_loaded() -> bool:
	return "py" in ResourceLoader.get_recognized_extensions_for_type("Script")


# [instance, reason]: a new instance of the adapter class in script_path, or null and why
# not (the reason is also what get_backend() callers see in the log).
static func create_python_object(script_path: String) -> Array:
	if not python_loaded():
		return [null, "no Python language loaded (pythonscript.gdnlib is not a singleton here)"]
	if not ResourceLoader.exists(script_path):
		return [null, "%s is missing" % script_path]
	var script = load(script_path)
	if script == null:
		return [null, "%s did not load (see the Python error above)" % script_path]
	var instance = script.new()
	if instance == null or not instance.has_method("get_backend"):
		return [null, "%s gave no usable object" % script_path]
	return [instance, ""]


# The backend a facade runs on: {"python": the adapter object or null, "engine": true when
# the engine's class must be used, "name": what get_backend() reports, "error": why no
# backend exists (pushed as an error already)}. script_path is the facade's adapter;
# also_needed a script that must load with it (the server's peers); engine_class names
# the engine's class in messages.
static func choose(
	prefer_backend: String, script_path: String, also_needed: String, engine_class: String
) -> Dictionary:
	var preference: String = resolve_preference(prefer_backend)
	var reason := "preferred by the project"
	if preference != ENGINE:
		var made: Array = create_python_object(script_path)
		if made[0] != null and (also_needed.empty() or load(also_needed) != null):
			var name := backend_name(made[0])
			log_choice(name, "")
			return {"python": made[0], "engine": false, "name": name, "error": ""}
		reason = made[1] if made[0] == null else "%s did not load" % also_needed
		if preference == PYTHON:
			var error := (
				'godot-dtls: the Python backend was required (prefer_backend "python") but is not available: %s'
				% reason
			)
			push_error(error)
			return {"python": null, "engine": false, "name": NO_BACKEND, "error": error}
	log_choice("engine:" + engine_class, reason)
	return {"python": null, "engine": true, "name": "engine:" + engine_class, "error": ""}


# The adapter's own backend name ("python:godot-python"), or "python" if it gives none.
static func backend_name(python_object) -> String:
	var name = python_object.get_backend()
	if typeof(name) != TYPE_STRING or name.empty():
		return "python"
	return name


# Logs once per process which backend the facades use and why, so a fallback is visible.
static func log_choice(backend: String, reason: String) -> void:
	if Engine.has_meta(LOGGED_META):
		return
	Engine.set_meta(LOGGED_META, true)
	if reason.empty():
		print("godot-dtls: DTLS runs on %s" % backend)
	else:
		print("godot-dtls: DTLS runs on %s (%s)" % [backend, reason])


# An int Error from a Python call result: anything but an int (a call that failed gives
# null) is FAILED, since GDScript cannot catch exceptions, only compare codes.
static func to_error(value) -> int:
	if typeof(value) == TYPE_INT:
		return value
	return FAILED


# Bytes from a Python call result (null after a failed call).
static func to_bytes(value) -> PoolByteArray:
	if typeof(value) == TYPE_RAW_ARRAY:
		return value
	return PoolByteArray()


# Sets key of a facade's extension options to value when enabled, removes it otherwise
# (the builders' "empty turns it off" rule).
static func set_extra(extras: Dictionary, key: String, value, enabled: bool) -> void:
	if enabled:
		extras[key] = value
	else:
		extras.erase(key)


# extras merged into options (Godot 3.2's Dictionary has no merge()).
static func merged(options: Dictionary, extras: Dictionary) -> Dictionary:
	for key in extras:
		options[key] = extras[key]
	return options


# The file path the Python side writes a key log to: path globalized (res://, user://),
# or "" to turn the key log off.
static func key_log_path(path: String) -> String:
	return ProjectSettings.globalize_path(path) if not path.empty() else ""


# The error a facade reports when the engine backend is asked for extension options it
# cannot honour; features names each key for people.
static func engine_refusal(
	method: String, keys: Array, features: Dictionary, engine_class: String
) -> String:
	var names := PoolStringArray()
	for key in keys:
		names.append(str(features.get(key, key)))
	return (
		"%s: %s need the Python backend; the engine's %s cannot honour them"
		% [method, names.join(", "), engine_class]
	)
