extends Reference
# Helpers of the in-engine checks (Godot 3.2 syntax, run by tests/addon/test_godot3_runtime.py).
#
# Output protocol, one line each on stdout, read by pytest:
#   CHECK <name> PASS [detail]   a check held
#   CHECK <name> FAIL <detail>   a check failed
#   DONE                         the script reached its end (a check that never printed
#                                its line was aborted by an error: pytest reports it)

const PEER_SCRIPT := "res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py"
const SERVER_SCRIPT := "res://addons/godot_dtls/python/godot_python/dtls_server.py"
const PATTERN_MODULUS := 251


# key=value arguments after "--".
static func args() -> Dictionary:
	var out := {}
	var started := false
	for raw in OS.get_cmdline_args():
		if raw == "--":
			started = true
			continue
		var parts: PoolStringArray = raw.split("=", true, 1)
		if parts.size() == 2:
			out[parts[0]] = parts[1]
	return out


static func check(name: String, ok: bool, detail = "") -> bool:
	print("CHECK %s %s %s" % [name, "PASS" if ok else "FAIL", str(detail)])
	return ok


static func done() -> void:
	print("DONE")


static func load_certificate(path: String) -> X509Certificate:
	var certificate := X509Certificate.new()
	if certificate.load(path) != OK:
		push_error("cannot load %s" % path)
	return certificate


static func load_key(path: String) -> CryptoKey:
	var key := CryptoKey.new()
	if key.load(path) != OK:
		push_error("cannot load %s" % path)
	return key


# Packet seq of size bytes: byte j is (j + seq) % 251, so reordering shows.
static func payload(seq: int, size: int) -> PoolByteArray:
	var data := PoolByteArray()
	data.resize(size)
	for j in range(size):
		data[j] = (j + seq) % PATTERN_MODULUS
	return data


static func new_udp(port: int) -> PacketPeerUDP:
	var udp := PacketPeerUDP.new()
	var error := udp.connect_to_host("127.0.0.1", port)
	if error != OK:
		push_error("connect_to_host failed: %d" % error)
	return udp


# A new instance of a godot-python adapter class (null when it does not load).
static func new_python(script_path: String) -> Object:
	var script = load(script_path)
	if script == null:
		return null
	return script.new()
