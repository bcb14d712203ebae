class_name PythonPacketPeerDTLS  # gdlint:ignore = max-public-methods
extends Reference
# Godot 3: a DTLS 1.2 peer with the methods of PacketPeerDTLS, run by godot-dtls (Python on
# pyOpenSSL, through godot-python 0.50) when Python is loaded, else by the engine's own
# PacketPeerDTLS (Android and HTML5 exports have no Python). get_backend() tells which.
#
# Write the code once, as for PacketPeerDTLS in Godot 3:
#     var udp := PacketPeerUDP.new()
#     udp.connect_to_host("127.0.0.1", 4433)
#     var dtls := PythonPacketPeerDTLS.new()
#     dtls.connect_to_peer(udp, true, "game.example", trusted_cert)
#     # every frame:
#     dtls.poll()
#     if dtls.get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED:
#         dtls.put_var({"hello": "server"})
#         while dtls.get_available_packet_count() > 0:
#             print(dtls.get_var())
#
# Beyond the engine (Python backend only), set before connecting with chainable methods:
# with_pins(), with_crls(), with_alpn(), with_session_resumption(), with_key_log(), or
# connect_to_peer_psk() instead of certificates; afterwards get_stats(),
# is_session_resumed() and get_alpn_protocol() report on the connection. On the engine
# backend a connection asked to use any of them is refused with ERR_UNAVAILABLE rather
# than made without them.
#
# The Python backend is driven with one call per frame: poll() takes every packet that
# arrived and keeps them here, so get_available_packet_count() and get_packet() cost no
# call into Python.

# Emitted when get_status() changes, as seen after connect_to_peer(), poll(),
# disconnect_from_peer(), put_packet() or get_packet().
signal status_changed(status)

# The states of a peer; same names and numbers as PacketPeerDTLS's.
enum Status {
	STATUS_DISCONNECTED,
	STATUS_HANDSHAKING,
	STATUS_CONNECTED,
	STATUS_ERROR,
	STATUS_ERROR_HOSTNAME_MISMATCH,
}

# The same values as constants, so code written for PacketPeerDTLS.STATUS_CONNECTED reads
# the same with this class.
const STATUS_DISCONNECTED := 0
const STATUS_HANDSHAKING := 1
const STATUS_CONNECTED := 2
const STATUS_ERROR := 3
const STATUS_ERROR_HOSTNAME_MISMATCH := 4
# get_backend() text when the engine's PacketPeerDTLS does the work.
const ENGINE_BACKEND := "engine:PacketPeerDTLS"
# The engine's default PacketPeer.encode_buffer_max_size (8 MiB).
const ENCODE_BUFFER_MAX_SIZE := 8 * 1024 * 1024
const Backends = preload("res://addons/godot_dtls/godot_dtls_backends.gd")
# What each extension option is called in the error the engine backend gives.
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

# As PacketPeer.allow_object_decoding in Godot 3: OR-ed into get_var and put_var.
var allow_object_decoding := false

# The Python peer (PyPacketPeerDTLS), or null. Untyped: its methods are the script's.
var _py = null
# The engine peer, or null.
var _engine_peer: PacketPeerDTLS = null
# What get_backend() reports.
var _backend := Backends.NO_BACKEND
# The UDP peer in use: kept so it lives as long as the connection.
var _udp: PacketPeerUDP = null
# Python backend: the status as of the last call into Python.
var _status := STATUS_DISCONNECTED
# Python backend: the packets the last poll() took, read from _packet_index on (an index,
# not pop_front(): that moves every packet behind the one taken).
var _packets := []
var _packet_index := 0
# Error of the last get_packet() or get_var().
var _packet_error := OK
# The status last announced by status_changed.
var _last_status := STATUS_DISCONNECTED
# The facade's own last error (backend missing, bad arguments).
var _last_error := ""
# Extension options set by the with_* methods, given to the Python backend on connect.
var _extras := {}


# Picks the backend: prefer_backend is "auto" (Python when loaded, else the engine),
# "python" (Python or an error, never a silent fallback) or "engine"; empty means the
# project setting godot_dtls/runtime/prefer_backend (default auto). adopted_peer is for
# PythonDTLSServer: it wraps a peer the server made (with its UDP peer, adopted_udp)
# instead of making a new one.
func _init(
	prefer_backend: String = "", adopted_peer: Object = null, adopted_udp: PacketPeerUDP = null
) -> void:
	if adopted_peer != null:
		_adopt(adopted_peer, adopted_udp)
		return
	var chosen: Dictionary = Backends.choose(
		prefer_backend, Backends.PEER_SCRIPT, "", "PacketPeerDTLS"
	)
	_py = chosen["python"]
	_backend = chosen["name"]
	_last_error = chosen["error"]
	if chosen["engine"]:
		_engine_peer = PacketPeerDTLS.new()
		if _engine_peer == null:
			_backend = Backends.NO_BACKEND
			_last_error = "godot-dtls: this engine build has no PacketPeerDTLS (mbedtls disabled)"
			push_error(_last_error)


# Starts a DTLS client handshake over packet_peer, which must already be connected with
# PacketPeerUDP.connect_to_host(). With validate_certs the server's chain must lead to
# valid_certificate (or the default CA bundle when null) and name for_hostname; without
# it nothing is checked (as in Godot 3). for_hostname is also sent as SNI. Returns OK with
# the status STATUS_HANDSHAKING, else an error (ERR_INVALID_PARAMETER for an unconnected
# peer or a bad extension value, ERR_ALREADY_IN_USE while a connection is live,
# ERR_UNAVAILABLE when extensions were set but the engine backend runs).
func connect_to_peer(
	packet_peer: PacketPeerUDP,
	validate_certs := true,
	for_hostname := "",
	valid_certificate: X509Certificate = null
) -> int:
	var result: int
	if _engine_peer != null:
		if not _extras.empty():
			return _refuse_on_engine("connect_to_peer", _extras.keys())
		result = _engine_peer.connect_to_peer(
			packet_peer, validate_certs, for_hostname, valid_certificate
		)
	elif _py != null:
		var options := {"mode": "client", "trusted_chain_pem": ""}
		if not validate_certs:
			options["mode"] = "client_unsafe"
		elif valid_certificate != null:
			options["trusted_chain_pem"] = valid_certificate
		Backends.merged(options, _extras)
		result = Backends.to_error(_py.connect_to_peer(packet_peer, for_hostname, options))
		_drop_packets()
		_status = _python_status()
	else:
		return _unavailable("connect_to_peer")
	if result == OK:
		_udp = packet_peer
	_refresh_status()
	return result


# Starts a handshake authenticated by a pre-shared key instead of certificates: identity
# names the key to the server, key is the secret (16 or 32 random bytes). The server
# must use PythonDTLSServer.setup_psk() (or another PSK server). with_alpn() and
# with_key_log() apply. Python backend only (ERR_UNAVAILABLE on the engine backend).
func connect_to_peer_psk(packet_peer: PacketPeerUDP, identity: String, key: PoolByteArray) -> int:
	if _engine_peer != null:
		var features := ["psk"] + _extras.keys()
		return _refuse_on_engine("connect_to_peer_psk", features)
	if _py == null:
		return _unavailable("connect_to_peer_psk")
	var options := {"mode": "client_psk", "psk_identity": identity, "psk_key_hex": key.hex_encode()}
	Backends.merged(options, _extras)
	var result: int = Backends.to_error(_py.connect_to_peer(packet_peer, "", options))
	_drop_packets()
	_status = _python_status()
	if result == OK:
		_udp = packet_peer
	_refresh_status()
	return result


# Accepts the server only if its certificate chain holds one of the public keys in pins:
# SHA-256 SubjectPublicKeyInfo hashes, base64 (with or without "sha256/") or hex, as
# printed by "godot-dtls pin server.crt". With validate_certs false the pin alone
# decides. An empty array removes the pins. Python backend only. Returns this peer.
func with_pins(pins: PoolStringArray) -> Reference:
	Backends.set_extra(_extras, "pinned_spki_sha256", Array(pins), pins.size() > 0)
	return self


# Checks the server's chain against the revocation lists crls_pem (PEM text, one CRL per
# issuer); a list missing or out of date fails the handshake unless soft_fail. An empty
# array removes them. Python backend only. Returns this peer.
func with_crls(crls_pem: PoolStringArray, soft_fail := false) -> Reference:
	Backends.set_extra(_extras, "crls_pem", Array(crls_pem), crls_pem.size() > 0)
	Backends.set_extra(_extras, "crl_soft_fail", true, soft_fail and crls_pem.size() > 0)
	return self


# Offers the application protocols (ALPN, e.g. "game/2"); get_alpn_protocol() names the
# one the server picked. An empty array removes the offer. Python backend only.
func with_alpn(protocols: PoolStringArray) -> Reference:
	Backends.set_extra(_extras, "alpn", Array(protocols), protocols.size() > 0)
	return self


# With enabled, a later connection to the same server name with the same options resumes
# the last session when the server allows it. Python backend only. Returns this peer.
func with_session_resumption(enabled := true) -> Reference:
	Backends.set_extra(_extras, "session_resumption", true, enabled)
	return self


# Appends the session secrets to the file path in NSS key log format (Wireshark).
# Debugging only. An empty path turns it off. Python backend only. Returns this peer.
func with_key_log(path: String) -> Reference:
	var os_path: String = Backends.key_log_path(path)
	Backends.set_extra(_extras, "key_log_file", os_path, not os_path.empty())
	return self


# Ends a connection that hears nothing from the server for seconds: the peer sends
# close_notify and becomes STATUS_DISCONNECTED, with the reason in
# get_last_error_message() (the engine has no such limit). Applies from the next
# connect_to_peer(); 0 turns it off (the default). Python backend only. Returns this peer.
func with_idle_timeout(seconds: float) -> Reference:
	Backends.set_extra(_extras, "idle_timeout", seconds, seconds != 0.0)
	return self


# Moves the connection forward; call it every frame. State changes show in get_status()
# and status_changed.
func poll() -> void:
	if _engine_peer != null:
		_engine_peer.poll()
	elif _py != null:
		var drained = _py.poll_and_drain()
		if typeof(drained) == TYPE_ARRAY and drained.size() > 0 and typeof(drained[0]) == TYPE_INT:
			_status = drained[0]
			if _packet_index >= _packets.size():
				# The usual case (the last poll's packets were all read): keep the new
				# Array itself (its packets start at index 1) instead of copying it.
				_packets = drained
				_packet_index = 1
			else:
				for index in range(1, drained.size()):
					_packets.append(drained[index])
		else:
			_status = STATUS_ERROR
	_refresh_status()


# The current state (one of the STATUS_* values).
func get_status() -> int:
	if _engine_peer != null:
		return _engine_peer.get_status()
	if _py != null:
		return _status
	return STATUS_DISCONNECTED


# Closes the connection: a connected peer sends close_notify first. An error status is
# kept, as in the engine.
func disconnect_from_peer() -> void:
	if _engine_peer != null:
		_engine_peer.disconnect_from_peer()
	elif _py != null:
		_py.disconnect_from_peer()
		_drop_packets()
		_status = _python_status()
	_udp = null
	_refresh_status()


# Sends one packet (at most 16384 bytes) as one DTLS record. OK, or ERR_UNCONFIGURED when
# not connected.
func put_packet(buffer: PoolByteArray) -> int:
	var result: int
	if _engine_peer != null:
		result = _engine_peer.put_packet(buffer)
	elif _py != null:
		var answer = _py.put_packet(buffer)
		if typeof(answer) == TYPE_INT and answer == OK:
			return OK  # sent: the status did not change, there is nothing to announce
		result = Backends.to_error(answer)
		_status = _python_status()
	else:
		return _unavailable("put_packet")
	_refresh_status()
	return result


# Takes the next received packet (empty when there is none); its error is then in
# get_packet_error().
func get_packet() -> PoolByteArray:
	if _py != null and _packet_index < _packets.size():
		# A packet poll() took: no call into Python, and the status did not change.
		_packet_error = OK
		_packet_index += 1
		return _packets[_packet_index - 1]
	var packet := PoolByteArray()
	if _engine_peer != null:
		packet = _engine_peer.get_packet()
		_packet_error = _engine_peer.get_packet_error()
	elif _py != null:
		packet = Backends.to_bytes(_py.get_packet())
		_packet_error = Backends.to_error(_py.get_packet_error())
		_status = _python_status()
	else:
		_packet_error = _unavailable("get_packet")
	_refresh_status()
	return packet


# Packets waiting for get_packet(). The engine's peer reports 0 or 1; the Python peer
# keeps every packet poll() read, so loop while this is above 0.
func get_available_packet_count() -> int:
	if _engine_peer != null:
		return _engine_peer.get_available_packet_count()
	if _py != null:
		if _status != STATUS_CONNECTED:
			push_error("get_available_packet_count: not connected")
			return 0
		return _packets.size() - _packet_index
	return 0


# Error of the last get_packet() or get_var() (OK at first).
func get_packet_error() -> int:
	return _packet_error


# Sends value encoded as var2bytes() does; with full_objects (or allow_object_decoding)
# objects travel whole: only between peers you trust.
func put_var(value, full_objects := false) -> int:
	var encoded := var2bytes(value, full_objects or allow_object_decoding)
	if encoded.size() == 0:
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


# Takes the next packet and decodes it as bytes2var() does; null when there is none or it
# does not decode (get_packet_error() then says ERR_INVALID_DATA: unlike the engine,
# which leaves it unchanged). Objects decode only with allow_objects (or
# allow_object_decoding).
func get_var(allow_objects := false):
	var packet := get_packet()
	if _packet_error != OK:
		return null
	if packet.size() < 4:
		_packet_error = ERR_INVALID_DATA
		push_error("get_var: no packet to decode (check get_available_packet_count() first)")
		return null
	var value = bytes2var(packet, allow_objects or allow_object_decoding)
	if value == null and packet[0] != TYPE_NIL:
		_packet_error = ERR_INVALID_DATA
	return value


# Which implementation runs this peer: "engine:PacketPeerDTLS", "python:godot-python",
# or "none".
func get_backend() -> String:
	return _backend


# Why the last operation failed (the Python backend explains handshake failures such as
# an untrusted certificate); empty when nothing failed or the engine gives no reason.
func get_last_error_message() -> String:
	if _py != null:
		var message = _py.get_last_error_message()
		if typeof(message) == TYPE_STRING and not message.empty():
			return message
	return _last_error


# Counters and negotiated parameters of the current or last connection (version, cipher,
# group, alpn, handshake_time, packets and datagrams each way, retransmissions, alerts,
# drop counters). Empty before the first connection and on the engine backend.
func get_stats() -> Dictionary:
	if _py != null:
		var stats = _py.get_stats()
		if typeof(stats) == TYPE_DICTIONARY:
			return stats
	return {}


# True while connected through a resumed session; always false on the engine backend.
func is_session_resumed() -> bool:
	if _py != null:
		var resumed = _py.is_session_resumed()
		return typeof(resumed) == TYPE_BOOL and resumed
	return false


# The application protocol agreed on with ALPN; empty when none was, when not connected,
# and on the engine backend.
func get_alpn_protocol() -> String:
	if _py != null:
		var protocol = _py.get_alpn_protocol()
		if typeof(protocol) == TYPE_STRING:
			return protocol
	return ""


# Wraps a peer made by a server (engine or Python) instead of creating one; udp_peer is
# kept alive with it.
func _adopt(peer: Object, udp_peer: PacketPeerUDP = null) -> void:
	if peer is PacketPeerDTLS:
		_engine_peer = peer
		_backend = ENGINE_BACKEND
	else:
		_py = peer
		_backend = Backends.backend_name(_py)
		_status = _python_status()
	_udp = udp_peer
	_last_status = get_status()


# The Python peer's status, read across the boundary (STATUS_ERROR if the call failed).
func _python_status() -> int:
	var status = _py.get_status()
	var known: bool = status in [0, 1, 2, 3, 4]
	if typeof(status) == TYPE_INT and known:
		return status
	return STATUS_ERROR


func _refuse_on_engine(method: String, keys: Array) -> int:
	_last_error = Backends.engine_refusal(method, keys, EXTENSION_FEATURES, "PacketPeerDTLS")
	push_error(_last_error)
	return ERR_UNAVAILABLE


func _unavailable(method: String) -> int:
	push_error("%s: no DTLS backend (%s)" % [method, _last_error])
	return ERR_UNAVAILABLE


# Forgets the packets poll() took (a new connection, or none).
func _drop_packets() -> void:
	_packets = []
	_packet_index = 0


# Emits status_changed when the status differs from the last one announced.
func _refresh_status() -> void:
	var current := get_status()
	if current != _last_status:
		_last_status = current
		emit_signal("status_changed", current)
