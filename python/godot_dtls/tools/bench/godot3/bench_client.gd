# DTLS benchmark client (Godot 3.2.3 headless, mbedTLS).
#
#   godot3-server --path <bench/godot3> -s res://bench_client.gd -- \
#       mode=perf host=127.0.0.1 port=4433 hostname=localhost ca=/path/ca.pem \
#       handshakes=50 sizes=64,1200 serial_s=1 pipelined_s=1 repeats=3 window=32
#
# mode=perf (one connection after the handshakes):
#   1. `handshakes` handshakes one after the other (cookie exchange included), each
#      timed from connect_to_peer() until STATUS_CONNECTED, then closed;
#   2. per size: `repeats` serial echo runs (one packet in flight) of `serial_s`
#      seconds, with the round-trip time of each packet;
#   3. per size: `repeats` pipelined echo runs (`window` packets in flight) of
#      `pipelined_s` seconds, each ending with a drain; every echo is compared.
#   A PHASE line announces each step (handshakes, serial <size>, pipelined <size>, done),
#   so the Python side can read this process's CPU time at the boundaries.
# mode=many: `peers` clients at once; the time until every handshake has ended, then
#   `echo_s` seconds in which every client keeps one 64-byte packet in flight.
#
# Waiting: a single connection blocks in PacketPeerUDP.wait() once nothing is left to
# read (the same as the Python clients' select()); the handshakes and mode=many spin.
# Output: PHASE lines, then RESULT {...}. Exit code 0, 1 when something
# failed (see "failures" / "lost" / "mismatches"), 3 on a setup error.
extends SceneTree

const Common = preload("res://bench_common.gd")

const HANDSHAKE_LIMIT_USEC := 5000000
const ECHO_LIMIT_USEC := 2000000
const DRAIN_USEC := 2000000
const WARMUP_PACKETS := 100

var _host := "127.0.0.1"
var _port := 0
var _hostname := "localhost"
var _ca: X509Certificate = null
var _deadline := 0


func _initialize() -> void:
	var args := Common.parse_args()
	_host = Common.arg_str(args, "host", "127.0.0.1")
	_port = Common.arg_int(args, "port", 0)
	_hostname = Common.arg_str(args, "hostname", "localhost")
	_deadline = OS.get_ticks_usec() + int(Common.arg_float(args, "timeout", 60.0) * 1000000.0)
	var ca_path := Common.arg_str(args, "ca", "")
	if ca_path != "":
		_ca = X509Certificate.new()
		var err: int = _ca.load(ca_path)
		if err != OK:
			_fail_setup("cannot load ca %s" % ca_path, err)
			return
	var mode := Common.arg_str(args, "mode", "perf")
	if mode == "perf":
		_run_perf(args)
	elif mode == "many":
		_run_many(args)
	else:
		_fail_setup("unknown mode %s" % mode, ERR_INVALID_PARAMETER)
		return
	quit()


# ---------------------------------------------------------------------------- mode=perf

func _run_perf(args: Dictionary) -> void:
	var handshakes := Common.arg_int(args, "handshakes", 30)
	var sizes := Common.arg_int_list(args, "sizes", "64,1200")
	var serial_usec := int(Common.arg_float(args, "serial_s", 1.0) * 1000000.0)
	var pipelined_usec := int(Common.arg_float(args, "pipelined_s", 1.0) * 1000000.0)
	var window := Common.arg_int(args, "window", 32)
	var repeats := int(max(1, Common.arg_int(args, "repeats", 1)))

	var result := {"role": "client", "mode": "perf", "handshake_ms": [], "failures": 0}
	print("PHASE handshakes")
	for _i in range(handshakes):
		var ms := _handshake_once()
		if ms < 0.0:
			result["failures"] += 1
		else:
			(result["handshake_ms"] as Array).append(ms)
		if OS.get_ticks_usec() >= _deadline:
			break

	var udp := PacketPeerUDP.new()
	var dtls := PacketPeerDTLS.new()
	if udp.connect_to_host(_host, _port) != OK or not _connect(udp, dtls):
		result["failures"] += 1
		Common.emit_result(result, 1)
		return
	var serial := {}
	var pipelined := {}
	var ok: bool = result["failures"] == 0
	for size in sizes:
		var ring := Common.make_ring(size)
		print("PHASE serial %d" % size)
		_serial(dtls, udp, ring, 0, WARMUP_PACKETS)
		var runs := []
		for _r in range(repeats):
			runs.append(_serial(dtls, udp, ring, serial_usec, 0))
		serial[str(size)] = runs
		print("PHASE pipelined %d" % size)
		_pipelined(dtls, udp, ring, window, 0, WARMUP_PACKETS)
		var pipe_runs := []
		for _r in range(repeats):
			pipe_runs.append(_pipelined(dtls, udp, ring, window, pipelined_usec, 0))
		pipelined[str(size)] = pipe_runs
		for run in runs + pipe_runs:
			ok = ok and run["lost"] == 0 and run["mismatches"] == 0
	print("PHASE done")
	result["serial"] = serial
	result["pipelined"] = pipelined
	dtls.disconnect_from_peer()
	udp.close()
	Common.emit_result(result, 0 if ok else 1)


# One handshake on a new socket; milliseconds from connect_to_peer() to CONNECTED, or -1.
func _handshake_once() -> float:
	var udp := PacketPeerUDP.new()
	if udp.connect_to_host(_host, _port) != OK:
		return -1.0
	var dtls := PacketPeerDTLS.new()
	var start := OS.get_ticks_usec()
	var ok := _connect(udp, dtls)
	var elapsed := OS.get_ticks_usec() - start
	dtls.disconnect_from_peer()
	udp.close()
	return float(elapsed) / 1000.0 if ok else -1.0


func _connect(udp: PacketPeerUDP, dtls: PacketPeerDTLS) -> bool:
	if dtls.connect_to_peer(udp, true, _hostname, _ca) != OK:
		return false
	var limit := int(min(_deadline, OS.get_ticks_usec() + HANDSHAKE_LIMIT_USEC))
	while dtls.get_status() == PacketPeerDTLS.STATUS_HANDSHAKING and OS.get_ticks_usec() < limit:
		dtls.poll()
	return dtls.get_status() == PacketPeerDTLS.STATUS_CONNECTED


# Serial echo for `duration_usec` (or `count` packets when > 0).
func _serial(dtls: PacketPeerDTLS, udp: PacketPeerUDP, ring: Array, duration_usec: int,
		count: int) -> Dictionary:
	var rtt := []
	var sent := 0
	var received := 0
	var mismatches := 0
	var start := OS.get_ticks_usec()
	var end_at := start + duration_usec
	while true:
		if count > 0:
			if sent >= count:
				break
		elif OS.get_ticks_usec() >= end_at:
			break
		var packet: PoolByteArray = ring[sent % Common.RING_SIZE]
		var sent_at := OS.get_ticks_usec()
		if dtls.put_packet(packet) != OK:
			break
		sent += 1
		var echo := _await_packet(dtls, udp, sent_at + ECHO_LIMIT_USEC)
		if echo.size() == 0:
			break
		rtt.append(OS.get_ticks_usec() - sent_at)
		received += 1
		if echo != packet:
			mismatches += 1
	var elapsed := OS.get_ticks_usec() - start
	return {
		"sent": sent, "received": received, "lost": sent - received,
		"mismatches": mismatches, "elapsed_us": elapsed, "rtt_us": rtt,
	}


# The next packet, waiting in PacketPeerUDP.wait() while nothing is readable.
func _await_packet(dtls: PacketPeerDTLS, udp: PacketPeerUDP, limit: int) -> PoolByteArray:
	while true:
		dtls.poll()
		if dtls.get_available_packet_count() > 0:
			return dtls.get_packet()
		if dtls.get_status() != PacketPeerDTLS.STATUS_CONNECTED or OS.get_ticks_usec() >= limit:
			return PoolByteArray()
		# poll() read at most one record; block only when the socket has nothing more.
		if udp.get_available_packet_count() == 0:
			udp.wait()
	return PoolByteArray()


# Pipelined echo: keep `window` packets in flight for `duration_usec` (or until `count`
# packets were sent when > 0), then drain; every echo is compared with what was sent.
func _pipelined(dtls: PacketPeerDTLS, udp: PacketPeerUDP, ring: Array, window: int,
		duration_usec: int, count: int) -> Dictionary:
	var sent := 0
	var received := 0
	var mismatches := 0
	var start := OS.get_ticks_usec()
	var end_at := start + duration_usec
	var last_echo := start
	while true:
		var now := OS.get_ticks_usec()
		var sending: bool = sent < count if count > 0 else now < end_at
		if sending:
			while sent - received < window:
				if dtls.put_packet(ring[sent % Common.RING_SIZE]) != OK:
					break
				sent += 1
		elif sent == received or now >= end_at + DRAIN_USEC:
			break
		dtls.poll()
		var got := false
		while dtls.get_available_packet_count() > 0:
			var echo: PoolByteArray = dtls.get_packet()
			if echo != ring[received % Common.RING_SIZE]:
				mismatches += 1
			received += 1
			got = true
			dtls.poll()
		if got:
			last_echo = OS.get_ticks_usec()
		elif dtls.get_status() != PacketPeerDTLS.STATUS_CONNECTED:
			break
		elif udp.get_available_packet_count() == 0:
			udp.wait()
	return {
		"sent": sent, "received": received, "lost": sent - received,
		"mismatches": mismatches, "elapsed_us": last_echo - start, "window": window,
	}


# ---------------------------------------------------------------------------- mode=many

func _run_many(args: Dictionary) -> void:
	var count := Common.arg_int(args, "peers", 20)
	var echo_usec := int(Common.arg_float(args, "echo_s", 1.0) * 1000000.0)
	var handshake_usec := int(Common.arg_float(args, "handshake_s", 30.0) * 1000000.0)
	var udps := []
	var peers := []
	var states := []  # 1 handshaking, 2 connected, 3 failed
	var start := OS.get_ticks_usec()
	for _i in range(count):
		var udp := PacketPeerUDP.new()
		var dtls := PacketPeerDTLS.new()
		var state := 3
		if udp.connect_to_host(_host, _port) == OK:
			if dtls.connect_to_peer(udp, true, _hostname, _ca) == OK:
				state = 1
		udps.append(udp)
		peers.append(dtls)
		states.append(state)
	var waiting := states.count(1)
	var limit := int(min(_deadline, start + handshake_usec))
	while waiting > 0 and OS.get_ticks_usec() < limit:
		for i in range(count):
			if states[i] != 1:
				continue
			var peer: PacketPeerDTLS = peers[i]
			peer.poll()
			var status: int = peer.get_status()
			if status == PacketPeerDTLS.STATUS_CONNECTED:
				states[i] = 2
				waiting -= 1
			elif status != PacketPeerDTLS.STATUS_HANDSHAKING:
				states[i] = 3
				waiting -= 1
	var handshake_ms := float(OS.get_ticks_usec() - start) / 1000.0
	var connected := states.count(2)
	print("PHASE handshakes %d %.3f" % [connected, handshake_ms])

	# Echo: every connected client keeps one packet in flight; an echo missing for
	# ECHO_LIMIT_USEC counts as lost and the client sends the next packet.
	var ring := Common.make_ring(64)
	var seq := []
	var sent_at := []
	for _i in range(count):
		seq.append(-1)
		sent_at.append(0)
	var received := 0
	var lost := 0
	var mismatches := 0
	var echo_start := OS.get_ticks_usec()
	var end_at := echo_start + echo_usec
	var next_seq := 0
	while OS.get_ticks_usec() < end_at:
		for i in range(count):
			if states[i] != 2:
				continue
			var client: PacketPeerDTLS = peers[i]
			if seq[i] >= 0:
				client.poll()
				if client.get_available_packet_count() > 0:
					var echo: PoolByteArray = client.get_packet()
					if echo != ring[seq[i] % Common.RING_SIZE]:
						mismatches += 1
					received += 1
					seq[i] = -1
				elif OS.get_ticks_usec() - sent_at[i] > ECHO_LIMIT_USEC:
					lost += 1
					seq[i] = -1
				elif client.get_status() != PacketPeerDTLS.STATUS_CONNECTED:
					states[i] = 3
			if seq[i] < 0 and states[i] == 2:
				if client.put_packet(ring[next_seq % Common.RING_SIZE]) == OK:
					seq[i] = next_seq
					sent_at[i] = OS.get_ticks_usec()
					next_seq += 1
	var echo_us := OS.get_ticks_usec() - echo_start
	print("PHASE echo %d" % received)
	for i in range(count):
		(peers[i] as PacketPeerDTLS).disconnect_from_peer()
		(udps[i] as PacketPeerUDP).close()
	Common.emit_result({
		"role": "client", "mode": "many", "peers": count, "connected": connected,
		"failed": states.count(3), "handshake_all_ms": handshake_ms,
		"echo_received": received, "echo_lost": lost, "echo_mismatches": mismatches,
		"echo_elapsed_us": echo_us,
	}, 0 if connected == count and mismatches == 0 else 1)


func _fail_setup(message: String, err: int) -> void:
	printerr("bench_client: %s (error %d)" % [message, err])
	Common.emit_result({"role": "client", "error": message, "code": err}, 3)
	quit()
