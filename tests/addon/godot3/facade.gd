extends SceneTree
# The Godot 3 facades, PythonPacketPeerDTLS and PythonDTLSServer, on whichever backend the
# project gives them (the Python one, or the engine's where no Python is loaded), against
# the engine's own DTLS classes. Args: port, port2, key, cert, ca, backend (the expected
# get_backend() of a peer), mismatch (the status a wrong name must give), pin (the
# server's SPKI pin; empty to skip the pin checks).

const H = preload("res://checks/harness.gd")
const NativeEchoServer = preload("res://checks/native_echo_server.gd")
const TIMEOUT_MS := 8000

var args := {}
var server
var statuses := []


func _initialize() -> void:
	args = H.args()
	var key := H.load_key(args["key"])
	var cert := H.load_certificate(args["cert"])
	var ca := H.load_certificate(args["ca"])
	server = NativeEchoServer.new()
	server.start(int(args["port"]), key, cert)
	var dtls := PythonPacketPeerDTLS.new()
	H.check("peer_backend", dtls.get_backend() == args["backend"], dtls.get_backend())
	H.check("status_constants_match_the_engine", PythonPacketPeerDTLS.STATUS_CONNECTED == PacketPeerDTLS.STATUS_CONNECTED and PythonPacketPeerDTLS.Status.STATUS_ERROR_HOSTNAME_MISMATCH == 4)
	H.check("count_when_disconnected_is_0", dtls.get_available_packet_count() == 0)
	H.check("put_packet_when_disconnected_is_unconfigured", dtls.put_packet(PoolByteArray([1])) == ERR_UNCONFIGURED)
	dtls.connect("status_changed", self, "_on_status_changed")
	var started := dtls.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	_pump([dtls], "_settled")
	H.check("client_connects", started == OK and dtls.get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED, dtls.get_last_error_message())
	H.check("status_changed_signal", statuses == [1, 2], statuses)
	_check_echo(dtls)
	_check_var_with_native_peer(dtls)
	dtls.disconnect_from_peer()
	H.check("disconnected", dtls.get_status() == 0 and statuses.back() == 0, statuses)
	_check_wrong_name(ca)
	if args.get("pin", "") != "":
		_check_pins(ca)
		_check_idle_timeouts(key, cert, ca)
	else:
		_check_extensions_refused_on_engine(ca)
	_check_server_facade(key, cert, ca)
	_check_preferences()
	server.stop()
	H.done()
	quit()


func _on_status_changed(status) -> void:
	statuses.append(status)


func _pump(peers: Array, condition: String, extra = null) -> bool:
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline:
		server.poll()
		if extra != null:
			extra.call_func()
		for peer in peers:
			peer.poll()
		if call(condition, peers):
			return true
		OS.delay_usec(300)
	return call(condition, peers)


func _settled(peers: Array) -> bool:
	for peer in peers:
		if peer.get_status() == 1:
			return false
	return true


func _has_packet(peers: Array) -> bool:
	return peers[0].get_available_packet_count() > 0


func _check_echo(dtls) -> void:
	var exact := true
	for size in [1, 1200, 16384]:
		var data := H.payload(size, size)
		dtls.put_packet(data)
		_pump([dtls], "_has_packet")
		exact = exact and dtls.get_packet() == data and dtls.get_packet_error() == OK
	H.check("echo_byte_exact", exact)
	for seq in range(5):
		dtls.put_packet(H.payload(seq, 300))
	var back := []
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while back.size() < 5 and OS.get_ticks_msec() < deadline:
		server.poll()
		dtls.poll()
		while dtls.get_available_packet_count() > 0:
			back.append(dtls.get_packet())
		OS.delay_usec(300)
	var in_order := back.size() == 5
	for seq in range(back.size()):
		in_order = in_order and back[seq] == H.payload(seq, 300)
	H.check("burst_in_order", in_order, back.size())


func _check_var_with_native_peer(dtls) -> void:
	var value := {"hp": 7, "at": Vector2(1.5, -2), "items": ["sword", 3], "ok": true}
	var native: PacketPeerDTLS = server.peers.back()
	var engine_said := {"from": "engine", "v": Vector3(1, 2, 3)}
	dtls.put_var(value)
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	var at_native = null
	while OS.get_ticks_msec() < deadline:
		server.udp_server.poll()  # the only reader of the server-side sockets
		native.poll()
		if native.get_available_packet_count() > 0:
			at_native = native.get_var()
			break
		OS.delay_usec(300)
	H.check("native_get_var_reads_facade_put_var", typeof(at_native) == TYPE_DICTIONARY and at_native.hash() == value.hash(), at_native)
	native.put_var(engine_said)
	var at_facade = null
	deadline = OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline:
		dtls.poll()
		if dtls.get_available_packet_count() > 0:
			at_facade = dtls.get_var()
			break
		OS.delay_usec(300)
	H.check("facade_get_var_reads_native_put_var", typeof(at_facade) == TYPE_DICTIONARY and at_facade.hash() == engine_said.hash(), at_facade)
	H.check("get_var_packet_error_ok", dtls.get_packet_error() == OK)


func _check_wrong_name(ca: X509Certificate) -> void:
	var dtls := PythonPacketPeerDTLS.new()
	dtls.connect_to_peer(H.new_udp(int(args["port"])), true, "wrong.example", ca)
	_pump([dtls], "_settled")
	H.check("wrong_name_status", dtls.get_status() == int(args["mismatch"]), dtls.get_status())


func _check_pins(ca: X509Certificate) -> void:
	var pinned := PythonPacketPeerDTLS.new().with_pins(PoolStringArray([args["pin"]]))
	pinned.connect_to_peer(H.new_udp(int(args["port"])), false, "localhost")
	_pump([pinned], "_settled")
	H.check("pinned_key_connects_without_ca", pinned.get_status() == 2, pinned.get_last_error_message())
	pinned.disconnect_from_peer()
	var wrong := PythonPacketPeerDTLS.new().with_pins(PoolStringArray(["sha256/" + "A".repeat(43) + "="]))
	wrong.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	_pump([wrong], "_settled")
	H.check("wrong_pin_fails_even_with_trusted_ca", wrong.get_status() == 3, wrong.get_last_error_message())


func _check_extensions_refused_on_engine(ca: X509Certificate) -> void:
	var dtls := PythonPacketPeerDTLS.new().with_alpn(PoolStringArray(["game/1"]))
	var result = dtls.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	H.check("extensions_refused_on_engine", result == ERR_UNAVAILABLE and "ALPN" in dtls.get_last_error_message(), dtls.get_last_error_message())
	var idle := PythonPacketPeerDTLS.new().with_idle_timeout(0.5)
	result = idle.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	H.check("idle_timeout_refused_on_engine", result == ERR_UNAVAILABLE and "idle timeout" in idle.get_last_error_message(), idle.get_last_error_message())


# Polls only peers (no server): the other side stays silent, as a dead peer would.
func _pump_alone(peers: Array, condition: String) -> bool:
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline:
		for peer in peers:
			peer.poll()
		if call(condition, peers):
			return true
		OS.delay_usec(1000)
	return call(condition, peers)


func _disconnected(peers: Array) -> bool:
	return peers[0].get_status() == PythonPacketPeerDTLS.STATUS_DISCONNECTED


# with_idle_timeout() on both facades: a connected peer that hears nothing for the
# timeout ends DISCONNECTED with the reason; 0 keeps the engine's behaviour (no limit).
func _check_idle_timeouts(key: CryptoKey, cert: X509Certificate, ca: X509Certificate) -> void:
	var client := PythonPacketPeerDTLS.new().with_idle_timeout(0.5)
	client.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	_pump([client], "_settled")
	var connected: bool = client.get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED
	var started := OS.get_ticks_msec()
	_pump_alone([client], "_disconnected")
	var waited := OS.get_ticks_msec() - started
	var reason: String = client.get_last_error_message()
	H.check("client_idle_timeout_disconnects", connected and _disconnected([client]) and "idle_timeout" in reason and waited >= 450, "%s after %d ms: %s" % [client.get_status(), waited, reason])
	var bad := PythonPacketPeerDTLS.new().with_idle_timeout(-1.0)
	var refused = bad.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost", ca)
	H.check("negative_idle_timeout_refused", refused == ERR_INVALID_PARAMETER and "idle_timeout" in bad.get_last_error_message(), bad.get_last_error_message())
	var idle_server = PythonDTLSServer.new().with_idle_timeout(0.5)
	var setup_result = idle_server.setup(key, cert)
	var udp_server := UDPServer.new()
	udp_server.listen(int(args["port2"]) + 1, "127.0.0.1")
	var native := PacketPeerDTLS.new()
	native.connect_to_peer(H.new_udp(int(args["port2"]) + 1), true, "localhost", ca)
	var taken := []
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline and native.get_status() == PacketPeerDTLS.STATUS_HANDSHAKING:
		udp_server.poll()
		while udp_server.is_connection_available():
			var peer = idle_server.take_connection(udp_server.take_connection())
			if peer.get_status() == PythonPacketPeerDTLS.STATUS_HANDSHAKING:
				taken.append(peer)
		for peer in taken:
			peer.poll()
		native.poll()
		OS.delay_usec(300)
	var server_ok: bool = setup_result == OK and native.get_status() == PacketPeerDTLS.STATUS_CONNECTED and taken.size() == 1
	if server_ok:
		deadline = OS.get_ticks_msec() + TIMEOUT_MS
		while OS.get_ticks_msec() < deadline and taken[0].get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED:
			udp_server.poll()
			taken[0].poll()  # the native client is never polled again: it is silent
			OS.delay_usec(1000)
		server_ok = taken[0].get_status() == PythonPacketPeerDTLS.STATUS_DISCONNECTED and "idle_timeout" in taken[0].get_last_error_message()
	H.check("server_peer_idle_timeout_disconnects", server_ok, taken[0].get_last_error_message() if taken.size() > 0 else native.get_status())
	udp_server.stop()


var facade_server
var facade_udp_server := UDPServer.new()
var facade_peers := []
var cookie_statuses := []


func _poll_facade_server() -> void:
	facade_udp_server.poll()
	while facade_udp_server.is_connection_available():
		var peer = facade_server.take_connection(facade_udp_server.take_connection())
		if peer.get_status() == PythonPacketPeerDTLS.STATUS_HANDSHAKING:
			facade_peers.append(peer)
		else:
			cookie_statuses.append(peer.get_status())
	for peer in facade_peers:
		peer.poll()
		while peer.get_available_packet_count() > 0:
			peer.put_packet(peer.get_packet())


func _check_server_facade(key: CryptoKey, cert: X509Certificate, ca: X509Certificate) -> void:
	facade_server = PythonDTLSServer.new()
	var expected_server := "engine:DTLSServer" if args["backend"].begins_with("engine") else args["backend"]
	H.check("server_backend", facade_server.get_backend() == expected_server, facade_server.get_backend())
	H.check("server_setup", facade_server.setup(key, cert) == OK, facade_server.get_last_error_message())
	facade_udp_server.listen(int(args["port2"]), "127.0.0.1")
	var client := PacketPeerDTLS.new()
	client.connect_to_peer(H.new_udp(int(args["port2"])), true, "localhost", ca)
	_pump([client], "_settled", funcref(self, "_poll_facade_server"))
	H.check("native_client_to_server_facade", client.get_status() == PacketPeerDTLS.STATUS_CONNECTED, client.get_status())
	client.put_packet(H.payload(9, 777))
	_pump([client], "_has_packet", funcref(self, "_poll_facade_server"))
	H.check("server_facade_echo", client.get_packet() == H.payload(9, 777))
	H.check("server_facade_cookie_peer_is_error", cookie_statuses.size() >= 1 and cookie_statuses[0] == PythonPacketPeerDTLS.STATUS_ERROR, cookie_statuses)
	client.disconnect_from_peer()
	facade_udp_server.stop()


func _check_preferences() -> void:
	var engine := PythonPacketPeerDTLS.new("engine")
	H.check("engine_preference_is_honoured", engine.get_backend() == "engine:PacketPeerDTLS", engine.get_backend())
	if args["backend"].begins_with("engine"):
		var required := PythonPacketPeerDTLS.new("python")
		var result := required.connect_to_peer(H.new_udp(int(args["port"])), true, "localhost")
		var ok: bool = required.get_backend() == "none" and result == ERR_UNAVAILABLE
		H.check("required_python_is_refused_loudly", ok and "required" in required.get_last_error_message(), required.get_last_error_message())
	else:
		var server := PythonDTLSServer.new("python")
		H.check("required_python_is_used", server.get_backend() == "python:godot-python", server.get_backend())
