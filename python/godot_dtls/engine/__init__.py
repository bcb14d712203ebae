"""What every engine adapter shares: Godot values in, :mod:`godot_dtls.api` calls, ints out.

An adapter under ``addons/godot_dtls/python/<runtime>/`` declares its exposed classes in
the form its runtime requires and describes the runtime once with a :class:`Runtime`;
each method is then one call into a :class:`PeerCore` or :class:`ServerCore`. The modules:

- :mod:`.runtime`: the runtime description and the routing of library errors;
- :mod:`.transport`: the engine's PacketPeerUDP as godot_dtls's ``Transport``;
- :mod:`.options`: the facades' options Dictionaries as ``TLSOptions``;
- :mod:`.bindings`: the per-object state behind each exposed peer and server.
"""

from .bindings import PeerCore, ServerCore, peer_core, server_core, status_emitter
from .options import (
    CLIENT_MODE_KEYS,
    CLIENT_OPTION_KEYS,
    SERVER_MODE_KEYS,
    SERVER_OPTION_KEYS,
    SNI_ENTRY_KEYS,
    client_options,
    pem_text,
    plain_stats,
    server_options,
)
from .runtime import ArgumentError, EngineVariants, Runtime, forward_library_logs
from .transport import EngineTransport

__all__ = [
    "CLIENT_MODE_KEYS",
    "CLIENT_OPTION_KEYS",
    "SERVER_MODE_KEYS",
    "SERVER_OPTION_KEYS",
    "SNI_ENTRY_KEYS",
    "ArgumentError",
    "EngineTransport",
    "EngineVariants",
    "PeerCore",
    "Runtime",
    "ServerCore",
    "client_options",
    "forward_library_logs",
    "peer_core",
    "pem_text",
    "plain_stats",
    "server_core",
    "server_options",
    "status_emitter",
]
