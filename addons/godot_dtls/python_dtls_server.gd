@tool
@icon("res://addons/godot_dtls/icon.svg")
class_name PythonDTLSServer extends RefCounted
## A DTLS server with the methods of [DTLSServer], run by godot-dtls (Python) when a
## Python runtime is loaded, else by the engine's own [DTLSServer].
##
## Use it like [DTLSServer]: [method setup] once with [method TLSOptions.server], then for
## every [PacketPeerUDP] that [method UDPServer.take_connection] hands out, call
## [method take_connection] and keep the returned [PythonPacketPeerDTLS] while it is
## [code]STATUS_HANDSHAKING[/code] or [code]STATUS_CONNECTED[/code]. A client's first
## datagram only earns it a cookie (HelloVerifyRequest): that first peer comes back in
## [code]STATUS_ERROR[/code] and should be dropped; the client's retry arrives as a new
## UDP peer and becomes the real connection.
## [codeblock]
## var server := PythonDTLSServer.new()
## server.setup(TLSOptions.server(key, cert))
## # every frame, after udp_server.poll():
## while udp_server.is_connection_available():
##     var peer := server.take_connection(udp_server.take_connection())
##     if peer and peer.get_status() == PythonPacketPeerDTLS.Status.STATUS_HANDSHAKING:
##         peers.append(peer)
## [/codeblock]
## Beyond the engine (Python backend only), set before [method setup] with chainable
## methods: [method with_sni] (a certificate per server name), [method with_alpn],
## [method with_session_resumption], [method with_key_log]; or [method setup_psk] to accept
## clients by pre-shared key. On the engine backend a setup asked to use any of them is
## refused with [constant ERR_UNAVAILABLE] rather than done without them.

## Name of the Python class (extension class, or py4godot script file stem).
const PYTHON_CLASS := "PyDTLSServer"
## [method get_backend] text when the engine's [DTLSServer] does the work.
const ENGINE_BACKEND := "engine:DTLSServer"
## Finds the Python runtime; shared with [PythonPacketPeerDTLS].
const Backends := preload("res://addons/godot_dtls/godot_dtls_backends.gd")
## What each extension option (a key of the Python options Dictionary) is called in the
## error the engine backend gives when asked for it.
const EXTENSION_FEATURES := {
	"sni": "certificates by server name (with_sni)",
	"alpn": "ALPN (with_alpn)",
	"session_resumption": "session resumption (with_session_resumption)",
	"key_log_file": "the TLS key log (with_key_log)",
	"idle_timeout": "the idle timeout (with_idle_timeout)",
	"psk": "pre-shared keys (setup_psk)",
}

## The Python server ([code]PyDTLSServer[/code]), or null.
var _py: Object
## The engine server, or null.
var _engine_server: DTLSServer
## What [method get_backend] reports.
var _backend := Backends.NO_BACKEND
## The facade's own last error (backend missing, bad arguments).
var _last_error := ""
## Extension options set by the [code]with_*[/code] methods, merged into the options
## Dictionary given to the Python backend by [method setup] and [method setup_psk].
var _extras: Dictionary = {}


## Picks the backend as [method PythonPacketPeerDTLS._init] does: [param prefer_backend]
## is "auto", "python" or "engine"; empty means the project setting
## [code]godot_dtls/runtime/prefer_backend[/code]. The choice and its reason are printed
## once per backend.
func _init(prefer_backend: String = "") -> void:
	var chosen := Backends.choose(prefer_backend, PYTHON_CLASS)
	_py = chosen["object"]
	_last_error = chosen["error"]
	if _py != null:
		_backend = _python_backend_name()
		Backends.log_choice(_backend, chosen["reason"], false)
	elif chosen["engine"]:
		_use_engine(chosen["reason"], chosen["warn"])


## Returns a py4godot object to the pool when the server goes away (py4godot never frees
## script objects); see [code]release_python_object[/code] in godot_dtls_backends.gd.
func _notification(what: int) -> void:
	if what == NOTIFICATION_PREDELETE and _py != null:
		Backends.release_python_object(_py, PYTHON_CLASS, _backend)
		_py = null


## Configures the server with [param server_options] from [method TLSOptions.server]
## (private key and certificate chain), plus the extensions set with the
## [code]with_*[/code] methods. Returns [constant OK]; [constant ERR_INVALID_PARAMETER]
## for null or client options or a bad extension value, [constant ERR_ALREADY_IN_USE] on a
## second call, [constant ERR_UNAVAILABLE] when extensions were set but the engine
## backend runs.
func setup(server_options: TLSOptions) -> Error:
	if _engine_server != null:
		if not _extras.is_empty():
			return _refuse_on_engine("setup", _extras.keys())
		return _engine_server.setup(server_options)
	if _py == null:
		push_error("setup: no DTLS backend (%s)" % _last_error)
		return ERR_UNAVAILABLE
	if server_options == null or not server_options.is_server():
		_last_error = "setup: server_options must come from TLSOptions.server()"
		push_error(_last_error)
		return ERR_INVALID_PARAMETER
	var options := server_options_to_dictionary(server_options)
	options.merge(_extras, true)
	return Backends.to_error(_py.setup(options))


## Configures the server to accept clients by pre-shared key instead of a certificate:
## [param keys] maps each client identity (String) to its key (PackedByteArray), as the
## clients pass them to [method PythonPacketPeerDTLS.connect_to_peer_psk];
## [param identity_hint] is sent to clients that want one. [method with_alpn] and
## [method with_key_log] apply, [method with_sni] and resumption do not. Python backend
## only: the engine backend returns [constant ERR_UNAVAILABLE]. Returns [constant OK], or
## [constant ERR_INVALID_PARAMETER] for an empty [param keys] or a key that is not a
## PackedByteArray.
func setup_psk(keys: Dictionary, identity_hint := "") -> Error:
	if _engine_server != null:
		var features: Array = ["psk"]
		features.append_array(_extras.keys())
		return _refuse_on_engine("setup_psk", features)
	if _py == null:
		push_error("setup_psk: no DTLS backend (%s)" % _last_error)
		return ERR_UNAVAILABLE
	var keys_hex := {}
	for identity: Variant in keys:
		var key: Variant = keys[identity]
		if typeof(key) != TYPE_PACKED_BYTE_ARRAY:
			_last_error = "setup_psk: the key of identity %s must be a PackedByteArray" % identity
			push_error(_last_error)
			return ERR_INVALID_PARAMETER
		var key_bytes: PackedByteArray = key
		keys_hex[str(identity)] = key_bytes.hex_encode()
	var options := {
		"mode": "server_psk", "psk_keys_hex": keys_hex, "psk_identity_hint": identity_hint
	}
	options.merge(_extras, true)
	return Backends.to_error(_py.setup(options))


## Presents [param certificate] (leaf first, then its chain) signed for [param key] to
## clients that ask for the server name [param name] (SNI, the hostname they connect to),
## instead of the certificate given to [method setup]. Call once per name. Python backend
## only. Returns this server, for chaining.
func with_sni(name: String, key: CryptoKey, certificate: X509Certificate) -> PythonDTLSServer:
	var names: Dictionary = _extras.get("sni", {})
	names[name] = {
		"key_pem": key.save_to_string() if key != null else "",
		"certificate_pem": certificate.save_to_string() if certificate != null else "",
	}
	_extras["sni"] = names
	return self


## Accepts the application protocols [param protocols] (ALPN), in order of preference:
## the first one a client also offers is agreed on. An empty array removes them. Python
## backend only. Returns this server.
func with_alpn(protocols: PackedStringArray) -> PythonDTLSServer:
	_set_extra("alpn", Array(protocols), not protocols.is_empty())
	return self


## With [param enabled], clients that ask for it resume their earlier session (an
## abbreviated handshake, see [method PythonPacketPeerDTLS.with_session_resumption]).
## Python backend only. Returns this server.
func with_session_resumption(enabled := true) -> PythonDTLSServer:
	_set_extra("session_resumption", true, enabled)
	return self


## Appends the session secrets to the file [param path] in NSS key log format, for
## Wireshark ([code]res://[/code] and [code]user://[/code] paths are globalized).
## Debugging only. An empty path turns it off. Python backend only. Returns this server.
func with_key_log(path: String) -> PythonDTLSServer:
	var os_path := Backends.key_log_path(path)
	_set_extra("key_log_file", os_path, not os_path.is_empty())
	return self


## Ends each connection taken after [method setup] that hears nothing from its client
## for [param seconds] (close_notify, then [code]STATUS_DISCONNECTED[/code]; see
## [method PythonPacketPeerDTLS.with_idle_timeout]). Call it before [method setup];
## [code]0[/code] turns it off (the default). Python backend only. Returns this server.
func with_idle_timeout(seconds: float) -> PythonDTLSServer:
	_set_extra("idle_timeout", seconds, seconds != 0.0)
	return self


## Starts the server side of a handshake with the client behind [param udp_peer] (a peer
## from [method UDPServer.take_connection]). Returns the new peer, in
## [code]STATUS_HANDSHAKING[/code] when the client presented a valid cookie and
## [code]STATUS_ERROR[/code] when it was just sent one; null when [method setup] never
## succeeded or [param udp_peer] is null.
func take_connection(udp_peer: PacketPeerUDP) -> PythonPacketPeerDTLS:
	var peer: Object = null
	if _engine_server != null:
		peer = _engine_server.take_connection(udp_peer)
	elif _py != null:
		peer = _take_python_connection(udp_peer)
	else:
		push_error("take_connection: no DTLS backend (%s)" % _last_error)
	if peer == null:
		return null
	return PythonPacketPeerDTLS.new("", peer, udp_peer)


## Which implementation runs this server: [code]"engine:DTLSServer"[/code], a Python
## runtime such as [code]"python:godot-python-extension"[/code], or [code]"none"[/code].
func get_backend() -> String:
	return _backend


## Why the last operation failed, when known.
func get_last_error_message() -> String:
	if _py != null and _py.has_method("get_last_error_message"):
		var message: Variant = _py.get_last_error_message()
		if typeof(message) == TYPE_STRING and not str(message).is_empty():
			return message
	return _last_error


## The options [param server_options] as the Dictionary the Python adapter expects:
## [code]key_pem[/code] and [code]certificate_pem[/code] (the whole chain); "" for a
## missing key or certificate, which the handshake then reports.
static func server_options_to_dictionary(server_options: TLSOptions) -> Dictionary:
	var key := server_options.get_private_key()
	var certificate := server_options.get_own_certificate()
	return {
		"key_pem": key.save_to_string() if key != null else "",
		"certificate_pem": certificate.save_to_string() if certificate != null else "",
	}


## Sets the extension option [param key] to [param value], or removes it when not
## [param enabled].
func _set_extra(key: String, value: Variant, enabled: bool) -> void:
	Backends.set_extra(_extras, key, value, enabled)


## Refuses [param method] on the engine backend, which cannot honour the extension
## options [param keys]: names them in the error and returns [constant ERR_UNAVAILABLE].
func _refuse_on_engine(method: String, keys: Array) -> Error:
	_last_error = Backends.engine_refusal(method, keys, EXTENSION_FEATURES, "DTLSServer")
	push_error(_last_error)
	return ERR_UNAVAILABLE


## The adapter's own backend name ("python:<runtime>"), or "python" if it has none.
func _python_backend_name() -> String:
	var backend_name: Variant = _py.get_backend() if _py.has_method("get_backend") else null
	if typeof(backend_name) != TYPE_STRING or str(backend_name).is_empty():
		return "python"
	return backend_name


## godot-python-extension's server returns a new peer object itself. A py4godot script
## cannot create another script object, so its server only has an id, and a
## [code]PyPacketPeerDTLS.py[/code] object from the pool accepts the connection on the
## server's behalf (it goes back to the pool when the returned facade is dropped, so a
## cookie exchange costs no new object). Like the engine, a peer comes back whatever the
## accept result; its status tells.
func _take_python_connection(udp_peer: PacketPeerUDP) -> Object:
	if _py.has_method("take_connection"):
		var taken: Variant = _py.take_connection(udp_peer)
		return taken if typeof(taken) == TYPE_OBJECT else null
	if not _py.has_method("get_server_id"):
		_last_error = "take_connection: the Python server has no take_connection/get_server_id"
		push_error(_last_error)
		return null
	if udp_peer == null:
		_last_error = "take_connection: udp_peer is null"
		push_error(_last_error)
		return null
	var peer := Backends.acquire_py4godot_object(PythonPacketPeerDTLS.PYTHON_CLASS)
	if peer == null:
		_last_error = "take_connection: cannot create a PyPacketPeerDTLS.py script object"
		push_error(_last_error)
		return null
	peer.accept_connection(_py.get_server_id(), udp_peer)
	return peer


## Runs on the engine's [DTLSServer], saying once why ([param reason]).
func _use_engine(reason: String, warn: bool) -> void:
	_engine_server = DTLSServer.new()
	if _engine_server != null:
		_backend = ENGINE_BACKEND
		Backends.log_choice(_backend, reason, warn)
	else:
		_last_error = "godot-dtls: this engine build has no DTLSServer (mbedtls disabled)"
		push_error(_last_error)
