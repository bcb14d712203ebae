"""Tools beside the library: the ``godot-dtls`` command line (demo, serve, connect, pin,
proxy, fuzz, check-presets, bench) and what they are built from."""
