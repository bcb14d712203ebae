# DTLS echo server for interop tests and benchmarks (Godot 3.2.3 headless).
#
#   godot3-server --path tests/godot3 -s res://dtls_server.gd -- \
#       port=4433 key=/path/key.pem cert=/path/chain.pem duration=10 max_peers=1
#
# Arguments (key=value after "--"):
#   port       UDP port to listen on. 0 = let the OS pick; only possible when
#              UDPServer.get_local_port() exists (it does not in 3.2.3, so the
#              Python side passes a free port instead; port=0 then fails with exit 3).
#   bind       listen address (default 127.0.0.1; "*" for all)
#   key, cert  PEM files; cert may hold the whole chain (leaf first)
#   duration   seconds to run at most (default 10)
#   max_peers  if > 0, exit once this many accepted peers have ended (closed or failed)
#   idle_us    sleep per loop iteration when nothing happened (default 200)
#
# Output: READY <port>; STATUS <n> peer=<id> on every peer status change;
# RESULT {...} at the end. Exit code 0 = ran to the end (duration elapsed with
# max_peers=0, or max_peers reached), 1 = duration elapsed before max_peers, 3 = setup error.
extends SceneTree

const Common = preload("res://common.gd")

# Upper bound of records handled per peer per loop iteration, so a flood from one
# client cannot starve the others or the deadline check.
const MAX_RECORDS_PER_ITERATION := 64

var _udp_server := UDPServer.new()
var _dtls_server := DTLSServer.new()
# Active peers: Array of Dictionary {id, peer, status, packets, bytes}.
var _peers := []
var _next_id := 1

# Counters reported in RESULT.
var _connections := 0  # peers accepted into HANDSHAKING (cookie verified)
var _cookie_rejects := 0  # first takes answered with a HelloVerifyRequest (STATUS_ERROR)
var _other_rejects := 0  # takes that ended DISCONNECTED (bad key/cert) or CONNECTED oddities
var _connected := 0  # peers that reached CONNECTED
var _closed := 0  # peers that ended DISCONNECTED (close_notify)
var _failed := 0  # peers that ended in STATUS_ERROR / ERROR_HOSTNAME_MISMATCH
var _packets := 0  # packets echoed
var _bytes := 0  # payload bytes echoed
var _put_errors := 0  # put_packet calls that did not return OK


func _initialize() -> void:
	var args := Common.parse_args()
	var port := Common.arg_int(args, "port", 0)
	var bind := Common.arg_str(args, "bind", "127.0.0.1")
	var key_path := Common.arg_str(args, "key", "")
	var cert_path := Common.arg_str(args, "cert", "")
	var duration := Common.arg_float(args, "duration", 10.0)
	var max_peers := Common.arg_int(args, "max_peers", 0)
	var idle_us := Common.arg_int(args, "idle_us", 200)

	var key := CryptoKey.new()
	var err: int = key.load(key_path)
	if err != OK:
		_fail_setup("cannot load key %s" % key_path, err)
		return
	var cert := X509Certificate.new()
	err = cert.load(cert_path)
	if err != OK:
		_fail_setup("cannot load cert %s" % cert_path, err)
		return

	err = _udp_server.listen(port, bind)
	if err != OK:
		_fail_setup("UDPServer.listen(%d, %s) failed" % [port, bind], err)
		return
	if port == 0:
		# 3.2.3 cannot report the OS-chosen port (no get_local_port before 3.3).
		if _udp_server.has_method("get_local_port"):
			port = _udp_server.call("get_local_port")
		else:
			_fail_setup("port=0 unsupported: UDPServer.get_local_port() missing", ERR_UNAVAILABLE)
			return

	# 3.2.3 signature: setup(key, certificate, chain = null); the chain argument is unused,
	# the whole chain is taken from `cert`.
	err = _dtls_server.setup(key, cert)
	if err != OK:
		_fail_setup("DTLSServer.setup failed", err)
		return

	print("READY %d" % port)

	var start := OS.get_ticks_usec()
	var deadline := start + int(duration * 1000000.0)
	var reason := "duration"
	while OS.get_ticks_usec() < deadline:
		var busy := false
		# Nothing else reads the shared socket: poll it every iteration.
		_udp_server.poll()
		if _udp_server.is_connection_available():
			_accept_pending()
			busy = true
		if _service_peers():
			busy = true
		if max_peers > 0 and _closed + _failed >= max_peers:
			reason = "max_peers"
			break
		if not busy:
			OS.delay_usec(idle_us)

	var exit_code := 0
	if max_peers > 0 and reason != "max_peers":
		exit_code = 1
	for info in _peers:
		(info["peer"] as PacketPeerDTLS).disconnect_from_peer()
	_peers.clear()
	_udp_server.stop()
	var result := {
		"role": "server",
		"reason": reason,
		"port": port,
		"elapsed_ms": Common.elapsed_ms(start),
		"connections": _connections,
		"connected": _connected,
		"closed": _closed,
		"failed": _failed,
		"still_open": _connections - _closed - _failed,
		"cookie_rejects": _cookie_rejects,
		"other_rejects": _other_rejects,
		"packets": _packets,
		"bytes": _bytes,
		"put_errors": _put_errors,
	}
	Common.emit_result(result, exit_code)
	quit()


# Takes every pending UDP peer and runs the DTLS accept on it. Kept in its own
# function on purpose: a rejected PacketPeerUDP must be released right away, or the
# client's cookie retry lands in its dead queue (behaviour spec 5.4, step 3).
func _accept_pending() -> void:
	while _udp_server.is_connection_available():
		var udp: PacketPeerUDP = _udp_server.take_connection()
		var peer: PacketPeerDTLS = _dtls_server.take_connection(udp)
		var status: int = peer.get_status()
		if status == PacketPeerDTLS.STATUS_HANDSHAKING or status == PacketPeerDTLS.STATUS_CONNECTED:
			var info := {"id": _next_id, "peer": peer, "status": status, "packets": 0, "bytes": 0}
			_next_id += 1
			_connections += 1
			_peers.append(info)
			print("STATUS %d peer=%d" % [status, info["id"]])
			if status == PacketPeerDTLS.STATUS_CONNECTED:
				_connected += 1
		elif status == PacketPeerDTLS.STATUS_ERROR:
			# Expected for every first ClientHello: a HelloVerifyRequest was sent.
			_cookie_rejects += 1
		else:
			_other_rejects += 1
		udp = null
		peer = null


# Polls every active peer, echoes what arrived, drops peers that ended.
# Returns true if anything happened (used to skip the idle sleep).
func _service_peers() -> bool:
	var busy := false
	var i := 0
	while i < _peers.size():
		var info: Dictionary = _peers[i]
		var peer: PacketPeerDTLS = info["peer"]
		if _echo(info):
			busy = true
		var status: int = peer.get_status()
		if status != info["status"]:
			busy = true
			info["status"] = status
			print("STATUS %d peer=%d packets=%d" % [status, info["id"], info["packets"]])
			if status == PacketPeerDTLS.STATUS_CONNECTED:
				_connected += 1
		if status == PacketPeerDTLS.STATUS_HANDSHAKING or status == PacketPeerDTLS.STATUS_CONNECTED:
			i += 1
		else:
			if status == PacketPeerDTLS.STATUS_DISCONNECTED:
				_closed += 1
			else:
				_failed += 1
			_peers.remove(i)
	return busy


# One handshake step, or up to MAX_RECORDS_PER_ITERATION echoed records.
# In 3.2.3 poll() buffers at most one application record, so poll and
# get_packet alternate until the queue is empty.
func _echo(info: Dictionary) -> bool:
	var peer: PacketPeerDTLS = info["peer"]
	peer.poll()
	var handled := 0
	while handled < MAX_RECORDS_PER_ITERATION:
		if peer.get_status() != PacketPeerDTLS.STATUS_CONNECTED:
			break
		if peer.get_available_packet_count() <= 0:
			break
		while peer.get_available_packet_count() > 0:
			var packet: PoolByteArray = peer.get_packet()
			if peer.get_packet_error() != OK:
				break
			handled += 1
			if peer.put_packet(packet) == OK:
				_packets += 1
				_bytes += packet.size()
				info["packets"] += 1
				info["bytes"] += packet.size()
			else:
				_put_errors += 1
		peer.poll()
	return handled > 0


func _fail_setup(message: String, err: int) -> void:
	printerr("dtls_server: %s (error %d)" % [message, err])
	Common.emit_result({"role": "server", "error": message, "code": err}, 3)
	quit()
