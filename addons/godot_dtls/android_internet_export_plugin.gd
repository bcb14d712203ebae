@tool
extends EditorExportPlugin
## Warns when an Android export preset leaves [code]permissions/internet[/code] off.
##
## Without it the manifest lacks [code]android.permission.INTERNET[/code] and Android
## refuses to create sockets: [method UDPServer.listen] and [method PacketPeerUDP.bind]
## fail with [constant ERR_CANT_CREATE], [method PacketPeerUDP.connect_to_host] with
## [constant ERR_CANT_OPEN]. One-click deploy with remote debugging adds the permission by
## itself, so a project can work from the editor and fail only as an exported APK/AAB, and
## the engine prints no export warning for it. This plugin adds one: as a configuration
## warning in the export dialog (through its own option, which a project that really needs
## no network can switch off) and as an editor warning when the export starts.

## Plugin option in [code][preset.N.options][/code]; true shows the warning.
const WARN_OPTION := "godot_dtls/warn_missing_internet"
## The Android platform option that grants android.permission.INTERNET.
const INTERNET_OPTION := "permissions/internet"
## What [method EditorExportPlatform.get_os_name] returns for Android.
const ANDROID_OS_NAME := "Android"
## Feature tag every Android export carries (used where no platform object is passed).
const ANDROID_FEATURE := "android"


## Identifies this plugin in the export system.
func _get_name() -> String:
	return "GodotDTLSAndroidInternet"


## Only Android needs the permission; other platforms never see this plugin's option.
func _supports_platform(platform: EditorExportPlatform) -> bool:
	return platform != null and platform.get_os_name() == ANDROID_OS_NAME


## Adds [constant WARN_OPTION] (default on) to Android presets.
func _get_export_options(platform: EditorExportPlatform) -> Array[Dictionary]:
	var options: Array[Dictionary] = []
	if _supports_platform(platform):
		var warn_option := {
			"option": {"name": WARN_OPTION, "type": TYPE_BOOL},
			"default_value": true,
		}
		options.append(warn_option)
	return options


## The export dialog's configuration warning, shown while INTERNET is off.
func _get_export_option_warning(platform: EditorExportPlatform, option: String) -> String:
	if option != WARN_OPTION or not _supports_platform(platform):
		return ""
	if not _warning_wanted() or _internet_allowed():
		return ""
	return missing_internet_message(_preset_name())


## Repeats the warning in the editor output when an Android export starts.
func _export_begin(
	features: PackedStringArray, _is_debug: bool, _path: String, _flags: int
) -> void:
	# _export_begin runs for every platform's export: the feature tag tells Android apart
	if not features.has(ANDROID_FEATURE):
		return
	if _warning_wanted() and not _internet_allowed():
		push_warning(missing_internet_message(_preset_name()))


## The warning text, naming the preset and the exact way to fix it.
static func missing_internet_message(preset_name: String) -> String:
	return (
		(
			'godot-dtls: the Android export preset "%s" does not allow INTERNET, so the '
			+ "exported app cannot open UDP sockets and DTLS cannot connect. Enable it in "
			+ "Project > Export > %s > Permissions > Internet, or set "
			+ "permissions/internet=true in export_presets.cfg."
		)
		% [preset_name, preset_name]
	)


## True when the preset's own option (default true) asks for the warning.
func _warning_wanted() -> bool:
	var wanted: Variant = get_option(WARN_OPTION)
	return wanted == null or bool(wanted)


## True when the preset grants INTERNET. The option defaults to false, so a value the
## preset does not hold counts as off.
func _internet_allowed() -> bool:
	var allowed: Variant = get_option(INTERNET_OPTION)
	return allowed != null and bool(allowed)


## The preset's name for messages. [method get_export_preset] and
## [code]EditorExportPreset.get_preset_name()[/code] are not script-visible in every 4.x
## release, so they are looked up dynamically and "Android" stands in when absent.
func _preset_name() -> String:
	if has_method("get_export_preset"):
		var preset: Object = call("get_export_preset")
		if preset != null and preset.has_method("get_preset_name"):
			var preset_name := str(preset.call("get_preset_name"))
			if not preset_name.is_empty():
				return preset_name
	return ANDROID_OS_NAME
