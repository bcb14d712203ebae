extends Reference
# The engine's own DTLSServer on a UDPServer, echoing every packet: Godot's native side
# of the checks. poll() it in the same loop as the peers under test.

var udp_server := UDPServer.new()
var dtls_server := DTLSServer.new()
var peers := []
var echoed := 0


func start(port: int, key: CryptoKey, certificate: X509Certificate) -> int:
	var error := dtls_server.setup(key, certificate)
	if error != OK:
		return error
	return udp_server.listen(port, "127.0.0.1")


func poll() -> void:
	udp_server.poll()
	while udp_server.is_connection_available():
		var peer: PacketPeerDTLS = dtls_server.take_connection(udp_server.take_connection())
		if peer.get_status() == PacketPeerDTLS.STATUS_HANDSHAKING:
			peers.append(peer)
	for peer in peers:
		peer.poll()
		while peer.get_status() == PacketPeerDTLS.STATUS_CONNECTED and peer.get_available_packet_count() > 0:
			peer.put_packet(peer.get_packet())
			echoed += 1
			peer.poll()


func connected() -> int:
	var count := 0
	for peer in peers:
		if peer.get_status() == PacketPeerDTLS.STATUS_CONNECTED:
			count += 1
	return count


func stop() -> void:
	for peer in peers:
		peer.disconnect_from_peer()
	peers.clear()
	udp_server.stop()
