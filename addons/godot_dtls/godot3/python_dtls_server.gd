class_name PythonDTLSServer
extends Reference
# Godot 3: a DTLS server with the methods of DTLSServer, run by godot-dtls (Python,
# through godot-python 0.50) when Python is loaded, else by the engine's own DTLSServer.
#
# Use it as DTLSServer in Godot 3: setup() once, then for every PacketPeerUDP that
# UDPServer.take_connection() hands out, call take_connection() and keep the returned
# PythonPacketPeerDTLS while it is STATUS_HANDSHAKING or STATUS_CONNECTED. A client's first
# datagram only earns it a cookie (HelloVerifyRequest): that first peer comes back in
# STATUS_ERROR and should be dropped; the retry arrives as a new UDP peer.
#     var server := PythonDTLSServer.new()
#     server.setup(key, cert)
#     # every frame, after udp_server.poll():
#     while udp_server.is_connection_available():
#         var peer = server.take_connection(udp_server.take_connection())
#         if peer.get_status() == PythonPacketPeerDTLS.STATUS_HANDSHAKING:
#             peers.append(peer)
#
# Beyond the engine (Python backend only), set before setup() with chainable methods:
# with_sni(), with_alpn(), with_session_resumption(), with_key_log(); or setup_psk() to
# accept clients by pre-shared key. On the engine backend a setup asked to use any of
# them is refused with ERR_UNAVAILABLE rather than done without them.

# get_backend() text when the engine's DTLSServer does the work.
const ENGINE_BACKEND := "engine:DTLSServer"
const Backends = preload("res://addons/godot_dtls/godot_dtls_backends.gd")
const PeerFacade = preload("res://addons/godot_dtls/python_packet_peer_dtls.gd")
# What each extension option is called in the error the engine backend gives.
const EXTENSION_FEATURES := {
	"sni": "certificates by server name (with_sni)",
	"alpn": "ALPN (with_alpn)",
	"session_resumption": "session resumption (with_session_resumption)",
	"key_log_file": "the TLS key log (with_key_log)",
	"idle_timeout": "the idle timeout (with_idle_timeout)",
	"psk": "pre-shared keys (setup_psk)",
}

# The Python server (PyDTLSServer), or null. Untyped: its methods are the script's.
var _py = null
# The adapter script of the Python peers, loaded once per server.
var _peer_script: Script = null
# The engine server, or null.
var _engine_server: DTLSServer = null
# What get_backend() reports.
var _backend := Backends.NO_BACKEND
# The facade's own last error (backend missing, bad arguments).
var _last_error := ""
# Extension options set by the with_* methods, given to the Python backend by setup().
var _extras := {}


# Picks the backend as PythonPacketPeerDTLS does: prefer_backend is "auto", "python" or
# "engine"; empty means the project setting godot_dtls/runtime/prefer_backend.
func _init(prefer_backend: String = "") -> void:
	var chosen: Dictionary = Backends.choose(
		prefer_backend, Backends.SERVER_SCRIPT, Backends.PEER_SCRIPT, "DTLSServer"
	)
	_py = chosen["python"]
	_backend = chosen["name"]
	_last_error = chosen["error"]
	if _py != null:
		_peer_script = load(Backends.PEER_SCRIPT)
	elif chosen["engine"]:
		_engine_server = DTLSServer.new()
		if _engine_server == null:
			_backend = Backends.NO_BACKEND
			_last_error = "godot-dtls: this engine build has no DTLSServer (mbedtls disabled)"
			push_error(_last_error)


# Configures the server with its private key and certificate (which may hold the whole
# chain, leaf first), plus the extensions set with the with_* methods. chain is accepted
# and, as in Godot 3's DTLSServer, not used: put the chain in certificate. Returns OK;
# ERR_INVALID_PARAMETER for a missing or mismatched key or certificate or a bad
# extension value (the engine's DTLSServer accepts those and fails every connection
# later), ERR_ALREADY_IN_USE on a second call, ERR_UNAVAILABLE when extensions were set
# but the engine backend runs.
func setup(key: CryptoKey, certificate: X509Certificate, chain: X509Certificate = null) -> int:
	if _engine_server != null:
		if not _extras.empty():
			return _refuse_on_engine("setup", _extras.keys())
		return _engine_server.setup(key, certificate, chain)
	if _py == null:
		push_error("setup: no DTLS backend (%s)" % _last_error)
		return ERR_UNAVAILABLE
	if key == null or certificate == null:
		_last_error = "setup: a CryptoKey and an X509Certificate are needed"
		push_error(_last_error)
		return ERR_INVALID_PARAMETER
	var options := {"key_pem": key, "certificate_pem": certificate}
	return Backends.to_error(_py.setup(Backends.merged(options, _extras)))


# Configures the server to accept clients by pre-shared key instead of a certificate:
# keys maps each client identity (String) to its key (PoolByteArray); identity_hint is
# sent to clients that want one. with_alpn() and with_key_log() apply. Python backend
# only (ERR_UNAVAILABLE on the engine backend).
func setup_psk(keys: Dictionary, identity_hint := "") -> int:
	if _engine_server != null:
		var features := ["psk"] + _extras.keys()
		return _refuse_on_engine("setup_psk", features)
	if _py == null:
		return _unavailable("setup_psk")
	var hex_keys := {}
	for identity in keys:
		var secret = keys[identity]
		if typeof(secret) != TYPE_RAW_ARRAY:
			_last_error = "setup_psk: the key of %s must be a PoolByteArray" % str(identity)
			push_error(_last_error)
			return ERR_INVALID_PARAMETER
		hex_keys[str(identity)] = secret.hex_encode()
	var options := {"mode": "server_psk", "psk_keys_hex": hex_keys, "psk_identity_hint": identity_hint}
	return Backends.to_error(_py.setup(Backends.merged(options, _extras)))


# Presents key and certificate to clients that ask for server_name (SNI) instead of the
# default ones. Python backend only. Returns this server.
func with_sni(server_name: String, key: CryptoKey, certificate: X509Certificate) -> Reference:
	var sni: Dictionary = _extras.get("sni", {})
	sni[server_name] = {"key_pem": key, "certificate_pem": certificate}
	_extras["sni"] = sni
	return self


# The application protocols accepted, in order of preference (ALPN). An empty array
# removes them. Python backend only. Returns this server.
func with_alpn(protocols: PoolStringArray) -> Reference:
	Backends.set_extra(_extras, "alpn", Array(protocols), protocols.size() > 0)
	return self


# Lets clients resume their last session (abbreviated handshake). Python backend only.
func with_session_resumption(enabled := true) -> Reference:
	Backends.set_extra(_extras, "session_resumption", true, enabled)
	return self


# Appends the session secrets to path in NSS key log format (Wireshark). Debugging only.
# An empty path turns it off. Python backend only. Returns this server.
func with_key_log(path: String) -> Reference:
	var os_path: String = Backends.key_log_path(path)
	Backends.set_extra(_extras, "key_log_file", os_path, not os_path.empty())
	return self


# Ends each connection taken after setup() that hears nothing from its client for
# seconds (close_notify, then STATUS_DISCONNECTED). Call it before setup(); 0 turns it
# off (the default). Python backend only. Returns this server.
func with_idle_timeout(seconds: float) -> Reference:
	Backends.set_extra(_extras, "idle_timeout", seconds, seconds != 0.0)
	return self


# A new PythonPacketPeerDTLS for udp_peer (from UDPServer.take_connection()): in
# STATUS_HANDSHAKING, or STATUS_ERROR after the cookie exchange (drop it). As Godot 3's
# DTLSServer, always returns a peer; before a successful setup() it stays
# STATUS_DISCONNECTED.
func take_connection(udp_peer: PacketPeerUDP) -> Reference:
	if _engine_server != null:
		return PeerFacade.new("", _engine_server.take_connection(udp_peer), udp_peer)
	if _py == null:
		push_error("take_connection: no DTLS backend (%s)" % _last_error)
		return PeerFacade.new(Backends.ENGINE)
	var peer = _peer_script.new()
	var accepted = peer.accept_connection(_py.get_server_id(), udp_peer)
	if Backends.to_error(accepted) != OK:
		_last_error = str(peer.get_last_error_message())
	return PeerFacade.new("", peer, udp_peer)


# Which implementation runs this server: "engine:DTLSServer", "python:godot-python" or
# "none".
func get_backend() -> String:
	return _backend


# Why the last operation failed; empty when nothing failed.
func get_last_error_message() -> String:
	if _py != null:
		var message = _py.get_last_error_message()
		if typeof(message) == TYPE_STRING and not message.empty():
			return message
	return _last_error


func _refuse_on_engine(method: String, keys: Array) -> int:
	_last_error = Backends.engine_refusal(method, keys, EXTENSION_FEATURES, "DTLSServer")
	push_error(_last_error)
	return ERR_UNAVAILABLE


func _unavailable(method: String) -> int:
	push_error("%s: no DTLS backend (%s)" % [method, _last_error])
	return ERR_UNAVAILABLE
