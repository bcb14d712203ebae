@tool
@icon("res://addons/godot_dtls/icon.svg")
class_name PythonPacketPeerDTLS extends RefCounted
## A DTLS 1.2 peer with the methods of [PacketPeerDTLS], run by godot-dtls (Python on
## pyOpenSSL) when a Python runtime is loaded, else by the engine's own [PacketPeerDTLS].
##
## Write the code once, the way you would for [PacketPeerDTLS]: connect a
## [PacketPeerUDP], call [method connect_to_peer], then [method poll] every frame and
## exchange packets while [method get_status] is [constant STATUS_CONNECTED]. On desktop
## with godot-python-extension or py4godot the Python implementation does the work (its
## differences from the engine are listed in the godot-dtls README); on Android, the web or
## any build without Python the same script runs on the engine's class.
## [method get_backend] tells which one is in use.
## [codeblock]
## var udp := PacketPeerUDP.new()
## udp.connect_to_host("127.0.0.1", 4433)
## var dtls := PythonPacketPeerDTLS.new()
## dtls.connect_to_peer(udp, "game.example", TLSOptions.client(trusted_cert))
## # every frame:
## dtls.poll()
## if dtls.get_status() == PythonPacketPeerDTLS.Status.STATUS_CONNECTED:
##     dtls.put_var({"hello": "server"})
## [/codeblock]
## Named enum values need their enum in GDScript, hence [code]Status.STATUS_CONNECTED[/code];
## the numbers equal [enum PacketPeerDTLS.Status], so the engine's constants compare equal.

## Emitted when [method get_status] changes, as seen after [method connect_to_peer],
## [method poll], [method disconnect_from_peer], [method put_packet] or
## [method get_packet] (the calls that can change it).
signal status_changed(new_status: Status)

## The states of a peer; same names and numbers as [enum PacketPeerDTLS.Status].
enum Status {
	## No connection: before [method connect_to_peer], after a close or
	## [method disconnect_from_peer].
	STATUS_DISCONNECTED,
	## Handshake under way: keep calling [method poll].
	STATUS_HANDSHAKING,
	## Handshake done: packets can flow.
	STATUS_CONNECTED,
	## The handshake or the connection failed; [method get_last_error_message] says why.
	STATUS_ERROR,
	## The certificate chain is trusted but names a different host than the one given to
	## [method connect_to_peer].
	STATUS_ERROR_HOSTNAME_MISMATCH,
}

## Name of the Python class (extension class, or py4godot script file stem).
const PYTHON_CLASS := "PyPacketPeerDTLS"
## [method get_backend] text when the engine's [PacketPeerDTLS] does the work.
const ENGINE_BACKEND := "engine:PacketPeerDTLS"
## Largest encoded [method put_var] payload, as the engine's default
## [member PacketPeer.encode_buffer_max_size] (8 MiB).
const ENCODE_BUFFER_MAX_SIZE := 8 * 1024 * 1024
## Size of a Variant header in the wire format (type id in the low byte).
const VARIANT_HEADER_SIZE := 4
## Finds the Python runtime; shared with [PythonDTLSServer].
const Backends := preload("res://addons/godot_dtls/godot_dtls_backends.gd")

## The Python peer ([code]PyPacketPeerDTLS[/code]), or null.
var _py: Object
## The engine peer, or null.
var _engine_peer: PacketPeerDTLS
## What [method get_backend] reports.
var _backend := Backends.NO_BACKEND
## Error of the last [method get_packet] or [method get_var].
var _packet_error: Error = OK
## The status last announced by [signal status_changed].
var _last_status: Status = Status.STATUS_DISCONNECTED
## The facade's own last error (backend missing, bad arguments).
var _last_error := ""


## Picks the backend: [param prefer_backend] is [code]"auto"[/code] (Python when loaded,
## else the engine), [code]"python"[/code] (Python or an error, never a silent fallback)
## or [code]"engine"[/code]; empty means the project setting
## [code]godot_dtls/runtime/prefer_backend[/code] (default auto).
## [param adopted_peer] is for [PythonDTLSServer]: it wraps a peer the server created
## (engine or Python) instead of making a new one.
func _init(prefer_backend: String = "", adopted_peer: Object = null) -> void:
	if adopted_peer != null:
		_adopt(adopted_peer)
		return
	var preference := Backends.resolve_preference(prefer_backend)
	if preference != Backends.ENGINE:
		_py = Backends.create_python_object(PYTHON_CLASS)
		if _py != null:
			_backend = _python_backend_name()
			return
		var runtimes := Backends.describe_python_runtimes(PYTHON_CLASS)
		if preference == Backends.PYTHON:
			_last_error = (
				'godot-dtls: the Python backend was required (prefer_backend "python") '
				+ "but is not available: %s" % runtimes
			)
			push_error(_last_error)
			return
		print_verbose("godot-dtls: no Python backend (%s); using PacketPeerDTLS" % runtimes)
	_engine_peer = PacketPeerDTLS.new()
	if _engine_peer != null:
		_backend = ENGINE_BACKEND
	else:
		_last_error = "godot-dtls: this engine build has no PacketPeerDTLS (mbedtls disabled)"
		push_error(_last_error)


## Starts a DTLS client handshake over [param packet_peer], which must already be
## connected with [method PacketPeerUDP.connect_to_host]. [param hostname] is checked
## against the server certificate and sent as SNI. [param client_options] come from
## [method TLSOptions.client] or [method TLSOptions.client_unsafe]; null means
## [code]TLSOptions.client()[/code] (the default CA bundle).
## Returns [constant OK] with the status [constant STATUS_HANDSHAKING], else an error
## ([constant ERR_INVALID_PARAMETER] for an unconnected peer or server options,
## [constant ERR_ALREADY_IN_USE] while a connection is live).
func connect_to_peer(
	packet_peer: PacketPeerUDP, hostname: String, client_options: TLSOptions = null
) -> Error:
	var result: Error
	if _engine_peer != null:
		result = _engine_peer.connect_to_peer(packet_peer, hostname, client_options)
	elif _py != null:
		if client_options != null and client_options.is_server():
			_last_error = "connect_to_peer: TLSOptions.server() options given to a client"
			push_error(_last_error)
			return ERR_INVALID_PARAMETER
		var options := client_options_to_dictionary(client_options)
		result = Backends.to_error(_py.connect_to_peer(packet_peer, hostname, options))
	else:
		return _unavailable("connect_to_peer")
	_refresh_status()
	return result


## Moves the connection forward: sends and receives handshake messages, retransmits,
## reads arriving packets. Call it every frame; state changes show in
## [method get_status] and [signal status_changed].
func poll() -> void:
	if _engine_peer != null:
		_engine_peer.poll()
	elif _py != null:
		_py.poll()
	_refresh_status()


## The current state; see [enum Status].
func get_status() -> Status:
	if _engine_peer != null:
		return int(_engine_peer.get_status()) as Status
	if _py != null:
		var status: Variant = _py.get_status()
		if typeof(status) == TYPE_INT and status >= 0 and status < Status.size():
			return status as Status
		return Status.STATUS_ERROR
	return Status.STATUS_DISCONNECTED


## Closes the connection: a connected peer sends close_notify first. The status becomes
## [constant STATUS_DISCONNECTED]; an error status is kept, as in the engine.
func disconnect_from_peer() -> void:
	if _engine_peer != null:
		_engine_peer.disconnect_from_peer()
	elif _py != null:
		_py.disconnect_from_peer()
	_refresh_status()


## Sends one packet (at most 16384 bytes) as one DTLS record. Returns [constant OK], or
## [constant ERR_UNCONFIGURED] when not connected.
func put_packet(buffer: PackedByteArray) -> Error:
	var result: Error
	if _engine_peer != null:
		result = _engine_peer.put_packet(buffer)
	elif _py != null:
		result = Backends.to_error(_py.put_packet(buffer))
	else:
		return _unavailable("put_packet")
	_refresh_status()
	return result


## Takes the next received packet (empty when there is none); its error is then in
## [method get_packet_error].
func get_packet() -> PackedByteArray:
	var packet := PackedByteArray()
	if _engine_peer != null:
		packet = _engine_peer.get_packet()
		_packet_error = _engine_peer.get_packet_error()
	elif _py != null:
		packet = Backends.to_bytes(_py.get_packet())
		_packet_error = Backends.to_error(_py.get_packet_error())
	else:
		_packet_error = _unavailable("get_packet")
	_refresh_status()
	return packet


## Packets waiting for [method get_packet]. The engine's peer reports 0 or 1; the Python
## peer queues every packet [method poll] read, so loop while this is above 0.
func get_available_packet_count() -> int:
	if _engine_peer != null:
		return _engine_peer.get_available_packet_count()
	if _py != null:
		var count: Variant = _py.get_available_packet_count()
		return count if typeof(count) == TYPE_INT else 0
	return 0


## Error of the last [method get_packet] or [method get_var] ([constant OK] at first).
func get_packet_error() -> Error:
	return _packet_error


## Sends [param value] encoded as [method @GlobalScope.var_to_bytes] does (with
## [param full_objects], objects travel whole: only between peers you trust).
func put_var(value: Variant, full_objects := false) -> Error:
	var encoded := var_to_bytes_with_objects(value) if full_objects else var_to_bytes(value)
	if encoded.is_empty():
		_last_error = "put_var: the value cannot be encoded"
		push_error(_last_error)
		return ERR_INVALID_DATA
	if encoded.size() > ENCODE_BUFFER_MAX_SIZE:
		_last_error = (
			"put_var: encoded value is %d bytes, more than %d"
			% [encoded.size(), ENCODE_BUFFER_MAX_SIZE]
		)
		push_error(_last_error)
		return ERR_OUT_OF_MEMORY
	return put_packet(encoded)


## Takes the next packet and decodes it as a Variant; null when there is none or it does
## not decode ([method get_packet_error] then says [constant ERR_INVALID_DATA] — unlike the
## engine, which leaves it unchanged). Objects decode only with [param allow_objects].
func get_var(allow_objects := false) -> Variant:
	var packet := get_packet()
	if _packet_error != OK:
		return null
	if packet.size() < VARIANT_HEADER_SIZE:
		_packet_error = ERR_INVALID_DATA
		push_error("get_var: no packet to decode (check get_available_packet_count() first)")
		return null
	var value: Variant = (
		bytes_to_var_with_objects(packet) if allow_objects else bytes_to_var(packet)
	)
	if typeof(value) == TYPE_NIL and (packet.decode_u32(0) & 0xFF) != TYPE_NIL:
		_packet_error = ERR_INVALID_DATA
	return value


## Which implementation runs this peer: [code]"engine:PacketPeerDTLS"[/code], a Python
## runtime such as [code]"python:godot-python-extension"[/code], or [code]"none"[/code].
func get_backend() -> String:
	return _backend


## Why the last operation failed (the Python backend explains handshake failures such as
## an untrusted certificate); empty when nothing failed or the engine gives no reason.
func get_last_error_message() -> String:
	if _py != null:
		var message: Variant = _py.get_last_error_message()
		if typeof(message) == TYPE_STRING and not str(message).is_empty():
			return message
	return _last_error


## The options [param client_options] as the Dictionary the Python adapter expects:
## [code]mode[/code] ("client" or "client_unsafe"), [code]trusted_chain_pem[/code] (""
## for the default CA bundle) and [code]common_name_override[/code].
static func client_options_to_dictionary(client_options: TLSOptions) -> Dictionary:
	var options := {"mode": "client", "trusted_chain_pem": "", "common_name_override": ""}
	if client_options == null:
		return options
	if client_options.is_unsafe_client():
		options["mode"] = "client_unsafe"
	var chain := client_options.get_trusted_ca_chain()
	if chain != null:
		options["trusted_chain_pem"] = chain.save_to_string()
	options["common_name_override"] = client_options.get_common_name_override()
	return options


## Wraps a peer made by a server (engine or Python) instead of creating one.
func _adopt(peer: Object) -> void:
	if peer is PacketPeerDTLS:
		_engine_peer = peer as PacketPeerDTLS
		_backend = ENGINE_BACKEND
	else:
		_py = peer
		_backend = _python_backend_name()
	_last_status = get_status()


## The adapter's own backend name ("python:<runtime>"), or "python" if it has none.
func _python_backend_name() -> String:
	var backend_name: Variant = _py.get_backend() if _py.has_method("get_backend") else null
	if typeof(backend_name) != TYPE_STRING or str(backend_name).is_empty():
		return "python"
	return backend_name


## The error of a call made on a facade without a backend.
func _unavailable(method: String) -> Error:
	push_error("%s: no DTLS backend (%s)" % [method, _last_error])
	return ERR_UNAVAILABLE


## Emits [signal status_changed] when the status differs from the last one announced.
func _refresh_status() -> void:
	var current := get_status()
	if current != _last_status:
		_last_status = current
		status_changed.emit(current)
