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
