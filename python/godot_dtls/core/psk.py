"""Pre-shared-key callbacks for OpenSSL contexts.

pyOpenSSL does not wrap ``SSL_CTX_set_psk_*_callback``; :mod:`.openssl_private` reaches
them. These two functions install callbacks that copy an identity and key into OpenSSL's
buffers; no cryptography happens here. The cffi callback objects are kept on the context
so they live exactly as long as it does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from OpenSSL import SSL

from . import openssl_private as private
from .log import logger

__all__ = ["PSK_CIPHER_LIST", "install_client_psk", "install_server_psk", "psk_supported"]

#: The PSK suites, AEAD only, as for certificates; the server's order decides.
#:
#: - ``ECDHE-PSK-CHACHA20-POLY1305`` first: ephemeral ECDH mixed with the key gives forward
#:   secrecy. It is the one ECDHE-PSK suite with an AEAD cipher that TLS 1.2 has in
#:   OpenSSL, Mbed TLS and GnuTLS (RFC 7905); RFC 8442's ECDHE-PSK AES-GCM suites exist in
#:   none of them, and ECDHE-PSK with AES means CBC with HMAC, which is not offered.
#: - Plain PSK with AES-GCM or ChaCha20-Poly1305 after it, as an explicit fallback for
#:   peers built with plain PSK only (constrained Mbed TLS builds, GnuTLS ``+PSK``): no
#:   forward secrecy, but still AEAD. Offering it cannot be used for a downgrade: the
#:   suite list is covered by the Finished messages, which only a holder of the key can
#:   compute, and a peer that offers ECDHE-PSK always gets it.
#: - No CBC, no DHE-PSK (finite-field DH, left out by Godot's mbedTLS configuration too),
#:   no RSA-PSK.
PSK_CIPHER_LIST = b":".join(
    [
        b"ECDHE-PSK-CHACHA20-POLY1305",
        b"PSK-AES128-GCM-SHA256",
        b"PSK-AES256-GCM-SHA384",
        b"PSK-CHACHA20-POLY1305",
        b"@SECLEVEL=2",
    ]
)


def psk_supported() -> bool:
    """True when the OpenSSL bindings expose the PSK callbacks."""
    return private.psk_supported()


def install_client_psk(context: SSL.Context, identity: str, key: bytes) -> None:
    """Make ``context``'s connections authenticate with (``identity``, ``key``)."""
    identity_bytes = identity.encode("utf-8") + b"\0"

    def callback(
        ssl: Any, hint: Any, identity_out: Any, max_identity: int, psk_out: Any, max_psk: int
    ) -> int:
        if len(identity_bytes) > max_identity or len(key) > max_psk:
            return 0
        private.copy_into(identity_out, identity_bytes)
        private.copy_into(psk_out, key)
        return len(key)

    native = private.install_psk_client_callback(context, callback)
    context._godot_dtls_psk_callback = native  # type: ignore[attr-defined]


def install_server_psk(
    context: SSL.Context,
    keys: Mapping[str, bytes] | Callable[[str], bytes | None],
    identity_hint: str = "",
) -> None:
    """Accept clients whose identity maps to a key in ``keys`` (unknown: handshake fails)."""
    lookup = keys.get if isinstance(keys, Mapping) else keys

    def callback(ssl: Any, identity: Any, psk_out: Any, max_psk: int) -> int:
        name = private.c_string(identity).decode("utf-8", "replace")
        try:
            key = lookup(name)
        except Exception:  # a user callable must not unwind through OpenSSL
            logger.exception("PSK key lookup failed for identity %r", name)
            return 0
        if not key or len(key) > max_psk:
            logger.warning("PSK: unknown identity %r", name)
            return 0
        private.copy_into(psk_out, bytes(key))
        return len(key)

    native = private.install_psk_server_callback(context, callback)
    context._godot_dtls_psk_callback = native
    if identity_hint and not private.set_psk_identity_hint(context, identity_hint.encode("utf-8")):
        raise ValueError(f"OpenSSL refused the PSK identity hint {identity_hint!r}")  # type: ignore[attr-defined]
