extends SceneTree
# The Python scripts load again, however often, after every instance and the Script
# resource were freed: plain loops, two scripts alternating, a preload, Script.reload(),
# and scene changes (each scene's node loads the class in _ready).

const H = preload("res://checks/harness.gd")
const ROUNDS := 20
const SCENE_NODE_SOURCE := """extends Node
func _ready():
	var script = load("%s")
	var made = script.new() if script != null else null
	var key = "godot_dtls_scene_ok"
	var ok = made != null and made.get_backend() == "python:godot-python" and made.put_var(1) == ERR_UNCONFIGURED
	Engine.set_meta(key, Engine.get_meta(key) + (1 if ok else 0))
"""

var scenes := []
var changes := 0


func _initialize() -> void:
	_check_loop("load_new_free_%d_times" % ROUNDS, [H.PEER_SCRIPT])
	_check_loop("server_load_new_free_%d_times" % ROUNDS, [H.SERVER_SCRIPT])
	_check_loop("peer_and_server_alternating", [H.PEER_SCRIPT, H.SERVER_SCRIPT])
	_check_load_without_new("load_free_load_without_new")
	_check_instance_kept("instance_kept_while_loading_again")
	_check_preload("preload_%d_times" % ROUNDS)
	_check_script_reload("script_reload")
	_start_scene_changes()


func _usable(script_path: String) -> bool:
	var script = load(script_path)
	if script == null:
		return false
	var made = script.new()
	if made == null:
		return false
	return made.get_backend() == "python:godot-python" and made.get_last_error_message() == ""


func _check_loop(name: String, paths: Array) -> void:
	var ok := 0
	var really_freed := true
	for index in range(ROUNDS):
		var path: String = paths[index % paths.size()]
		if _usable(path):
			ok += 1
		really_freed = really_freed and not ResourceLoader.has_cached(path)
	H.check(name, ok == ROUNDS and really_freed, "%d of %d, script freed each time: %s" % [ok, ROUNDS, really_freed])


func _check_load_without_new(name: String) -> void:
	var script = load(H.PEER_SCRIPT)
	script = null
	H.check(name, _usable(H.PEER_SCRIPT) and _usable(H.PEER_SCRIPT))


func _check_instance_kept(name: String) -> void:
	var kept = load(H.PEER_SCRIPT).new()
	var ok := 0
	for _index in range(5):
		if _usable(H.PEER_SCRIPT) and ResourceLoader.has_cached(H.PEER_SCRIPT):
			ok += 1
	H.check(name, ok == 5 and kept.get_status() == 0 and kept.get_backend() == "python:godot-python", ok)


func _check_preload(name: String) -> void:
	var ok := 0
	for _index in range(ROUNDS):
		var preloader = load("res://checks/preloader.gd")
		if preloader != null and preloader.backend() == "python:godot-python":
			ok += 1
		preloader = null
	H.check(name, ok == ROUNDS, ok)


# Script.reload() as the editor runs it when the file changes: without instances, and
# keeping the state of a live one.
func _check_script_reload(name: String) -> void:
	var script = load(H.PEER_SCRIPT)
	var reloaded = script.reload()
	var fresh = script.new()
	var kept = script.reload(true)
	var after = script.new()
	var ok: bool = reloaded == OK and kept == OK and fresh.get_status() == 0
	H.check(name, ok and after.get_backend() == "python:godot-python", [reloaded, kept])


func _start_scene_changes() -> void:
	Engine.set_meta("godot_dtls_scene_ok", 0)
	for _index in range(2):
		var source := GDScript.new()
		source.source_code = SCENE_NODE_SOURCE % H.PEER_SCRIPT
		source.reload()
		var node := Node.new()
		node.set_script(source)
		var scene := PackedScene.new()
		scene.pack(node)
		node.free()
		scenes.append(scene)
	change_scene_to(scenes[0])


func _idle(_delta: float) -> bool:
	if scenes.empty():
		return false
	changes += 1
	if changes < ROUNDS:
		change_scene_to(scenes[changes % 2])
		return false
	var ok: int = Engine.get_meta("godot_dtls_scene_ok")
	H.check("scene_change_%d_times" % ROUNDS, ok == ROUNDS, "%d of %d scenes made a working peer" % [ok, ROUNDS])
	scenes.clear()
	H.done()
	quit()
	return true
