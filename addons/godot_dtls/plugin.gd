@tool
extends EditorPlugin
## Editor side of godot-dtls.
##
## Registers [code]android_internet_export_plugin.gd[/code], which warns when an Android
## export preset leaves [code]permissions/internet[/code] off (without it the exported app
## cannot open a UDP socket, so no DTLS peer ever connects), and adds the project setting
## that picks the DTLS backend of [PythonPacketPeerDTLS] and [PythonDTLSServer].

## The export plugin class registered in [method _enter_tree].
const AndroidInternetExportPlugin := preload(
	"res://addons/godot_dtls/android_internet_export_plugin.gd"
)
## Backend constants shared with the facades (setting name and values).
const Backends := preload("res://addons/godot_dtls/godot_dtls_backends.gd")

## The registered export plugin, kept to unregister it in [method _exit_tree].
var _export_plugin: EditorExportPlugin


## Registers the export plugin and the backend setting when the plugin is enabled.
func _enter_tree() -> void:
	_export_plugin = AndroidInternetExportPlugin.new()
	add_export_plugin(_export_plugin)
	_add_backend_setting()


## Unregisters the export plugin when the plugin is disabled.
func _exit_tree() -> void:
	if _export_plugin != null:
		remove_export_plugin(_export_plugin)
		_export_plugin = null


## Shows [code]godot_dtls/runtime/prefer_backend[/code] in Project Settings. The value
## stays out of project.godot until changed (its initial value is the default), and it is
## kept when the plugin is disabled, since scripts still read it at run time.
func _add_backend_setting() -> void:
	var setting := Backends.PREFER_BACKEND_SETTING
	if not ProjectSettings.has_setting(setting):
		ProjectSettings.set_setting(setting, Backends.AUTO)
	ProjectSettings.set_initial_value(setting, Backends.AUTO)
	var property_info := {
		"name": setting,
		"type": TYPE_STRING,
		"hint": PROPERTY_HINT_ENUM,
		"hint_string": ",".join([Backends.AUTO, Backends.PYTHON, Backends.ENGINE]),
	}
	ProjectSettings.add_property_info(property_info)
