extends SceneTree
# Wrong arguments, wrong types and calls in the wrong state, from GDScript into the Python
# classes. Each call sits in its own function: a Python exception reaching GDScript would
# abort that function, so its CHECK line would be missing. Args: port (nothing listens),
# key, cert (server identity), other_key (a key that does not match cert).

const H = preload("res://checks/harness.gd")

var port := 0
var args := {}


func _initialize() -> void:
	args = H.args()
	port = int(args["port"])
	for name in [
		"connect_null_udp", "connect_unconnected_udp", "connect_hostname_int",
		"connect_options_not_dictionary", "connect_certificate_junk", "connect_object_as_udp",
		"connect_twice_is_already_in_use", "too_many_arguments", "too_few_arguments",
		"put_packet_string", "put_packet_disconnected", "put_packet_empty_disconnected",
		"get_packet_disconnected", "get_available_packet_count_disconnected",
		"get_var_disconnected", "put_var_disconnected", "accept_connection_bad_server_id",
		"accept_connection_unknown_server", "setup_null", "setup_junk_pem", "setup_key_not_text",
		"setup_mismatched_key", "setup_unknown_option", "udp_survives_failing_calls",
		"python_object_passed_to_itself", "error_message_names_the_problem",
	]:
		call("_" + name, name)
	H.done()
	quit()


func _peer():
	return H.new_python(H.PEER_SCRIPT)


func _connect_null_udp(name: String) -> void:
	H.check(name, _peer().connect_to_peer(null, true, "localhost") == ERR_INVALID_PARAMETER)


func _connect_unconnected_udp(name: String) -> void:
	H.check(name, _peer().connect_to_peer(PacketPeerUDP.new(), true, "localhost") == ERR_INVALID_PARAMETER)


func _connect_hostname_int(name: String) -> void:
	H.check(name, _peer().connect_to_peer(H.new_udp(port), true, 12345) == ERR_INVALID_PARAMETER)


func _connect_options_not_dictionary(name: String) -> void:
	H.check(name, _peer().connect_to_peer(H.new_udp(port), "localhost", 42) == ERR_INVALID_PARAMETER)


func _connect_certificate_junk(name: String) -> void:
	var result = _peer().connect_to_peer(H.new_udp(port), true, "localhost", "not a certificate")
	H.check(name, result == ERR_INVALID_PARAMETER, result)


func _connect_object_as_udp(name: String) -> void:
	var result = _peer().connect_to_peer(X509Certificate.new(), true, "localhost")
	H.check(name, result == ERR_INVALID_PARAMETER, result)


func _connect_twice_is_already_in_use(name: String) -> void:
	var peer = _peer()
	var first = peer.connect_to_peer(H.new_udp(port), false, "localhost")
	var second = peer.connect_to_peer(H.new_udp(port), false, "localhost")
	H.check(name, first == OK and second == ERR_ALREADY_IN_USE and peer.get_status() == 1, [first, second])
	peer.disconnect_from_peer()


func _too_many_arguments(name: String) -> void:
	var peer = _peer()
	var results = [peer.poll(1, 2), peer.get_status("x"), peer.put_packet(PoolByteArray([1]), 5)]
	H.check(name, results[0] == ERR_INVALID_PARAMETER and results[2] == ERR_INVALID_PARAMETER, results)


func _too_few_arguments(name: String) -> void:
	var peer = _peer()
	var results = [peer.put_packet(), peer.accept_connection(), peer.connect_to_peer()]
	H.check(name, results == [ERR_INVALID_PARAMETER, ERR_INVALID_PARAMETER, ERR_INVALID_PARAMETER], results)


func _put_packet_string(name: String) -> void:
	H.check(name, _peer().put_packet("text") == ERR_INVALID_PARAMETER)


func _put_packet_disconnected(name: String) -> void:
	H.check(name, _peer().put_packet(PoolByteArray([1, 2])) == ERR_UNCONFIGURED)


func _put_packet_empty_disconnected(name: String) -> void:
	H.check(name, _peer().put_packet(PoolByteArray()) == OK)


func _get_packet_disconnected(name: String) -> void:
	var peer = _peer()
	var packet = peer.get_packet()
	H.check(name, typeof(packet) == TYPE_RAW_ARRAY and packet.size() == 0 and peer.get_packet_error() == ERR_UNCONFIGURED, peer.get_packet_error())


func _get_available_packet_count_disconnected(name: String) -> void:
	H.check(name, _peer().get_available_packet_count() == 0)


func _get_var_disconnected(name: String) -> void:
	var peer = _peer()
	H.check(name, peer.get_var() == null and peer.get_packet_error() == ERR_UNCONFIGURED, peer.get_packet_error())


func _put_var_disconnected(name: String) -> void:
	H.check(name, _peer().put_var(Vector2(1, 2)) == ERR_UNCONFIGURED)


func _accept_connection_bad_server_id(name: String) -> void:
	H.check(name, _peer().accept_connection("one", H.new_udp(port)) == ERR_INVALID_PARAMETER)


func _accept_connection_unknown_server(name: String) -> void:
	H.check(name, _peer().accept_connection(987654321, H.new_udp(port)) == ERR_INVALID_PARAMETER)


func _setup_null(name: String) -> void:
	H.check(name, H.new_python(H.SERVER_SCRIPT).setup(null) == ERR_INVALID_PARAMETER)


func _setup_junk_pem(name: String) -> void:
	var result = H.new_python(H.SERVER_SCRIPT).setup({"key_pem": "junk", "certificate_pem": "junk"})
	H.check(name, result == ERR_INVALID_PARAMETER, result)


func _setup_key_not_text(name: String) -> void:
	var result = H.new_python(H.SERVER_SCRIPT).setup({"key_pem": 5, "certificate_pem": H.load_certificate(args["cert"])})
	H.check(name, result == ERR_INVALID_PARAMETER, result)


func _setup_mismatched_key(name: String) -> void:
	var server = H.new_python(H.SERVER_SCRIPT)
	var result = server.setup({"key_pem": H.load_key(args["other_key"]), "certificate_pem": H.load_certificate(args["cert"])})
	H.check(name, result == ERR_INVALID_PARAMETER and not server.get_last_error_message().empty(), result)


func _setup_unknown_option(name: String) -> void:
	var options := {"key_pem": H.load_key(args["key"]), "certificate_pem": H.load_certificate(args["cert"]), "pinz": []}
	H.check(name, H.new_python(H.SERVER_SCRIPT).setup(options) == ERR_INVALID_PARAMETER)


func _udp_survives_failing_calls(name: String) -> void:
	var udp := H.new_udp(port)
	var peer = _peer()
	for _index in range(200):
		peer.connect_to_peer(udp, "localhost", 42)
		peer.accept_connection("x", udp)
	H.check(name, is_instance_valid(udp) and udp.is_connected_to_host() and udp.put_packet(PoolByteArray([1])) == OK)


func _python_object_passed_to_itself(name: String) -> void:
	var peer = _peer()
	var results = [peer.accept_connection(peer, peer), peer.connect_to_peer(peer, true, "x")]
	H.check(name, results == [ERR_INVALID_PARAMETER, ERR_INVALID_PARAMETER] and is_instance_valid(peer) and peer.get_status() == 0, results)


func _error_message_names_the_problem(name: String) -> void:
	var peer = _peer()
	peer.connect_to_peer(null, true, "localhost")
	var message: String = peer.get_last_error_message()
	H.check(name, "udp" in message and "PacketPeerUDP" in message, message)
