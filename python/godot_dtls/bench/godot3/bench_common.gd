# Helpers shared by the benchmark scripts (Godot 3.2.3, GDScript 1).
#
# Loaded with `const Common = preload("res://bench_common.gd")`; everything here is
# static. Output protocol, one line each on stdout (read by godot_dtls/bench/procs.py):
#   READY <port>          the server is listening
#   PHASE <name> [...]    the client reached a point the Python side may sample at
#   RESULT <json>         final summary, printed exactly once, right before quit()
extends Reference

# Payload k of a ring (k = 0..RING_SIZE-1): byte 0 is k, byte j > 0 is (j + k) % 251.
# Packet number s carries ring[s % RING_SIZE], so loss, duplication and reordering
# within a window show up as a mismatch. The Python side builds the same ring.
const RING_SIZE := 256
const PATTERN_MODULUS := 251


# Arguments come as key=value after "--" (Godot 3.2.3 keeps "--" in the list).
static func parse_args() -> Dictionary:
	var raw: PoolStringArray = OS.get_cmdline_args()
	var start := 0
	for i in range(raw.size()):
		if raw[i] == "--":
			start = i + 1
			break
	var out := {}
	for i in range(start, raw.size()):
		var parts: PoolStringArray = raw[i].split("=", true, 1)
		if parts.size() == 2 and parts[0] != "":
			out[parts[0]] = parts[1]
	return out


static func arg_str(args: Dictionary, key: String, default: String) -> String:
	return str(args.get(key, default))


static func arg_int(args: Dictionary, key: String, default: int) -> int:
	if not args.has(key):
		return default
	return str(args[key]).to_int()


static func arg_float(args: Dictionary, key: String, default: float) -> float:
	if not args.has(key):
		return default
	return str(args[key]).to_float()


# "64,1200" -> [64, 1200]; empty items are skipped.
static func arg_int_list(args: Dictionary, key: String, default: String) -> Array:
	var out := []
	for item in arg_str(args, key, default).split(",", false):
		out.append(str(item).strip_edges().to_int())
	return out


# The RING_SIZE payloads of `size` bytes (see above), cut from one pattern.
static func make_ring(size: int) -> Array:
	var pattern := PoolByteArray()
	pattern.resize(size + RING_SIZE)
	for i in range(pattern.size()):
		pattern[i] = i % PATTERN_MODULUS
	var ring := []
	for k in range(RING_SIZE):
		var packet: PoolByteArray = pattern.subarray(k, k + size - 1)
		packet[0] = k
		ring.append(packet)
	return ring


# Prints the RESULT line and sets the exit code; the caller still has to quit().
static func emit_result(result: Dictionary, exit_code: int) -> void:
	result["exit_code"] = exit_code
	print("RESULT " + to_json(result))
	OS.exit_code = exit_code
