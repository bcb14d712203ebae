# Helpers shared by the benchmark scripts and the interop harness (Godot 3.2.3, GDScript 1).
#
# The one copy: tests/godot3/common.gd is a symbolic link to this file, so that both
# Godot projects (each run with --path to its own folder) find it inside res://.
# Loaded with `const Common = preload("res://bench_common.gd")` here and
# `const Common = preload("res://common.gd")` in tests/godot3; everything here is
# static, so it is never instanced.
#
# Output protocol, one line each on stdout (read by godot_dtls/bench/procs.py and
# tests/godot_peer.py):
#   READY <port>            the server is listening
#   STATUS <n> [key=value]  a PacketPeerDTLS status changed (harness; n = its Status)
#   PHASE <name> [...]      the client reached a point the Python side may sample at (bench)
#   RESULT <json>           final summary, printed exactly once, right before quit()
extends Reference

# Payloads are deterministic: byte j of packet number s is (j + s) % PATTERN_MODULUS.
# 251 is prime, so consecutive packets never share an alignment with 256.
const PATTERN_MODULUS := 251
# Largest application payload one DTLS record can carry (mbedTLS record limit).
const MAX_PAYLOAD := 16384
# Payload k of a benchmark ring (k = 0..RING_SIZE-1): byte 0 is k, byte j > 0 is
# (j + k) % 251. Packet number s carries ring[s % RING_SIZE], so loss, duplication and
# reordering within a window show up as a mismatch. The Python side builds the same ring.
const RING_SIZE := 256


# Arguments come as key=value after "--". Godot 3.2.3 keeps "--" in
# OS.get_cmdline_args(); if it is absent, every key=value argument is taken.
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


static func arg_bool(args: Dictionary, key: String, default: bool) -> bool:
	if not args.has(key):
		return default
	return str(args[key]).to_lower() in ["1", "true", "yes", "on"]


# "64,1200,16384" -> [64, 1200, 16384]; empty items are skipped.
static func arg_int_list(args: Dictionary, key: String, default: String) -> Array:
	var out := []
	for item in arg_str(args, key, default).split(",", false):
		out.append(str(item).strip_edges().to_int())
	return out


# A pattern long enough that any payload is a slice of it: payload(s, n) is
# pattern[s % 251 .. s % 251 + n - 1].
static func make_pattern() -> PoolByteArray:
	var pattern := PoolByteArray()
	pattern.resize(MAX_PAYLOAD + PATTERN_MODULUS)
	for k in range(pattern.size()):
		pattern[k] = k % PATTERN_MODULUS
	return pattern


static func payload(pattern: PoolByteArray, seq: int, size: int) -> PoolByteArray:
	if size <= 0:
		return PoolByteArray()
	var offset: int = seq % PATTERN_MODULUS
	return pattern.subarray(offset, offset + size - 1)


# The RING_SIZE payloads of `size` bytes (see RING_SIZE), cut from one pattern.
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


static func elapsed_ms(since_usec: int) -> float:
	return float(OS.get_ticks_usec() - since_usec) / 1000.0


# Prints the RESULT line and sets the process exit code; the caller still has to quit().
static func emit_result(result: Dictionary, exit_code: int) -> void:
	result["exit_code"] = exit_code
	print("RESULT " + to_json(result))
	OS.exit_code = exit_code
