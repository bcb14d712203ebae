extends Control
## godot-dtls echo demo: a DTLS server and a client in one scene, over 127.0.0.1.
##
## At start it makes an RSA key and a self-signed certificate (CN=localhost) with
## [Crypto], listens with [UDPServer] + [PythonDTLSServer], and connects a
## [PythonPacketPeerDTLS] client that trusts exactly that certificate. Once connected the
## client sends a small timestamped packet every frame, the server echoes each one, and
## the label shows the status, the backends (Python or engine) and round-trip times.
## Run it with the Python runtime installed to see the Python backend, or set
## [member prefer_backend] to "engine" to compare with the engine's classes.

## Loopback only: the demo talks to itself.
const HOST := "127.0.0.1"
## Must match the certificate's CN: the client checks the server's name against it.
const COMMON_NAME := "localhost"
## Sequence number (u64) + send time in microseconds (u64).
const PACKET_SIZE := 16
## Server-side peers worth keeping (others are dropped each frame).
const LIVE_STATES := [
	PythonPacketPeerDTLS.Status.STATUS_HANDSHAKING,
	PythonPacketPeerDTLS.Status.STATUS_CONNECTED,
]

## "auto" (Python when loaded, else the engine), "python" (required) or "engine".
@export_enum("auto", "python", "engine") var prefer_backend: String = "auto"
## Server port; 0 lets the system pick a free one.
@export_range(0, 65535) var port: int = 0
## At most this many packets in flight, so a slow backend is not flooded.
@export_range(1, 1024) var max_in_flight: int = 32

## Hands out one PacketPeerUDP per client address.
var _udp_server := UDPServer.new()
## Turns those UDP peers into DTLS peers.
var _dtls_server: PythonDTLSServer
## The demo's client.
var _client: PythonPacketPeerDTLS
## Server-side peers in HANDSHAKING or CONNECTED.
var _server_peers: Array[PythonPacketPeerDTLS] = []
## Packets the client sent and got back.
var _sent := 0
var _echoed := 0
## Round-trip statistics in milliseconds.
var _rtt_last_ms := 0.0
var _rtt_total_ms := 0.0
var _rtt_min_ms := INF
var _rtt_max_ms := 0.0
## When the client connected and when the scene started (ms ticks).
var _connected_at_ms := 0
var _started_at_ms := 0
## Set when the setup failed; shown on the label.
var _failure := ""
## The client's status changes, with their times.
var _status_log := PackedStringArray()

## Where everything is shown.
@onready var _label: Label = $Label


## Makes the certificate, starts the server and connects the client.
func _ready() -> void:
	_started_at_ms = Time.get_ticks_msec()
	var crypto := Crypto.new()
	var key := crypto.generate_rsa(2048)
	var certificate := crypto.generate_self_signed_certificate(
		key, "CN=%s,O=godot-dtls demo,C=US" % COMMON_NAME
	)
	var error := _udp_server.listen(port, HOST)
	if error != OK:
		_fail("UDPServer.listen(%d, %s) failed: %s" % [port, HOST, error_string(error)])
		return
	_dtls_server = PythonDTLSServer.new(prefer_backend)
	error = _dtls_server.setup(TLSOptions.server(key, certificate))
	if error != OK:
		_fail("PythonDTLSServer.setup failed: %s" % error_string(error))
		return
	var udp := PacketPeerUDP.new()
	error = udp.connect_to_host(HOST, _udp_server.get_local_port())
	if error != OK:
		_fail("PacketPeerUDP.connect_to_host failed: %s" % error_string(error))
		return
	_client = PythonPacketPeerDTLS.new(prefer_backend)
	_client.status_changed.connect(_on_client_status_changed)
	error = _client.connect_to_peer(udp, COMMON_NAME, TLSOptions.client(certificate))
	if error != OK:
		_fail("connect_to_peer failed: %s" % error_string(error))
		return
	_update_label()


## Drives both sides every frame.
func _process(_delta: float) -> void:
	_poll_server()
	_poll_client()
	_update_label()


## Closes the connections (close_notify) and the server socket.
func _exit_tree() -> void:
	if _client != null:
		_client.disconnect_from_peer()
	for peer in _server_peers:
		peer.disconnect_from_peer()
	_udp_server.stop()


## Accepts new clients (dropping cookie-exchange peers) and echoes every packet.
func _poll_server() -> void:
	if _dtls_server == null or not _udp_server.is_listening():
		return
	_udp_server.poll()
	while _udp_server.is_connection_available():
		var peer := _dtls_server.take_connection(_udp_server.take_connection())
		# a client's first datagram only earns it a cookie: that peer is in STATUS_ERROR
		if peer != null and peer.get_status() == PythonPacketPeerDTLS.Status.STATUS_HANDSHAKING:
			_server_peers.append(peer)
	var live: Array[PythonPacketPeerDTLS] = []
	for peer in _server_peers:
		peer.poll()
		while (
			peer.get_status() == PythonPacketPeerDTLS.Status.STATUS_CONNECTED
			and peer.get_available_packet_count() > 0
		):
			peer.put_packet(peer.get_packet())
		if peer.get_status() in LIVE_STATES:
			live.append(peer)
	_server_peers = live


## Reads echoes and sends one packet per frame once connected.
func _poll_client() -> void:
	if _client == null:
		return
	_client.poll()
	if _client.get_status() != PythonPacketPeerDTLS.Status.STATUS_CONNECTED:
		return
	while _client.get_available_packet_count() > 0:
		_record_echo(_client.get_packet())
	if _sent - _echoed < max_in_flight:
		var packet := PackedByteArray()
		packet.resize(PACKET_SIZE)
		packet.encode_u64(0, _sent)
		packet.encode_u64(8, Time.get_ticks_usec())
		if _client.put_packet(packet) == OK:
			_sent += 1


## Updates the round-trip statistics from an echoed packet.
func _record_echo(packet: PackedByteArray) -> void:
	if packet.size() != PACKET_SIZE:
		return
	var rtt_ms := float(Time.get_ticks_usec() - packet.decode_u64(8)) / 1000.0
	_echoed += 1
	_rtt_last_ms = rtt_ms
	_rtt_total_ms += rtt_ms
	_rtt_min_ms = minf(_rtt_min_ms, rtt_ms)
	_rtt_max_ms = maxf(_rtt_max_ms, rtt_ms)


## Logs each client status change (and the reason of a failure).
func _on_client_status_changed(new_status: PythonPacketPeerDTLS.Status) -> void:
	var elapsed := Time.get_ticks_msec() - _started_at_ms
	_status_log.append("%6d ms  %s" % [elapsed, _status_name(new_status)])
	if new_status == PythonPacketPeerDTLS.Status.STATUS_CONNECTED:
		_connected_at_ms = Time.get_ticks_msec()
	elif new_status != PythonPacketPeerDTLS.Status.STATUS_HANDSHAKING:
		var reason := _client.get_last_error_message()
		if not reason.is_empty():
			_status_log.append("         %s" % reason)


## Shows status, backends and round-trip statistics.
func _update_label() -> void:
	var lines := PackedStringArray(["godot-dtls echo demo (DTLS 1.2 over 127.0.0.1)", ""])
	if not _failure.is_empty():
		lines.append("FAILED: " + _failure)
	if _dtls_server != null:
		lines.append("server backend: %s" % _dtls_server.get_backend())
	if _client != null:
		lines.append("client backend: %s" % _client.get_backend())
		lines.append("client status:  %s" % _status_name(_client.get_status()))
	lines.append("server peers:   %d" % _server_peers.size())
	lines.append("")
	lines.append("packets: %d sent, %d echoed, %d in flight" % [_sent, _echoed, _sent - _echoed])
	if _echoed > 0:
		lines.append(
			(
				"round trip: last %.2f ms, average %.2f ms, min %.2f ms, max %.2f ms"
				% [_rtt_last_ms, _rtt_total_ms / _echoed, _rtt_min_ms, _rtt_max_ms]
			)
		)
		var seconds := float(Time.get_ticks_msec() - _connected_at_ms) / 1000.0
		if seconds > 0.0:
			lines.append("echo rate: %.0f packets/s" % (_echoed / seconds))
	lines.append("")
	lines.append("client status changes:")
	lines.append_array(_status_log)
	_label.text = "\n".join(lines)


## Reports a setup failure on the label and in the editor.
func _fail(message: String) -> void:
	_failure = message
	push_error("dtls_echo: " + message)
	_update_label()


## "STATUS_CONNECTED (2)" for a status number.
static func _status_name(status: int) -> String:
	var names := PythonPacketPeerDTLS.Status.keys()
	if status < 0 or status >= names.size():
		return str(status)
	return "%s (%d)" % [names[status], status]
