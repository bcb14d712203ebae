"""Pre-shared-key callbacks for OpenSSL contexts.

pyOpenSSL does not wrap ``SSL_CTX_set_psk_*_callback``, but the OpenSSL bindings it is
built on (cryptography's cffi module) do. These two functions install callbacks that
copy an identity and key into OpenSSL's buffers; no cryptography happens here. The cffi
callback objects are kept on the context so they live exactly as long as it does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from OpenSSL import SSL
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

from .log import logger

__all__ = ["PSK_CIPHER_LIST", "install_client_psk", "install_server_psk", "psk_supported"]

#: ECDHE-PSK (forward secrecy) first, where OpenSSL offers it; plain PSK with AES-GCM after
#: it for peers without ECDHE-PSK (mbedTLS and GnuTLS offer both kinds).
PSK_CIPHER_LIST = b":".join(
    [
        b"ECDHE-PSK-CHACHA20-POLY1305",
        b"ECDHE-PSK-AES256-CBC-SHA384",
        b"ECDHE-PSK-AES128-CBC-SHA256",
        b"PSK-AES256-GCM-SHA384",
        b"PSK-AES128-GCM-SHA256",
        b"PSK-CHACHA20-POLY1305",
    ]
)

_CLIENT_SIGNATURE = (
    "unsigned int(SSL *, const char *, char *, unsigned int, unsigned char *, unsigned int)"
)
_SERVER_SIGNATURE = "unsigned int(SSL *, const char *, unsigned char *, unsigned int)"


def psk_supported() -> bool:
    """True when the OpenSSL bindings expose the PSK callbacks."""
    return hasattr(_lib, "SSL_CTX_set_psk_client_callback") and hasattr(
        _lib, "SSL_CTX_set_psk_server_callback"
    )


def _native(context: SSL.Context) -> Any:
    return context._context  # the SSL_CTX* pyOpenSSL holds


def install_client_psk(context: SSL.Context, identity: str, key: bytes) -> None:
    """Make ``context``'s connections authenticate with (``identity``, ``key``)."""
    identity_bytes = identity.encode("utf-8") + b"\0"

    def callback(
        ssl: Any, hint: Any, identity_out: Any, max_identity: int, psk_out: Any, max_psk: int
    ) -> int:
        if len(identity_bytes) > max_identity or len(key) > max_psk:
            return 0
        _ffi.memmove(identity_out, identity_bytes, len(identity_bytes))
        _ffi.memmove(psk_out, key, len(key))
        return len(key)

    native = _ffi.callback(_CLIENT_SIGNATURE, callback, onerror=lambda *exc: 0)
    _lib.SSL_CTX_set_psk_client_callback(_native(context), native)
    context._godot_dtls_psk_callback = native  # type: ignore[attr-defined]


def install_server_psk(
    context: SSL.Context,
    keys: Mapping[str, bytes] | Callable[[str], bytes | None],
    identity_hint: str = "",
) -> None:
    """Accept clients whose identity maps to a key in ``keys`` (unknown: handshake fails)."""
    lookup = keys.get if isinstance(keys, Mapping) else keys

    def callback(ssl: Any, identity: Any, psk_out: Any, max_psk: int) -> int:
        name = _ffi.string(identity).decode("utf-8", "replace") if identity else ""
        try:
            key = lookup(name)
        except Exception:  # a user callable must not unwind through OpenSSL
            logger.exception("PSK key lookup failed for identity %r", name)
            return 0
        if not key or len(key) > max_psk:
            logger.warning("PSK: unknown identity %r", name)
            return 0
        _ffi.memmove(psk_out, bytes(key), len(key))
        return len(key)

    native = _ffi.callback(_SERVER_SIGNATURE, callback, onerror=lambda *exc: 0)
    _lib.SSL_CTX_set_psk_server_callback(_native(context), native)
    if identity_hint:
        _lib.SSL_CTX_use_psk_identity_hint(_native(context), identity_hint.encode("utf-8"))
    context._godot_dtls_psk_callback = native  # type: ignore[attr-defined]
