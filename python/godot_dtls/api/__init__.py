"""Godot's API objects on top of the core: the engine's names, numbers and return codes.

``PacketPeerDTLS``, ``DTLSServer``, ``PacketPeer`` (``put_var``/``get_var``),
``TLSOptions``, ``X509Certificate``, ``CryptoKey``, ``Crypto`` and the Variant codec.
Everything is poll-driven and returns ``Error`` values instead of raising. The transport
is any object with PacketPeerUDP's methods (:mod:`.transport`): a socket from
:mod:`godot_dtls.net` outside Godot, the engine's own PacketPeerUDP inside it.
"""
