# DTLS echo server for the benchmark (Godot 3.2.3 headless, mbedTLS).
#
#   godot3-server --path <bench/godot3> -s res://bench_server.gd -- \
#       port=4433 key=/path/key.pem cert=/path/chain.pem duration=60 stop_file=/tmp/stop
#
# Arguments (key=value after "--"):
#   port         UDP port to listen on (3.2.3 cannot report an OS-chosen port)
#   bind         listen address (default 127.0.0.1)
#   key, cert    PEM files; cert may hold the whole chain (leaf first)
#   duration     seconds to run at most (default 60)
#   stop_file    exit as soon as this file exists (checked every 50 ms)
#   max_pending  UDPServer.max_pending_connections (default 16, as the engine)
#   idle_us      sleep per idle loop iteration; 0 (default) spins, since UDPServer
#                has no way to wait for a datagram
#
# It serves any number of peers: every loop it polls the UDPServer, accepts, and echoes
# up to MAX_RECORDS_PER_ITERATION records per peer (3.2.3's poll() reads one record).
# Output: READY <port>, then RESULT {...} at the end. Exit code 0, or 3 on a setup error.
extends SceneTree

const Common = preload("res://bench_common.gd")

const MAX_RECORDS_PER_ITERATION := 64
const STOP_CHECK_USEC := 50000

var _udp_server := UDPServer.new()
var _dtls_server := DTLSServer.new()
var _peers := []  # PacketPeerDTLS, HANDSHAKING or CONNECTED

var _connections := 0
var _cookie_exchanges := 0
var _peak_peers := 0
var _packets := 0
var _bytes := 0
var _put_errors := 0


func _initialize() -> void:
	var args := Common.parse_args()
	var port := Common.arg_int(args, "port", 0)
	var bind := Common.arg_str(args, "bind", "127.0.0.1")
	var duration := Common.arg_float(args, "duration", 60.0)
	var stop_file := Common.arg_str(args, "stop_file", "")
	var max_pending := Common.arg_int(args, "max_pending", 16)
	var idle_us := Common.arg_int(args, "idle_us", 0)

	var key := CryptoKey.new()
	var err: int = key.load(Common.arg_str(args, "key", ""))
	if err != OK:
		_fail_setup("cannot load the key", err)
		return
	var cert := X509Certificate.new()
	err = cert.load(Common.arg_str(args, "cert", ""))
	if err != OK:
		_fail_setup("cannot load the certificate", err)
		return
	_udp_server.max_pending_connections = max_pending
	err = _udp_server.listen(port, bind)
	if err != OK:
		_fail_setup("UDPServer.listen(%d, %s) failed" % [port, bind], err)
		return
	err = _dtls_server.setup(key, cert)
	if err != OK:
		_fail_setup("DTLSServer.setup failed", err)
		return
	print("READY %d" % port)

	var files := File.new()
	var start := OS.get_ticks_usec()
	var deadline := start + int(duration * 1000000.0)
	var next_stop_check := start + STOP_CHECK_USEC
	var reason := "duration"
	while true:
		var now := OS.get_ticks_usec()
		if now >= deadline:
			break
		if now >= next_stop_check:
			next_stop_check = now + STOP_CHECK_USEC
			if stop_file != "" and files.file_exists(stop_file):
				reason = "stop_file"
				break
		_udp_server.poll()
		var busy := false
		if _udp_server.is_connection_available():
			_accept_pending()
			busy = true
		if _service_peers():
			busy = true
		if not busy and idle_us > 0:
			OS.delay_usec(idle_us)

	for peer in _peers:
		(peer as PacketPeerDTLS).disconnect_from_peer()
	_peers.clear()
	_udp_server.stop()
	Common.emit_result({
		"role": "server",
		"reason": reason,
		"elapsed_ms": float(OS.get_ticks_usec() - start) / 1000.0,
		"connections": _connections,
		"cookie_exchanges": _cookie_exchanges,
		"peak_peers": _peak_peers,
		"packets": _packets,
		"bytes": _bytes,
		"put_errors": _put_errors,
	}, 0)
	quit()


# Takes every pending UDP peer. A peer answered with a HelloVerifyRequest (STATUS_ERROR)
# is dropped right away, so the client's retry with the cookie becomes a new connection.
func _accept_pending() -> void:
	while _udp_server.is_connection_available():
		var udp: PacketPeerUDP = _udp_server.take_connection()
		var peer: PacketPeerDTLS = _dtls_server.take_connection(udp)
		var status: int = peer.get_status()
		if status == PacketPeerDTLS.STATUS_HANDSHAKING or status == PacketPeerDTLS.STATUS_CONNECTED:
			_connections += 1
			_peers.append(peer)
			_peak_peers = max(_peak_peers, _peers.size())
		else:
			_cookie_exchanges += 1


# Polls every peer, echoes what arrived, drops peers that ended; true if anything moved.
func _service_peers() -> bool:
	var busy := false
	var i := 0
	while i < _peers.size():
		var peer: PacketPeerDTLS = _peers[i]
		peer.poll()
		var handled := 0
		while handled < MAX_RECORDS_PER_ITERATION and peer.get_available_packet_count() > 0:
			var packet: PoolByteArray = peer.get_packet()
			handled += 1
			if peer.put_packet(packet) == OK:
				_packets += 1
				_bytes += packet.size()
			else:
				_put_errors += 1
			peer.poll()
		if handled > 0:
			busy = true
		var status: int = peer.get_status()
		if status == PacketPeerDTLS.STATUS_HANDSHAKING or status == PacketPeerDTLS.STATUS_CONNECTED:
			i += 1
		else:
			_peers.remove(i)
			busy = true
	return busy


func _fail_setup(message: String, err: int) -> void:
	printerr("bench_server: %s (error %d)" % [message, err])
	Common.emit_result({"role": "server", "error": message, "code": err}, 3)
	quit()
