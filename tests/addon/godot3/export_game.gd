extends Node
# The main scene of the exported-game check: the Python class, loaded from a game folder
# made from a real --export-pack, connects to the engine's own DTLSServer on loopback and
# echoes a packet. Args: port, key, cert, ca.

const H = preload("res://checks/harness.gd")
const NativeEchoServer = preload("res://checks/native_echo_server.gd")


func _ready() -> void:
	var args := H.args()
	var port := int(args["port"])
	var server = NativeEchoServer.new()
	server.start(port, H.load_key(args["key"]), H.load_certificate(args["cert"]))
	var dtls := PythonPacketPeerDTLS.new()
	H.check("exported_backend_is_python", dtls.get_backend() == "python:godot-python", dtls.get_backend())
	dtls.connect_to_peer(H.new_udp(port), true, "localhost", H.load_certificate(args["ca"]))
	var deadline := OS.get_ticks_msec() + 8000
	var sent := false
	var echoed := PoolByteArray()
	while OS.get_ticks_msec() < deadline:
		server.poll()
		dtls.poll()
		if dtls.get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED and not sent:
			sent = dtls.put_packet("hello from the exported game".to_utf8()) == OK
		if dtls.get_available_packet_count() > 0:
			echoed = dtls.get_packet()
			break
		OS.delay_usec(300)
	H.check("exported_game_connects", dtls.get_status() == PythonPacketPeerDTLS.STATUS_CONNECTED, dtls.get_last_error_message())
	H.check("exported_game_echoes", echoed.get_string_from_utf8() == "hello from the exported game")
	dtls.disconnect_from_peer()
	server.stop()
	H.done()
	get_tree().quit()
