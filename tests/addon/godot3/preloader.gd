extends Reference
# A script that preloads the Python class, for the reload checks: loading and freeing it
# loads and frees the Python script with it.

const PyPacketPeerDTLS = preload("res://addons/godot_dtls/python/godot_python/packet_peer_dtls.py")


static func backend() -> String:
	return PyPacketPeerDTLS.new().get_backend()
