extends SceneTree
# The Python server classes (PyDTLSServer + PyPacketPeerDTLS.accept_connection) inside the
# engine: the engine's own PacketPeerDTLS clients and Python clients connect to them.
# Args: port, key, cert, ca.

const H = preload("res://checks/harness.gd")
const TIMEOUT_MS := 8000

var udp_server := UDPServer.new()
var py_server
var server_peers := []
var echo := true
var cookie_statuses := []


func _initialize() -> void:
	var args := H.args()
	var port := int(args["port"])
	var key := H.load_key(args["key"])
	var cert := H.load_certificate(args["cert"])
	var ca := H.load_certificate(args["ca"])
	py_server = H.new_python(H.SERVER_SCRIPT)
	var setup = py_server.setup({"key_pem": key, "certificate_pem": cert})
	H.check("python_server_setup_with_engine_objects", setup == OK, py_server.get_last_error_message())
	H.check("engine_objects_survive_setup", is_instance_valid(key) and key.save("user://check.key") == OK and cert.save("user://check.crt") == OK)
	H.check("second_setup_is_already_in_use", py_server.setup({"key_pem": key, "certificate_pem": cert}) == ERR_ALREADY_IN_USE)
	udp_server.listen(port, "127.0.0.1")
	_check_native_client(port, ca)
	_check_python_client(port, ca)
	_check_three_clients(port, ca, "native")
	_check_three_clients(port, ca, "python")
	H.check("cookie_exchange_peers_are_error", cookie_statuses.size() > 0 and not (1 in cookie_statuses and 2 in cookie_statuses) and 3 in cookie_statuses, cookie_statuses)
	udp_server.stop()
	H.done()
	quit()


func _poll_server() -> void:
	udp_server.poll()
	while udp_server.is_connection_available():
		var peer = H.new_python(H.PEER_SCRIPT)
		peer.accept_connection(py_server.get_server_id(), udp_server.take_connection())
		if peer.get_status() == 1:
			server_peers.append(peer)
		else:
			cookie_statuses.append(peer.get_status())
	for peer in server_peers:
		peer.poll()
		while echo and peer.get_status() == 2 and peer.get_available_packet_count() > 0:
			peer.put_packet(peer.get_packet())


func _pump(clients: Array, condition: String) -> bool:
	var deadline := OS.get_ticks_msec() + TIMEOUT_MS
	while OS.get_ticks_msec() < deadline:
		_poll_server()
		for client in clients:
			client.poll()
		if call(condition, clients):
			return true
		OS.delay_usec(300)
	return call(condition, clients)


func _all_settled(clients: Array) -> bool:
	for client in clients:
		if client.get_status() == 1:
			return false
	return true


func _all_have_packets(clients: Array) -> bool:
	for client in clients:
		if client.get_available_packet_count() == 0:
			return false
	return true


func _server_has_packet(_clients: Array) -> bool:
	return server_peers.size() > 0 and server_peers.back().get_available_packet_count() > 0


func _new_client(kind: String, port: int, ca: X509Certificate):
	var client = PacketPeerDTLS.new() if kind == "native" else H.new_python(H.PEER_SCRIPT)
	client.connect_to_peer(H.new_udp(port), true, "localhost", ca)
	return client


func _check_native_client(port: int, ca: X509Certificate) -> void:
	var client = _new_client("native", port, ca)
	_pump([client], "_all_settled")
	H.check("native_client_connects", client.get_status() == PacketPeerDTLS.STATUS_CONNECTED, client.get_status())
	for size in [64, 1200, 16384]:
		var data := H.payload(size, size)
		client.put_packet(data)
		_pump([client], "_all_have_packets")
		H.check("native_client_echo_%d" % size, client.get_packet() == data)
	echo = false
	var value := {"score": 42, "where": Vector3(1, 2, 3), "name": "héllo"}
	client.put_var(value)
	_pump([client], "_server_has_packet")
	var at_server = server_peers.back().get_var()
	H.check("python_get_var_reads_native_put_var", typeof(at_server) == TYPE_DICTIONARY and at_server.hash() == value.hash(), at_server)
	server_peers.back().put_var(value)
	_pump([client], "_all_have_packets")
	var at_client = client.get_var()
	H.check("native_get_var_reads_python_put_var", typeof(at_client) == TYPE_DICTIONARY and at_client.hash() == value.hash(), at_client)
	echo = true
	client.disconnect_from_peer()
	_pump([], "_all_settled")
	H.check("server_peer_sees_close_notify", server_peers.back().get_status() == 0, server_peers.back().get_status())


func _check_python_client(port: int, ca: X509Certificate) -> void:
	var client = _new_client("python", port, ca)
	_pump([client], "_all_settled")
	H.check("python_to_python_connects", client.get_status() == 2, client.get_last_error_message())
	var data := H.payload(3, 500)
	client.put_packet(data)
	_pump([client], "_all_have_packets")
	H.check("python_to_python_echo", client.get_packet() == data)
	client.disconnect_from_peer()


func _check_three_clients(port: int, ca: X509Certificate, kind: String) -> void:
	var clients := []
	for _index in range(3):
		clients.append(_new_client(kind, port, ca))
	_pump(clients, "_all_settled")
	var connected := 0
	for client in clients:
		if client.get_status() == 2:
			connected += 1
	H.check("three_%s_clients_at_once_connect" % kind, connected == 3, connected)
	for index in range(clients.size()):
		clients[index].put_packet(H.payload(index, 100 + index))
	_pump(clients, "_all_have_packets")
	var exact := true
	for index in range(clients.size()):
		exact = exact and clients[index].get_packet() == H.payload(index, 100 + index)
	H.check("three_%s_clients_at_once_echo_their_own" % kind, exact)
	for client in clients:
		client.disconnect_from_peer()
