"""Socket-backed ``PacketPeerUDP`` and ``UDPServer`` with Godot's API, so the package
runs outside the engine (inside it, the engine's own classes are used instead)."""
