@tool
extends RefCounted
## Finds the Python object that does the DTLS work, for each Godot 4 Python runtime.
##
## Shared by [PythonPacketPeerDTLS] and [PythonDTLSServer] so a client and a server in one
## game always agree on the runtime. Each runtime reaches Python differently:
## [br]- godot-python-extension (maiself) registers real extension classes
## ([code]PyPacketPeerDTLS[/code], [code]PyDTLSServer[/code]) when it imports the package
## named by [code]godot_dtls.pyextension[/code] in the working directory: found with
## [method ClassDB.class_exists].
## [br]- py4godot has no global class names and no [code]new()[/code] on Python scripts:
## a [RefCounted] gets the script [code]addons/godot_dtls/python/py4godot/<Class>.py[/code]
## with [method Object.set_script]. py4godot never frees a script object, so these objects
## are kept in a pool and reused ([method release_python_object]).
## [br]- godot-python 0.50 runs on Godot 3 only, where this GDScript 2 code cannot load;
## Godot 3 projects call its adapter directly (see the addon README).
## [br]The choice of backend and its reason are printed once per backend (a warning when a
## Python runtime is there but the adapter did not load), so a fallback is never silent.

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
## Folder of the py4godot adapters (one class per file, named like the file).
const PY4GODOT_ADAPTER_DIR := "res://addons/godot_dtls/python/py4godot"
## [method get_backend] text of the py4godot adapters.
const PY4GODOT_BACKEND := "python:py4godot"
## A class godot-python-extension registers for itself, whatever the project's packages.
const MAISELF_LANGUAGE_CLASS := "PythonLanguage"

## Backends whose choice was already printed (each is printed once per process).
static var _logged_choices: Dictionary = {}
## Idle py4godot adapter objects by Python class name, ready for reuse.
static var _idle_py4godot_objects: Dictionary = {}


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


## The backend a facade runs on, as [code]{"object": the Python adapter object or null,
## "engine": true when the engine's class must be used, "reason": why, "warn": whether the
## reason deserves a warning, "error": why no backend exists (already pushed)}[/code], for
## [param prefer_backend] (see [method resolve_preference]) and the adapter class
## [param python_class].
static func choose(prefer_backend: String, python_class: String) -> Dictionary:
	var preference := resolve_preference(prefer_backend)
	var chosen := {"object": null, "engine": true, "reason": "", "warn": false, "error": ""}
	if preference == ENGINE:
		chosen["reason"] = 'prefer_backend is "engine"'
		return chosen
	var found := find_python_object(python_class)
	chosen["reason"] = found["reason"]
	if found["object"] != null:
		chosen["object"] = found["object"]
		chosen["engine"] = false
	elif preference == PYTHON:
		chosen["engine"] = false
		chosen["error"] = (
			'godot-dtls: the Python backend was required (prefer_backend "python") '
			+ "but is not available: %s" % found["reason"]
		)
		push_error(chosen["error"])
	else:
		chosen["warn"] = found["warn"]
	return chosen


## The Python object of class [param python_class] from whichever runtime provides it,
## and why: a Dictionary with [code]"object"[/code] (null when there is none),
## [code]"reason"[/code] and [code]"warn"[/code] (true when a Python runtime is loaded but
## the adapter is not usable, which deserves a warning rather than a note).
static func find_python_object(python_class: String) -> Dictionary:
	if ClassDB.class_exists(python_class) and ClassDB.can_instantiate(python_class):
		var instance: Object = ClassDB.instantiate(python_class)
		if is_adapter(instance):
			var found := "godot-python-extension registered %s" % python_class
			return {"object": instance, "reason": found, "warn": false}
	if FileAccess.file_exists(PY4GODOT_GDEXTENSION):
		var pooled := acquire_py4godot_object(python_class)
		if pooled != null:
			var loaded := "py4godot loaded %s" % py4godot_script_path(python_class)
			return {"object": pooled, "reason": loaded, "warn": false}
		var failed := (
			"py4godot could not load %s as the godot-dtls adapter (see the errors py4godot "
			+ "printed while loading it)"
		)
		return {"object": null, "reason": failed % py4godot_script_path(python_class), "warn": true}
	if ClassDB.class_exists(MAISELF_LANGUAGE_CLASS):
		return {"object": null, "reason": _maiself_without_adapter(python_class), "warn": true}
	return {"object": null, "reason": describe_python_runtimes(python_class), "warn": false}


## The [code]res://[/code] path of the py4godot adapter script for [param python_class].
static func py4godot_script_path(python_class: String) -> String:
	return "%s/%s.py" % [PY4GODOT_ADAPTER_DIR, python_class]


## Whether [param instance] is a godot-dtls adapter: a py4godot script that failed to load
## still attaches, as a plain object without the adapter's methods.
static func is_adapter(instance: Object) -> bool:
	if instance == null or not instance.has_method("get_backend"):
		return false
	var backend: Variant = instance.get_backend()
	return typeof(backend) == TYPE_STRING and str(backend).begins_with("python:")


## An idle py4godot adapter object of [param python_class] from the pool, or a new
## [RefCounted] running the script; null when the script is missing or did not load.
static func acquire_py4godot_object(python_class: String) -> Object:
	var idle: Array = _idle_py4godot_objects.get(python_class, [])
	if not idle.is_empty():
		return idle.pop_back()
	var script_path := py4godot_script_path(python_class)
	if not ResourceLoader.exists(script_path):
		return null
	var script := load(script_path) as Script
	if script == null:
		return null
	var holder := RefCounted.new()
	holder.set_script(script)
	if holder.get_script() != script or not is_adapter(holder):
		return null
	return holder


## Gives back a facade's Python object when the facade goes away: a py4godot object (never
## freed by py4godot) is recycled (its connection closed and forgotten) and kept for the
## next facade; other runtimes free theirs as usual.
static func release_python_object(instance: Object, python_class: String, backend: String) -> void:
	if instance == null or backend != PY4GODOT_BACKEND:
		return
	instance.recycle()
	var idle: Array = _idle_py4godot_objects.get(python_class, [])
	idle.append(instance)
	_idle_py4godot_objects[python_class] = idle


## Prints, once per [param backend] in this process, which backend the facades use and
## why; with [param warn] as a warning (a Python runtime is there but not usable).
static func log_choice(backend: String, reason: String, warn: bool) -> void:
	if _logged_choices.has(backend):
		return
	_logged_choices[backend] = true
	var message := "godot-dtls: using %s (%s)" % [backend, reason]
	if warn:
		push_warning(message)
	else:
		print(message)


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


## Why godot-python-extension is loaded but registered no [param python_class].
static func _maiself_without_adapter(python_class: String) -> String:
	var missing := "godot-python-extension is loaded but registered no %s: " % python_class
	if OS.has_feature("template"):
		return (
			missing
			+ "an exported game reads *.pyextension from its working directory, so put "
			+ "godot_dtls.pyextension beside the executable and start the game from that "
			+ "folder (see the addon README)"
		)
	return (
		missing
		+ "check godot_dtls.pyextension in the project root and the error godot-dtls "
		+ "pushed while the runtime imported it"
	)


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
