"""Client-side DTLS session cache for resumption (not in the engine).

A reconnect that presents the previous session gets an abbreviated handshake: one
round trip less and no certificate signature or verification. Sessions are cached per
``TLSOptions`` object (so different trust settings never share one) and, inside it,
per (server name, server port). The cache is small and bounded.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Tuple

from OpenSSL import SSL

from .tls_options import TLSOptions

__all__ = ["SESSIONS_PER_OPTIONS", "forget_sessions", "lookup_session", "store_session"]

SESSIONS_PER_OPTIONS = 64

SessionKey = Tuple[str, int]

_sessions: weakref.WeakKeyDictionary[TLSOptions, OrderedDict[SessionKey, SSL.Session]] = (
    weakref.WeakKeyDictionary()
)


def lookup_session(options: TLSOptions, key: SessionKey) -> SSL.Session | None:
    """The cached session for ``key`` made with ``options``, if any."""
    cache = _sessions.get(options)
    if cache is None:
        return None
    session = cache.get(key)
    if session is not None:
        cache.move_to_end(key)
    return session


def store_session(options: TLSOptions, key: SessionKey, session: SSL.Session) -> None:
    """Remember ``session`` for the next connection to ``key`` with ``options``."""
    cache = _sessions.get(options)
    if cache is None:
        cache = _sessions[options] = OrderedDict()
    cache[key] = session
    cache.move_to_end(key)
    while len(cache) > SESSIONS_PER_OPTIONS:
        cache.popitem(last=False)


def forget_sessions(options: TLSOptions) -> None:
    """Drop every session cached for ``options``."""
    _sessions.pop(options, None)
