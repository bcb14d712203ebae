# The least GDScript a DTLS echo client can be (Godot 3.2.3): the check of the anchor.
#
#   godot3-server --path <bench/godot3> -s res://bench_minimal.gd -- \
#       host=127.0.0.1 port=4433 hostname=localhost ca=/path/ca.pem sizes=64,1200 \
#       serial=20000 pipelined=100000 window=32 wait=block
#
# One engine PacketPeerDTLS, one packet per size sent over and over, and nothing per packet
# but put_packet, poll, get_available_packet_count and get_packet: no ring, no round-trip
# times, no checks, no Dictionary, no function call. `godot-dtls bench --anchor-check`
# runs it next to bench_client.gd: if the benchmark's loop is as fast as this one, the
# anchor is as fast as GDScript on the engine's PacketPeerDTLS goes.
#
# wait=block sleeps in PacketPeerUDP.wait() when the socket has nothing (as bench_client.gd
# with spin=0, and the Python clients' poll(2)); wait=spin polls again at once.
# Output: RESULT {"serial": {size: {"packets", "elapsed_us"}}, "pipelined": {...}}.
extends SceneTree

const Common = preload("res://bench_common.gd")

const STATUS_CONNECTED := 2
const LIMIT_USEC := 30000000


func _initialize() -> void:
	var args := Common.parse_args()
	var ca := X509Certificate.new()
	if ca.load(Common.arg_str(args, "ca", "")) != OK:
		Common.emit_result({"error": "cannot load the CA"}, 3)
		quit()
		return
	var udp := PacketPeerUDP.new()
	var dtls := PacketPeerDTLS.new()
	udp.connect_to_host(Common.arg_str(args, "host", "127.0.0.1"), Common.arg_int(args, "port", 0))
	dtls.connect_to_peer(udp, true, Common.arg_str(args, "hostname", "localhost"), ca)
	var limit := OS.get_ticks_usec() + 5000000
	while dtls.get_status() == 1 and OS.get_ticks_usec() < limit:
		dtls.poll()
	if dtls.get_status() != STATUS_CONNECTED:
		Common.emit_result({"error": "handshake failed"}, 1)
		quit()
		return
	var block: bool = Common.arg_str(args, "wait", "block") == "block"
	var window := Common.arg_int(args, "window", 32)
	var serial_count := Common.arg_int(args, "serial", 20000)
	var pipelined_count := Common.arg_int(args, "pipelined", 100000)
	var result := {"serial": {}, "pipelined": {}, "wait": "block" if block else "spin"}
	for size in Common.arg_int_list(args, "sizes", "64,1200"):
		var packet: PoolByteArray = Common.make_ring(size)[0]
		_serial(dtls, udp, packet, 200, block)  # warm-up
		result["serial"][str(size)] = _serial(dtls, udp, packet, serial_count, block)
		_pipelined(dtls, udp, packet, 200, window, block)
		result["pipelined"][str(size)] = _pipelined(
			dtls, udp, packet, pipelined_count, window, block
		)
	dtls.disconnect_from_peer()
	Common.emit_result(result, 0)
	quit()


func _serial(
	dtls: PacketPeerDTLS, udp: PacketPeerUDP, packet: PoolByteArray, count: int, block: bool
) -> Dictionary:
	var start := OS.get_ticks_usec()
	var limit := start + LIMIT_USEC
	var received := 0
	while received < count and OS.get_ticks_usec() < limit:
		dtls.put_packet(packet)
		dtls.poll()
		while dtls.get_available_packet_count() == 0:
			if block and udp.get_available_packet_count() == 0:
				udp.wait()
			dtls.poll()
		dtls.get_packet()
		received += 1
	return {"packets": received, "elapsed_us": OS.get_ticks_usec() - start}


func _pipelined(
	dtls: PacketPeerDTLS,
	udp: PacketPeerUDP,
	packet: PoolByteArray,
	count: int,
	window: int,
	block: bool
) -> Dictionary:
	var start := OS.get_ticks_usec()
	var limit := start + LIMIT_USEC
	var sent := 0
	var received := 0
	while received < count and OS.get_ticks_usec() < limit:
		while sent < count and sent - received < window:
			dtls.put_packet(packet)
			sent += 1
		dtls.poll()
		if dtls.get_available_packet_count() == 0:
			if block and udp.get_available_packet_count() == 0:
				udp.wait()
			continue
		while dtls.get_available_packet_count() > 0:
			dtls.get_packet()
			received += 1
			dtls.poll()
	return {"packets": received, "elapsed_us": OS.get_ticks_usec() - start}
