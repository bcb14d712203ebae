# DTLS benchmark client (Godot 3.2.3 headless): one GDScript loop for three kinds of peer.
#
#   godot3-server --path <project> -s res://bench_client.gd -- \
#       mode=perf backend=engine host=127.0.0.1 port=4433 hostname=localhost ca=/path/ca.pem \
#       handshakes=50 sizes=64,1200 serial_s=1 pipelined_s=1 repeats=3 window=32 spin=0
#
# backend (the peer the loops drive, one new object per connection):
#   engine  the engine's PacketPeerDTLS (mbedTLS): the benchmark's anchor;
#   facade  PythonPacketPeerDTLS with its Python backend (godot-dtls through godot-python):
#           what a game's GDScript sees;
#   python  the exposed Python class itself (packet_peer_dtls.py), without the facade.
#   facade and python need a project with godot-python and godot-dtls installed (the
#   benchmark assembles one); the loops are the same for all three: they call the peer only
#   through PacketPeerDTLS's methods, untyped (Godot 3's GDScript runs typed and untyped
#   calls alike), and drain a poll() by get_available_packet_count(), so a peer that keeps
#   every packet of a poll (the facade) and one that keeps one (the engine) both work.
#
# mode=perf (one connection after the handshakes):
#   1. `handshakes` handshakes one after the other (cookie exchange included), each timed
#      from connect_to_peer() until STATUS_CONNECTED, then closed;
#   2. per size: `repeats` serial echo runs (one packet in flight) of `serial_s` seconds,
#      with the round-trip time of each packet;
#   3. per size: `repeats` pipelined echo runs (`window` packets in flight) of
#      `pipelined_s` seconds, each ending with a drain.
#   The timed runs do per packet only what every client does (put_packet, poll,
#   get_available_packet_count, get_packet, a counter, and in serial runs the round-trip
#   time, as the Python clients). Payloads are checked outside them: the warm-up before
#   and a verification pass after each size's runs compare every echo with what was sent
#   (loss, order, content); in the timed runs a lost packet shows as sent != received.
#   Waiting for an echo: `spin` polls that found nothing, then PacketPeerUDP.wait() until
#   the socket is readable (spin=0: sleep at once, as the Python clients' poll(2); a huge
#   spin never sleeps). `profile=PATH` runs cProfile in the engine's Python (through
#   res://bench_probe.py) over the pipelined runs of the first size.
#   A PHASE line announces each step (handshakes, serial <size>, pipelined <size>, done), so
#   the Python side can read this process's CPU time at the boundaries.
# mode=many: `peers` engine clients at once; the time until every handshake has ended, then
#   `echo_s` seconds in which every client keeps one 64-byte packet in flight.
# mode=calls: the cost of one call from GDScript into GDScript, into the engine and into
#   Python (a no-op each, and a PoolByteArray in and out), `calls` times each; needs
#   res://bench_probe.py (godot-python) for the Python ones.
#
# Output: PHASE lines, then RESULT {...}. Exit code 0, 1 when something failed (see
# "failures" / "lost" / "mismatches"), 3 on a setup error.
extends SceneTree

const Common = preload("res://bench_common.gd")

const HANDSHAKE_LIMIT_USEC := 5000000
const ECHO_LIMIT_USEC := 2000000
const DRAIN_USEC := 2000000
const WARMUP_PACKETS := 100
const VERIFY_PACKETS := 256
const RING_MASK := 255  # Common.RING_SIZE - 1
const STATUS_HANDSHAKING := 1
const STATUS_CONNECTED := 2
const FACADE_SCRIPT := "res://addons/godot_dtls/python_packet_peer_dtls.gd"
const PEER_SCRIPT := "res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py"
const PROBE_SCRIPT := "res://bench_probe.py"
const ENGINE_BACKEND := "engine:PacketPeerDTLS"


# A GDScript object whose methods do nothing, for mode=calls.
class NoOp:
	extends Reference

	func noop() -> void:
		pass

	func take(_buffer: PoolByteArray) -> void:
		pass


var _host := "127.0.0.1"
var _port := 0
var _hostname := "localhost"
var _ca: X509Certificate = null
var _deadline := 0
var _backend := "engine"
var _peer_script = null
var _probe = null
var _spin_limit := 1 << 62


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
	if mode == "calls":
		_run_calls(args)
		quit()
		return
	if not _choose_backend(Common.arg_str(args, "backend", "engine")):
		return
	if mode == "perf":
		_run_perf(args)
	elif mode == "many":
		_run_many(args)
	else:
		_fail_setup("unknown mode %s" % mode, ERR_INVALID_PARAMETER)
		return
	quit()


# Loads what backend needs and checks that a peer of it can be made; false after a setup error.
func _choose_backend(backend: String) -> bool:
	_backend = backend
	if backend == "engine":
		return true
	if backend != "facade" and backend != "python":
		_fail_setup("unknown backend %s (engine, facade or python)" % backend, ERR_INVALID_PARAMETER)
		return false
	_peer_script = load(FACADE_SCRIPT if backend == "facade" else PEER_SCRIPT)
	var peer = _new_peer() if _peer_script != null else null
	var name := ""
	if peer != null and peer.has_method("get_backend"):
		name = str(peer.get_backend())
	if not name.begins_with("python"):
		_fail_setup("backend %s: no Python peer here (got %s)" % [backend, name], ERR_UNAVAILABLE)
		return false
	return true


func _new_peer():
	if _backend == "engine":
		return PacketPeerDTLS.new()
	if _backend == "facade":
		return _peer_script.new("python")
	return _peer_script.new()


func _backend_name(peer) -> String:
	return ENGINE_BACKEND if _backend == "engine" else "%s via %s" % [peer.get_backend(), _backend]


# ---------------------------------------------------------------------------- mode=perf

func _run_perf(args: Dictionary) -> void:
	var handshakes := Common.arg_int(args, "handshakes", 30)
	var sizes := Common.arg_int_list(args, "sizes", "64,1200")
	var serial_usec := int(Common.arg_float(args, "serial_s", 1.0) * 1000000.0)
	var pipelined_usec := int(Common.arg_float(args, "pipelined_s", 1.0) * 1000000.0)
	var window := Common.arg_int(args, "window", 32)
	var repeats := int(max(1, Common.arg_int(args, "repeats", 1)))
	_spin_limit = Common.arg_int(args, "spin", 1 << 62)
	var profile_path := Common.arg_str(args, "profile", "")

	var result := {
		"role": "client", "mode": "perf", "handshake_ms": [], "failures": 0, "verify": {},
	}
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
	var peer = _new_peer()
	result["backend"] = _backend_name(peer)
	if udp.connect_to_host(_host, _port) != OK or not _connect(udp, peer):
		result["failures"] += 1
		Common.emit_result(result, 1)
		return
	var serial := {}
	var pipelined := {}
	var ok: bool = result["failures"] == 0
	for size in sizes:
		var ring := Common.make_ring(size)
		var checks := []
		print("PHASE serial %d" % size)
		checks.append(_serial(peer, udp, ring, 0, WARMUP_PACKETS, true))
		var runs := []
		for _r in range(repeats):
			runs.append(_serial(peer, udp, ring, serial_usec, 0, false))
		serial[str(size)] = runs
		print("PHASE pipelined %d" % size)
		checks.append(_pipelined(peer, udp, ring, window, 0, WARMUP_PACKETS, true))
		var pipe_runs := []
		var profiling := _profile_start(profile_path if size == sizes[0] else "")
		for _r in range(repeats):
			pipe_runs.append(_pipelined(peer, udp, ring, window, pipelined_usec, 0, false))
		if profiling:
			_profile_stop(profile_path)
		pipelined[str(size)] = pipe_runs
		checks.append(_serial(peer, udp, ring, 0, VERIFY_PACKETS, true))
		checks.append(_pipelined(peer, udp, ring, window, 0, VERIFY_PACKETS, true))
		result["verify"][str(size)] = _verification(checks)
		for run in runs + pipe_runs + checks:
			ok = ok and run["lost"] == 0 and run["mismatches"] == 0
	print("PHASE done")
	result["serial"] = serial
	result["pipelined"] = pipelined
	peer.disconnect_from_peer()
	udp.close()
	Common.emit_result(result, 0 if ok else 1)


# The untimed runs that compared every echo, summed: {"compared", "lost", "mismatches"}.
func _verification(checks: Array) -> Dictionary:
	var total := {"compared": 0, "lost": 0, "mismatches": 0}
	for run in checks:
		total["compared"] += run["received"]
		total["lost"] += run["lost"]
		total["mismatches"] += run["mismatches"]
	return total


# One handshake on a new socket and a new peer; milliseconds from connect_to_peer() to
# CONNECTED, or -1.
func _handshake_once() -> float:
	var udp := PacketPeerUDP.new()
	if udp.connect_to_host(_host, _port) != OK:
		return -1.0
	var peer = _new_peer()
	var start := OS.get_ticks_usec()
	var ok := _connect(udp, peer)
	var elapsed := OS.get_ticks_usec() - start
	peer.disconnect_from_peer()
	udp.close()
	return float(elapsed) / 1000.0 if ok else -1.0


func _connect(udp: PacketPeerUDP, peer) -> bool:
	if peer.connect_to_peer(udp, true, _hostname, _ca) != OK:
		return false
	var limit := int(min(_deadline, OS.get_ticks_usec() + HANDSHAKE_LIMIT_USEC))
	while peer.get_status() == STATUS_HANDSHAKING and OS.get_ticks_usec() < limit:
		peer.poll()
	return peer.get_status() == STATUS_CONNECTED


# Serial echo for `duration_usec` (or `count` packets when > 0); with verify, every echo is
# compared with the packet sent.
func _serial(peer, udp: PacketPeerUDP, ring: Array, duration_usec: int, count: int,
		verify: bool) -> Dictionary:
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
		var packet: PoolByteArray = ring[sent & RING_MASK]
		var sent_at := OS.get_ticks_usec()
		if peer.put_packet(packet) != OK:
			break
		sent += 1
		var limit := sent_at + ECHO_LIMIT_USEC
		var timed_out := false
		var spins := 0
		peer.poll()
		while peer.get_available_packet_count() == 0:
			if peer.get_status() != STATUS_CONNECTED or OS.get_ticks_usec() >= limit:
				timed_out = true
				break
			spins += 1
			if spins > _spin_limit and udp.get_available_packet_count() == 0:
				udp.wait()
			peer.poll()
		if timed_out:
			break
		var echo: PoolByteArray = peer.get_packet()
		rtt.append(OS.get_ticks_usec() - sent_at)
		received += 1
		if verify and echo != packet:
			mismatches += 1
	var elapsed := OS.get_ticks_usec() - start
	return {
		"sent": sent, "received": received, "lost": sent - received,
		"mismatches": mismatches, "elapsed_us": elapsed, "rtt_us": rtt,
	}


# Pipelined echo: keep `window` packets in flight for `duration_usec` (or until `count`
# packets were sent when > 0), then drain. A poll() is drained by the packet count it
# reports: the engine's peer holds one packet per poll(), the facade every packet of it.
func _pipelined(peer, udp: PacketPeerUDP, ring: Array, window: int, duration_usec: int, count: int,
		verify: bool) -> Dictionary:
	var sent := 0
	var received := 0
	var mismatches := 0
	var start := OS.get_ticks_usec()
	var end_at := start + duration_usec
	var last_echo := start
	var idle := 0
	while true:
		var now := OS.get_ticks_usec()
		var sending: bool = sent < count if count > 0 else now < end_at
		if sending:
			while sent - received < window:
				if peer.put_packet(ring[sent & RING_MASK]) != OK:
					break
				sent += 1
		elif sent == received or now >= end_at + DRAIN_USEC:
			break
		peer.poll()
		var available: int = peer.get_available_packet_count()
		if available > 0:
			while available > 0:
				var echo: PoolByteArray = peer.get_packet()
				if verify and echo != ring[received & RING_MASK]:
					mismatches += 1
				received += 1
				available -= 1
				if available == 0:
					peer.poll()
					available = peer.get_available_packet_count()
			last_echo = OS.get_ticks_usec()
			idle = 0
		elif peer.get_status() != STATUS_CONNECTED:
			break
		else:
			idle += 1
			if idle > _spin_limit and udp.get_available_packet_count() == 0:
				udp.wait()
				idle = 0
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
		var peer = _new_peer()
		var state := 3
		if udp.connect_to_host(_host, _port) == OK:
			if peer.connect_to_peer(udp, true, _hostname, _ca) == OK:
				state = 1
		udps.append(udp)
		peers.append(peer)
		states.append(state)
	var waiting := states.count(1)
	var limit := int(min(_deadline, start + handshake_usec))
	while waiting > 0 and OS.get_ticks_usec() < limit:
		for i in range(count):
			if states[i] != 1:
				continue
			var peer = peers[i]
			peer.poll()
			var status: int = peer.get_status()
			if status == STATUS_CONNECTED:
				states[i] = 2
				waiting -= 1
			elif status != STATUS_HANDSHAKING:
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
			var client = peers[i]
			if seq[i] >= 0:
				client.poll()
				if client.get_available_packet_count() > 0:
					var echo: PoolByteArray = client.get_packet()
					if echo != ring[seq[i] & RING_MASK]:
						mismatches += 1
					received += 1
					seq[i] = -1
				elif OS.get_ticks_usec() - sent_at[i] > ECHO_LIMIT_USEC:
					lost += 1
					seq[i] = -1
				elif client.get_status() != STATUS_CONNECTED:
					states[i] = 3
			if seq[i] < 0 and states[i] == 2:
				if client.put_packet(ring[next_seq & RING_MASK]) == OK:
					seq[i] = next_seq
					sent_at[i] = OS.get_ticks_usec()
					next_seq += 1
	var echo_us := OS.get_ticks_usec() - echo_start
	print("PHASE echo %d" % received)
	for i in range(count):
		peers[i].disconnect_from_peer()
		(udps[i] as PacketPeerUDP).close()
	Common.emit_result({
		"role": "client", "mode": "many", "peers": count, "connected": connected,
		"failed": states.count(3), "handshake_all_ms": handshake_ms,
		"echo_received": received, "echo_lost": lost, "echo_mismatches": mismatches,
		"echo_elapsed_us": echo_us,
	}, 0 if connected == count and mismatches == 0 else 1)


# ---------------------------------------------------------------------------- mode=calls

# µs per call of each kind, best of `repeats` loops of `calls` calls, less the empty loop.
func _run_calls(args: Dictionary) -> void:
	var calls := int(max(1, Common.arg_int(args, "calls", 100000)))
	var repeats := int(max(1, Common.arg_int(args, "repeats", 3)))
	var small := Common.make_ring(64)[0] as PoolByteArray
	var large := Common.make_ring(1200)[0] as PoolByteArray
	var gdscript := NoOp.new()
	var engine := PacketPeerDTLS.new()
	var result := {"role": "client", "mode": "calls", "calls": calls, "repeats": repeats}
	var empty := _best(funcref(self, "_loop_empty"), null, null, calls, repeats)
	var timings := {
		"gdscript_noop": _best(funcref(self, "_loop_noop"), gdscript, null, calls, repeats),
		"gdscript_take_64": _best(funcref(self, "_loop_take"), gdscript, small, calls, repeats),
		"engine_get_status": _best(
			funcref(self, "_loop_get_status"), engine, null, calls, repeats
		),
	}
	var probe = null
	var probe_script = load(PROBE_SCRIPT) if ResourceLoader.exists(PROBE_SCRIPT) else null
	if probe_script != null:
		probe = probe_script.new()
	if probe != null and probe.has_method("noop"):
		timings["python_noop"] = _best(funcref(self, "_loop_noop"), probe, null, calls, repeats)
		for entry in [["64", small], ["1200", large]]:
			var size: String = entry[0]
			var buffer: PoolByteArray = entry[1]
			timings["python_take_" + size] = _best(
				funcref(self, "_loop_take"), probe, buffer, calls, repeats
			)
			timings["python_to_bytes_" + size] = _best(
				funcref(self, "_loop_to_bytes"), probe, buffer, calls, repeats
			)
			timings["python_round_trip_" + size] = _best(
				funcref(self, "_loop_round_trip"), probe, buffer, calls, repeats
			)
		var inside = probe.time_inside(engine, small, large, calls)
		if typeof(inside) == TYPE_DICTIONARY:
			result["inside_python_us"] = inside
	else:
		result["python"] = "no Python probe here (%s needs godot-python)" % PROBE_SCRIPT
	var per_call := {}
	for key in timings:
		per_call[key] = max(0.0, (timings[key] - empty) / float(calls))
	result["empty_loop_us"] = empty / float(calls)
	result["per_call_us"] = per_call
	Common.emit_result(result, 0)


# The fastest of `repeats` runs of loop.call_func(target, buffer, calls), in µs.
func _best(loop: FuncRef, target, buffer, calls: int, repeats: int) -> float:
	var best := -1.0
	for _r in range(repeats):
		var start := OS.get_ticks_usec()
		loop.call_func(target, buffer, calls)
		var elapsed := float(OS.get_ticks_usec() - start)
		if best < 0.0 or elapsed < best:
			best = elapsed
	return best


func _loop_empty(_target, _buffer, calls: int) -> void:
	for _i in range(calls):
		pass


func _loop_noop(target, _buffer, calls: int) -> void:
	for _i in range(calls):
		target.noop()


func _loop_take(target, buffer, calls: int) -> void:
	for _i in range(calls):
		target.take(buffer)


func _loop_to_bytes(target, buffer, calls: int) -> void:
	for _i in range(calls):
		target.to_bytes(buffer)


func _loop_round_trip(target, buffer, calls: int) -> void:
	for _i in range(calls):
		target.round_trip(buffer)


func _loop_get_status(target, _buffer, calls: int) -> void:
	for _i in range(calls):
		target.get_status()


# profile=PATH: cProfile of the Python side (bench_probe.py) over the pipelined runs of the
# first size; true when it started.
func _profile_start(path: String) -> bool:
	if path == "" or not ResourceLoader.exists(PROBE_SCRIPT):
		return false
	_probe = load(PROBE_SCRIPT).new()
	return _probe != null and _probe.profile_start() == 0


func _profile_stop(path: String) -> void:
	_probe.profile_stop(path)


func _fail_setup(message: String, err: int) -> void:
	printerr("bench_client: %s (error %d)" % [message, err])
	Common.emit_result({"role": "client", "error": message, "code": err}, 3)
	quit()
