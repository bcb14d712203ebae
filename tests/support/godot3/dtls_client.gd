# DTLS client for interop tests and benchmarks (Godot 3.2.3 headless).
#
#   godot3-server --path tests/godot3 -s res://dtls_client.gd -- \
#       host=127.0.0.1 port=4433 hostname=localhost validate=true ca=/path/ca.pem \
#       sizes=64,1200,16384 count=3 timeout=10
#
# Arguments (key=value after "--"):
#   host       server IP literal (3.2.3 connect_to_host does not resolve names)
#   port       server UDP port
#   hostname   for_hostname: sent as SNI and used for the certificate name check
#   validate   validate_certs (default true)
#   ca         optional PEM path -> valid_certificate (replaces the default CA bundle)
#   sizes      comma list of payload sizes (default 64)
#   count      packets per size (default 1)
#   timeout    overall deadline in seconds (default 10)
#   packet_timeout  seconds to wait for one echo before counting it lost (default 2)
#   mode       echo (default): handshake then echo test; handshake: handshake only
#   idle_us    sleep per loop iteration while waiting (default 100)
#
# Payload s (0-based over the whole run) of size n: byte j = (j + s) % 251.
# Output: STATUS <n> on status changes, then RESULT {status, handshake_ms, echoed,
# mismatches, lost, rtt_us:[...], ...}. Exit code 0 = connected and every echo
# matched; 1 = handshake did not reach CONNECTED; 2 = echo failures; 3 = bad setup.
extends SceneTree

const Common = preload("res://common.gd")

var _dtls := PacketPeerDTLS.new()
var _udp := PacketPeerUDP.new()
var _status := PacketPeerDTLS.STATUS_DISCONNECTED
var _deadline := 0
var _idle_us := 100


func _initialize() -> void:
	var args := Common.parse_args()
	var host := Common.arg_str(args, "host", "127.0.0.1")
	var port := Common.arg_int(args, "port", 0)
	var hostname := Common.arg_str(args, "hostname", "")
	var validate := Common.arg_bool(args, "validate", true)
	var ca_path := Common.arg_str(args, "ca", "")
	var sizes := Common.arg_int_list(args, "sizes", "64")
	var count := Common.arg_int(args, "count", 1)
	var timeout := Common.arg_float(args, "timeout", 10.0)
	var packet_timeout := Common.arg_float(args, "packet_timeout", 2.0)
	var mode := Common.arg_str(args, "mode", "echo")
	_idle_us = Common.arg_int(args, "idle_us", 100)

	var start := OS.get_ticks_usec()
	_deadline = start + int(timeout * 1000000.0)

	if mode != "echo" and mode != "handshake":
		_fail_setup("unknown mode %s" % mode, ERR_INVALID_PARAMETER)
		return
	var ca: X509Certificate = null
	if ca_path != "":
		ca = X509Certificate.new()
		var ca_err: int = ca.load(ca_path)
		if ca_err != OK:
			_fail_setup("cannot load ca %s" % ca_path, ca_err)
			return

	var err: int = _udp.connect_to_host(host, port)
	if err != OK:
		_fail_setup("connect_to_host(%s, %d) failed" % [host, port], err)
		return

	# --- Handshake ---------------------------------------------------------------------
	var hs_start := OS.get_ticks_usec()
	var connect_err: int = _dtls.connect_to_peer(_udp, validate, hostname, ca)
	_note_status()
	while _status == PacketPeerDTLS.STATUS_HANDSHAKING and OS.get_ticks_usec() < _deadline:
		_dtls.poll()
		if not _note_status():
			OS.delay_usec(_idle_us)
	var handshake_ms := Common.elapsed_ms(hs_start)
	var hs_status := _status

	var result := {
		"role": "client",
		"mode": mode,
		"status": hs_status,
		"connect_error": connect_err,
		"handshake_ms": handshake_ms,
		"sent": 0,
		"echoed": 0,
		"mismatches": 0,
		"lost": 0,
		"send_errors": 0,
		"bytes": 0,
		"rtt_us": [],
	}
	if hs_status != PacketPeerDTLS.STATUS_CONNECTED:
		# Still HANDSHAKING here means the overall deadline expired first.
		result["timed_out"] = hs_status == PacketPeerDTLS.STATUS_HANDSHAKING
		_dtls.disconnect_from_peer()
		_udp.close()
		result["final_status"] = _dtls.get_status()
		result["elapsed_ms"] = Common.elapsed_ms(start)
		Common.emit_result(result, 1)
		quit()
		return

	# --- Echo test ---------------------------------------------------------------------
	var expected := 0
	if mode == "echo":
		var pattern := Common.make_pattern()
		var seq := 0
		for size in sizes:
			for _i in range(count):
				expected += 1
				_echo_one(result, Common.payload(pattern, seq, size), packet_timeout)
				seq += 1
				if _status != PacketPeerDTLS.STATUS_CONNECTED or OS.get_ticks_usec() >= _deadline:
					break
			if _status != PacketPeerDTLS.STATUS_CONNECTED or OS.get_ticks_usec() >= _deadline:
				break

	result["expected"] = expected
	result["final_status"] = _status
	# Sends close_notify when CONNECTED; the server sees DISCONNECTED.
	_dtls.disconnect_from_peer()
	_udp.close()
	result["elapsed_ms"] = Common.elapsed_ms(start)
	var ok: bool = result["echoed"] == expected and result["mismatches"] == 0
	Common.emit_result(result, 0 if ok else 2)
	quit()


# Sends one payload and waits for its echo; updates the counters in `result`.
func _echo_one(result: Dictionary, payload: PoolByteArray, packet_timeout: float) -> void:
	var sent_at := OS.get_ticks_usec()
	var wait_until := int(min(_deadline, sent_at + int(packet_timeout * 1000000.0)))
	result["sent"] += 1
	var err: int = _dtls.put_packet(payload)
	if err != OK:
		# e.g. ERR_CONNECTION_ERROR for a payload over 16384 bytes (status -> DISCONNECTED).
		result["send_errors"] += 1
		_note_status()
		return
	while OS.get_ticks_usec() < wait_until:
		_dtls.poll()
		if _note_status() and _status != PacketPeerDTLS.STATUS_CONNECTED:
			break
		if _dtls.get_available_packet_count() > 0:
			var echo: PoolByteArray = _dtls.get_packet()
			var rtt := OS.get_ticks_usec() - sent_at
			if echo == payload:
				result["echoed"] += 1
				result["bytes"] += echo.size()
				(result["rtt_us"] as Array).append(rtt)
			else:
				result["mismatches"] += 1
			return
		OS.delay_usec(_idle_us)
	if _status == PacketPeerDTLS.STATUS_CONNECTED:
		result["lost"] += 1


# Reads the DTLS status; prints STATUS <n> and returns true when it changed.
func _note_status() -> bool:
	var status: int = _dtls.get_status()
	if status == _status:
		return false
	_status = status
	print("STATUS %d" % status)
	return true


func _fail_setup(message: String, err: int) -> void:
	printerr("dtls_client: %s (error %d)" % [message, err])
	Common.emit_result({"role": "client", "error": message, "code": err, "status": _status}, 3)
	quit()
