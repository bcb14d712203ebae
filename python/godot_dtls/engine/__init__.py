"""What every engine adapter shares: Godot values in, :mod:`godot_dtls.api` calls, ints out.

An adapter under ``addons/godot_dtls/python/<runtime>/`` declares its exposed classes in
the form its runtime requires and describes the runtime once with a :class:`Runtime`;
each method is then one call into a :class:`PeerCore` or :class:`ServerCore`. The modules:

- :mod:`.runtime`: the runtime description (every engine value enters through
  ``Runtime.receive``) and the routing of library errors;
- :mod:`.containers`: how each runtime's Dictionary and Array may be read;
- :mod:`.versions`: the Godot version the adapters support, checked at load time;
- :mod:`.transport`: the engine's PacketPeerUDP as godot_dtls's ``Transport``;
- :mod:`.options`: the facades' options Dictionaries as ``TLSOptions``;
- :mod:`.bindings`: the per-object state behind each exposed peer and server.
"""

from .bindings import PeerCore, ServerCore, peer_core, server_core, status_emitter
from .containers import READ_BY_GETTERS, READ_BY_INDEX, Containers
from .options import (
    CLIENT_MODE_KEYS,
    CLIENT_OPTION_KEYS,
    SERVER_MODE_KEYS,
    SERVER_OPTION_KEYS,
    SNI_ENTRY_KEYS,
    client_options,
    idle_timeout_option,
    pem_text,
    plain_stats,
    server_options,
)
from .runtime import ArgumentError, EngineVariants, Runtime, forward_library_logs
from .transport import EngineTransport
from .versions import (
    MINIMUM_GODOT,
    UnsupportedRuntime,
    check_godot,
    check_runtime,
    godot_version,
)

__all__ = [
    "CLIENT_MODE_KEYS",
    "CLIENT_OPTION_KEYS",
    "MINIMUM_GODOT",
    "READ_BY_GETTERS",
    "READ_BY_INDEX",
    "SERVER_MODE_KEYS",
    "SERVER_OPTION_KEYS",
    "SNI_ENTRY_KEYS",
    "ArgumentError",
    "Containers",
    "EngineTransport",
    "EngineVariants",
    "PeerCore",
    "Runtime",
    "ServerCore",
    "UnsupportedRuntime",
    "check_godot",
    "check_runtime",
    "client_options",
    "forward_library_logs",
    "godot_version",
    "idle_timeout_option",
    "peer_core",
    "pem_text",
    "plain_stats",
    "server_core",
    "server_options",
    "status_emitter",
]
