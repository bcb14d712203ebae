extends SceneTree
# The Python client class (godot-python) against the engine's own DTLSServer.
# Args: port, key, cert (server, CN localhost, signed by ca), ca, other_ca (unrelated).

const H = preload("res://checks/harness.gd")
const NativeEchoServer = preload("res://checks/native_echo_server.gd")
const SIZES := [1, 2, 64, 1200, 4096, 16384]
const PER_SIZE := 3
const TIMEOUT_MS := 8000

var server
var statuses := []


func _initialize() -> void:
	var args := H.args()
	var port := int(args["port"])
	server = NativeEchoServer.new()
	var started: int = server.start(port, H.load_key(args["key"]), H.load_certificate(args["cert"]))
	H.check("native_server_started", started == OK, started)
	var ca := H.load_certificate(args["ca"])
	var peer = H.new_python(H.PEER_SCRIPT)
	if H.check("adapter_loads", peer != null and peer.get_backend() == "python:godot-python"):
		peer.connect("status_changed", self, "_on_status_changed")
		_check_handshake(peer, port, ca)
		_check_echo(peer)
		_check_put_var(peer)
		_check_disconnect(peer)
		_check_reconnect(peer, port, ca)
	_check_failure("wrong_name_is_hostname_mismatch", port, "wrong.example", ca, 4)
	_check_failure("untrusted_is_error", port, "localhost", H.load_certificate(args["other_ca"]), 3)
	server.stop()
	H.done()
	quit()


func _on_status_changed(status) -> void:
	statuses.append(status)


func _pump(peer, condition: String) -> bool:
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline:
		server.poll()
		peer.poll()
		if call(condition, peer):
			return true
		OS.delay_usec(300)
	return call(condition, peer)


func _settled(peer) -> bool:
	return peer.get_status() != 1


func _check_handshake(peer, port: int, ca: X509Certificate) -> void:
	var udp := H.new_udp(port)
	var started = peer.connect_to_peer(udp, true, "localhost", ca)
	H.check("connect_returns_ok_handshaking", started == OK and peer.get_status() == 1, [started, peer.get_status()])
	_pump(peer, "_settled")
	H.check("handshake_connects", peer.get_status() == 2, peer.get_last_error_message())
	H.check("status_changed_seen_from_gdscript", statuses == [1, 2], statuses)
	var stats: Dictionary = peer.get_stats()
	H.check("stats_name_the_cipher", str(stats.get("cipher", "")).begins_with("ECDHE-"), stats.get("cipher"))


func _check_echo(peer) -> void:
	for size in SIZES:
		var sent := []
		for seq in range(PER_SIZE):
			var data := H.payload(seq, size)
			if peer.put_packet(data) == OK:
				sent.append(data)
		var received := []
		var deadline := OS.get_ticks_msec() + TIMEOUT_MS
		while received.size() < sent.size() and OS.get_ticks_msec() < deadline:
			server.poll()
			peer.poll()
			while peer.get_available_packet_count() > 0:
				received.append(peer.get_packet())
			OS.delay_usec(300)
		var exact := received.size() == PER_SIZE and sent.size() == PER_SIZE
		for index in range(min(sent.size(), received.size())):
			exact = exact and received[index] == sent[index]
		H.check("echo_%d_bytes_exact_in_order" % size, exact, "%d sent, %d back" % [sent.size(), received.size()])


func _has_packet(peer) -> bool:
	return peer.get_available_packet_count() > 0


func _check_put_var(peer) -> void:
	var value := {"name": "player", "hp": 100, "pos": Vector2(3, 4), "tags": ["a", 1, 2.5]}
	H.check("put_var_ok", peer.put_var(value) == OK)
	_pump(peer, "_has_packet")
	var raw: PoolByteArray = peer.get_packet()
	H.check("put_var_bytes_are_godot3_var2bytes", raw == var2bytes(value), raw.size())
	peer.put_var(value)
	_pump(peer, "_has_packet")
	var back = peer.get_var()
	H.check("get_var_decodes_it", typeof(back) == TYPE_DICTIONARY and back.hash() == value.hash(), back)
	H.check("get_var_leaves_packet_error_ok", peer.get_packet_error() == OK, peer.get_packet_error())
	peer.put_packet(PoolByteArray([255, 255, 255, 255, 1]))
	_pump(peer, "_has_packet")
	var junk = peer.get_var()
	H.check("get_var_of_junk_is_null_with_invalid_data", junk == null and peer.get_packet_error() == ERR_INVALID_DATA, peer.get_packet_error())


func _check_disconnect(peer) -> void:
	peer.disconnect_from_peer()
	H.check("disconnect_gives_disconnected", peer.get_status() == 0 and statuses.back() == 0, statuses)
	H.check("put_packet_after_disconnect_is_unconfigured", peer.put_packet(H.payload(0, 8)) == ERR_UNCONFIGURED)


func _check_reconnect(peer, port: int, ca: X509Certificate) -> void:
	statuses.clear()
	var udp := H.new_udp(port)
	var started = peer.connect_to_peer(udp, true, "localhost", ca)
	_pump(peer, "_settled")
	H.check("same_object_reconnects", started == OK and peer.get_status() == 2, peer.get_last_error_message())
	peer.put_packet(H.payload(7, 100))
	_pump(peer, "_has_packet")
	H.check("reconnected_echo", peer.get_packet() == H.payload(7, 100))
	peer.disconnect_from_peer()


func _check_failure(name: String, port: int, hostname: String, ca: X509Certificate, expected: int) -> void:
	var peer = H.new_python(H.PEER_SCRIPT)
	var udp := H.new_udp(port)
	peer.connect_to_peer(udp, true, hostname, ca)
	_pump(peer, "_settled")
	var message: String = peer.get_last_error_message()
	H.check(name, peer.get_status() == expected and not message.empty(), "%d: %s" % [peer.get_status(), message])
	peer.poll()
	H.check(name + "_is_final", peer.get_status() == expected)
