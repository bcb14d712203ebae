@tool  # gdlint:ignore = max-public-methods
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
## [br][br]
## Beyond the engine (Python backend only), set before connecting with chainable methods:
## [method with_pins], [method with_crls], [method with_alpn],
## [method with_session_resumption], [method with_key_log], and
## [method connect_to_peer_psk] instead of certificates; afterwards [method get_stats],
## [method is_session_resumed] and [method get_alpn_protocol] report on the connection.
## On the engine backend a connection asked to use any of them is refused with
## [constant ERR_UNAVAILABLE] rather than made without them.
## [codeblock]
## var dtls := PythonPacketPeerDTLS.new().with_pins(["sha256/..."]).with_alpn(["game/1"])
## dtls.connect_to_peer(udp, "game.example", TLSOptions.client_unsafe())
## [/codeblock]

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
## What each extension option (a key of the Python options Dictionary) is called in the
## error the engine backend gives when asked for it.
const EXTENSION_FEATURES := {
	"pinned_spki_sha256": "certificate pinning (with_pins)",
	"crls_pem": "revocation lists (with_crls)",
	"crl_soft_fail": "CRL soft-fail (with_crls)",
	"alpn": "ALPN (with_alpn)",
	"session_resumption": "session resumption (with_session_resumption)",
	"key_log_file": "the TLS key log (with_key_log)",
	"idle_timeout": "the idle timeout (with_idle_timeout)",
	"psk": "pre-shared keys (connect_to_peer_psk)",
}

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
## Extension options set by the [code]with_*[/code] methods, merged into the options
## Dictionary given to the Python backend on every connect (keys as the adapters read them).
var _extras: Dictionary = {}
## The UDP peer of the current connection, kept for as long as this peer: scripts often
## pass a temporary ([code]udp_server.take_connection()[/code]), and a py4godot adapter
## receives it without a reference of its own.
var _udp: PacketPeerUDP


## Picks the backend: [param prefer_backend] is [code]"auto"[/code] (Python when loaded,
## else the engine), [code]"python"[/code] (Python or an error, never a silent fallback)
## or [code]"engine"[/code]; empty means the project setting
## [code]godot_dtls/runtime/prefer_backend[/code] (default auto). The choice and its reason
## are printed once per backend.
## [param adopted_peer] and [param adopted_udp] are for [PythonDTLSServer]: it wraps a peer
## the server created (engine or Python) and the UDP peer it runs on, instead of making one.
func _init(
	prefer_backend: String = "", adopted_peer: Object = null, adopted_udp: PacketPeerUDP = null
) -> void:
	if adopted_peer != null:
		_udp = adopted_udp
		_adopt(adopted_peer)
		return
	var chosen := Backends.choose(prefer_backend, PYTHON_CLASS)
	_py = chosen["object"]
	_last_error = chosen["error"]
	if _py != null:
		_backend = _python_backend_name()
		Backends.log_choice(_backend, chosen["reason"], false)
	elif chosen["engine"]:
		_use_engine(chosen["reason"], chosen["warn"])


## Returns a py4godot object to the pool when the facade goes away (py4godot never frees
## script objects); see [code]release_python_object[/code] in godot_dtls_backends.gd.
func _notification(what: int) -> void:
	if what == NOTIFICATION_PREDELETE and _py != null:
		Backends.release_python_object(_py, PYTHON_CLASS, _backend)
		_py = null


## Starts a DTLS client handshake over [param packet_peer], which must already be
## connected with [method PacketPeerUDP.connect_to_host]. [param hostname] is checked
## against the server certificate and sent as SNI. [param client_options] come from
## [method TLSOptions.client] or [method TLSOptions.client_unsafe]; null means
## [code]TLSOptions.client()[/code] (the default CA bundle).
## Returns [constant OK] with the status [constant STATUS_HANDSHAKING], else an error
## ([constant ERR_INVALID_PARAMETER] for an unconnected peer, server options or a bad
## extension value, [constant ERR_ALREADY_IN_USE] while a connection is live,
## [constant ERR_UNAVAILABLE] when extensions were set but the engine backend runs).
## The extensions set with the [code]with_*[/code] methods apply.
func connect_to_peer(
	packet_peer: PacketPeerUDP, hostname: String, client_options: TLSOptions = null
) -> Error:
	var result: Error
	_udp = packet_peer
	if _engine_peer != null:
		if not _extras.is_empty():
			return _refuse_on_engine("connect_to_peer", _extras.keys())
		result = _engine_peer.connect_to_peer(packet_peer, hostname, client_options)
	elif _py != null:
		if client_options != null and client_options.is_server():
			_last_error = "connect_to_peer: TLSOptions.server() options given to a client"
			push_error(_last_error)
			return ERR_INVALID_PARAMETER
		var options := client_options_to_dictionary(client_options)
		options.merge(_extras, true)
		result = Backends.to_error(_py.connect_to_peer(packet_peer, hostname, options))
	else:
		return _unavailable("connect_to_peer")
	_refresh_status()
	return result


## Starts a DTLS client handshake authenticated by a pre-shared key instead of
## certificates: [param identity] names the key to the server, [param key] is the secret
## (16 or 32 random bytes, e.g. [method Crypto.generate_random_bytes]). The server must use
## [method PythonDTLSServer.setup_psk] (or another PSK server). [method with_alpn] and
## [method with_key_log] apply; pins, CRLs and resumption do not (refused with
## [constant ERR_INVALID_PARAMETER]). Python backend only: the engine backend returns
## [constant ERR_UNAVAILABLE]. Otherwise returns as [method connect_to_peer] does.
func connect_to_peer_psk(
	packet_peer: PacketPeerUDP, identity: String, key: PackedByteArray
) -> Error:
	if _engine_peer != null:
		var features: Array = ["psk"]
		features.append_array(_extras.keys())
		return _refuse_on_engine("connect_to_peer_psk", features)
	if _py == null:
		return _unavailable("connect_to_peer_psk")
	var options := {"mode": "client_psk", "psk_identity": identity, "psk_key_hex": key.hex_encode()}
	options.merge(_extras, true)
	_udp = packet_peer
	var result := Backends.to_error(_py.connect_to_peer(packet_peer, "", options))
	_refresh_status()
	return result


## Accepts the server only if its certificate chain (leaf, intermediates or CA) holds one
## of the public keys in [param pins]: SHA-256 SubjectPublicKeyInfo hashes, base64 (as
## HPKP writes them, with or without [code]sha256/[/code]) or hex, as printed by
## [code]godot-dtls pin server.crt[/code]. With [method TLSOptions.client_unsafe] and no
## trusted chain the pin alone decides: a self-signed game server can be trusted this way.
## A failed pin ends in [constant STATUS_ERROR] with the keys seen in
## [method get_last_error_message]. An empty array removes the pins. Python backend only.
## Returns this peer, for chaining.
func with_pins(pins: PackedStringArray) -> PythonPacketPeerDTLS:
	_set_extra("pinned_spki_sha256", Array(pins), not pins.is_empty())
	return self


## Checks the server's chain against the certificate revocation lists [param crls_pem]
## (PEM text, one CRL per issuer): a revoked certificate fails the handshake. A list that
## is missing for an issuer or out of date fails it too, unless [param soft_fail]. Needs
## [method TLSOptions.client] options (not [code]client_unsafe[/code]). An empty array
## removes the lists. Python backend only. Returns this peer, for chaining.
func with_crls(crls_pem: PackedStringArray, soft_fail := false) -> PythonPacketPeerDTLS:
	_set_extra("crls_pem", Array(crls_pem), not crls_pem.is_empty())
	_set_extra("crl_soft_fail", true, soft_fail and not crls_pem.is_empty())
	return self


## Offers the application protocols [param protocols] (ALPN, e.g. [code]"game/2"[/code]);
## the server picks one by its own preference and [method get_alpn_protocol] then names
## it. An empty array removes the offer. Python backend only. Returns this peer.
func with_alpn(protocols: PackedStringArray) -> PythonPacketPeerDTLS:
	_set_extra("alpn", Array(protocols), not protocols.is_empty())
	return self


## With [param enabled], a later connection to the same server name with the same
## options resumes the last session (an abbreviated handshake, see
## [method is_session_resumed]) when the server allows it
## ([method PythonDTLSServer.with_session_resumption]). Python backend only. Returns this
## peer.
func with_session_resumption(enabled := true) -> PythonPacketPeerDTLS:
	_set_extra("session_resumption", true, enabled)
	return self


## Appends the session secrets to the file [param path] in NSS key log format, so
## Wireshark can decrypt a capture ([code]res://[/code] and [code]user://[/code] paths are
## globalized). Debugging only: whoever holds the file can read the traffic. An empty path
## turns it off. Python backend only. Returns this peer.
func with_key_log(path: String) -> PythonPacketPeerDTLS:
	var os_path := Backends.key_log_path(path)
	_set_extra("key_log_file", os_path, not os_path.is_empty())
	return self


## Ends a connection that hears nothing from the server for [param seconds]: the peer
## sends close_notify and becomes [code]STATUS_DISCONNECTED[/code], with the reason in
## [method get_last_error_message] (the engine has no such limit: a dead server stays
## [code]STATUS_CONNECTED[/code]). Applies from the next [method connect_to_peer];
## [code]0[/code] turns it off (the default). Python backend only. Returns this peer.
func with_idle_timeout(seconds: float) -> PythonPacketPeerDTLS:
	_set_extra("idle_timeout", seconds, seconds != 0.0)
	return self


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


## Counters and negotiated parameters of the current or last connection: [code]version[/code],
## [code]cipher[/code], [code]group[/code], [code]alpn[/code], [code]session_resumed[/code],
## [code]handshake_time[/code] (seconds), [code]packets_sent[/code] /
## [code]packets_received[/code], datagrams and bytes each way,
## [code]retransmissions[/code], [code]alerts_sent[/code] / [code]alerts_received[/code]
## (Arrays of alert names) and drop counters. Empty before the first connection and on the
## engine backend, which keeps none.
func get_stats() -> Dictionary:
	if _py != null:
		var stats: Variant = _py.get_stats()
		if typeof(stats) == TYPE_DICTIONARY:
			return stats
	return {}


## True while connected through a resumed session (see [method with_session_resumption]);
## always false on the engine backend.
func is_session_resumed() -> bool:
	if _py != null:
		var resumed: Variant = _py.is_session_resumed()
		return typeof(resumed) == TYPE_BOOL and resumed
	return false


## The application protocol agreed on with ALPN (see [method with_alpn]); empty when none
## was, when not connected, and on the engine backend.
func get_alpn_protocol() -> String:
	if _py != null:
		var protocol: Variant = _py.get_alpn_protocol()
		if typeof(protocol) == TYPE_STRING:
			return protocol
	return ""


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


## Runs on the engine's [PacketPeerDTLS], saying once why ([param reason]).
func _use_engine(reason: String, warn: bool) -> void:
	_engine_peer = PacketPeerDTLS.new()
	if _engine_peer != null:
		_backend = ENGINE_BACKEND
		Backends.log_choice(_backend, reason, warn)
	else:
		_last_error = "godot-dtls: this engine build has no PacketPeerDTLS (mbedtls disabled)"
		push_error(_last_error)


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


## Sets the extension option [param key] to [param value], or removes it when not
## [param enabled].
func _set_extra(key: String, value: Variant, enabled: bool) -> void:
	Backends.set_extra(_extras, key, value, enabled)


## Refuses [param method] on the engine backend, which cannot honour the extension
## options [param keys]: names them in the error and returns [constant ERR_UNAVAILABLE].
func _refuse_on_engine(method: String, keys: Array) -> Error:
	_last_error = Backends.engine_refusal(method, keys, EXTENSION_FEATURES, "PacketPeerDTLS")
	push_error(_last_error)
	return ERR_UNAVAILABLE


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
