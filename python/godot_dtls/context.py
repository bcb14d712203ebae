"""OpenSSL contexts for DTLS 1.2, built from :class:`TLSOptions`.

Everything protocol-wide lives here, in one place: DTLS 1.2 only (minimum and maximum,
as the engine), AEAD cipher suites with ECDHE forward secrecy, no renegotiation, no
session tickets, no path-MTU queries (memory BIOs have no path), and the callbacks that
route OpenSSL's certificate and cookie questions to the connection that asked them.

Client contexts are cached per ``TLSOptions`` object, so the default CA bundle is
parsed once however many peers connect with the same options.
"""

from __future__ import annotations

import weakref
from typing import Any

import certifi
from OpenSSL import SSL, crypto

from .cookies import CookieJar
from .log import logger
from .tls_options import TLSMode, TLSOptions

__all__ = [
    "CIPHER_LIST",
    "DTLS1_2_VERSION",
    "ContextError",
    "client_context",
    "server_context",
]

DTLS1_2_VERSION = 0xFEFD

#: ECDHE key exchange (forward secrecy) with AEAD ciphers only. AES-GCM first: it is the
#: fastest where the CPU has AES instructions; ChaCha20-Poly1305 for CPUs without them.
#: Security level 2 rejects RSA keys under 2048 bits and SHA-1 signatures, as mbedTLS does.
CIPHER_LIST = b":".join(
    [
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-AES256-GCM-SHA384",
        b"ECDHE-RSA-AES256-GCM-SHA384",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"@SECLEVEL=2",
    ]
)

_BASE_OPTIONS = (
    SSL.OP_NO_QUERY_MTU  # a memory BIO has no path MTU; the connection sets it explicitly
    | SSL.OP_NO_RENEGOTIATION
    | SSL.OP_NO_TICKET
    | SSL.OP_NO_COMPRESSION
)


class ContextError(ValueError):
    """The options cannot make a working context (e.g. a key that does not match its cert)."""


def _owner(connection: SSL.Connection) -> Any:
    return connection.get_app_data()


def _verify_callback(
    connection: SSL.Connection, certificate: crypto.X509, errnum: int, depth: int, ok: int
) -> bool:
    verifier = getattr(_owner(connection), "verifier", None)
    if verifier is None:
        return bool(ok)
    try:
        return bool(verifier(certificate, errnum, depth, ok))
    except Exception:  # a callback must never raise into OpenSSL
        logger.exception("certificate verification callback failed")
        return False


def _info_callback(connection: SSL.Connection, where: int, ret: int) -> None:
    observer = getattr(_owner(connection), "on_tls_info", None)
    if observer is not None:
        observer(where, ret)


def _new_context() -> SSL.Context:
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_min_proto_version(DTLS1_2_VERSION)
    context.set_max_proto_version(DTLS1_2_VERSION)
    context.set_options(_BASE_OPTIONS)
    context.set_cipher_list(CIPHER_LIST)
    context.set_info_callback(_info_callback)
    return context


def _trust_store_from_chain(context: SSL.Context, options: TLSOptions) -> None:
    chain = options.get_trusted_ca_chain()
    if chain is None:
        context.load_verify_locations(certifi.where())
        return
    store = context.get_cert_store()
    assert store is not None
    for certificate in chain.certificates:
        store.add_cert(crypto.X509.from_cryptography(certificate))
    # mbedTLS trusts every certificate of its CA chain as an anchor, including an
    # intermediate or a self-signed leaf; PARTIAL_CHAIN gives OpenSSL the same rule.
    store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)


_client_contexts: weakref.WeakKeyDictionary[TLSOptions, SSL.Context] = weakref.WeakKeyDictionary()


def client_context(options: TLSOptions) -> SSL.Context:
    """The (cached) client context for ``options``; raises :class:`ContextError`."""
    cached = _client_contexts.get(options)
    if cached is not None:
        return cached
    if options.is_server():
        raise ContextError("server options cannot be used by a client")
    context = _new_context()
    try:
        if options.mode is TLSMode.CLIENT_UNSAFE and options.get_trusted_ca_chain() is None:
            context.set_verify(SSL.VERIFY_NONE)
        else:
            _trust_store_from_chain(context, options)
            context.set_verify(SSL.VERIFY_PEER, _verify_callback)
    except (SSL.Error, crypto.Error, OSError) as exc:
        raise ContextError(f"cannot load the trusted certificates: {exc}") from exc
    _client_contexts[options] = context
    return context


def server_context(options: TLSOptions, cookies: CookieJar) -> SSL.Context:
    """A new server context presenting the options' certificate chain.

    Raises :class:`ContextError` when the key or certificate is missing or they do not
    belong together, so :meth:`DTLSServer.setup` can refuse them up front.
    """
    if not options.is_server():
        raise ContextError("options were not made by TLSOptions.server()")
    key = options.get_private_key()
    certificate = options.get_own_certificate()
    if key is None or key.key is None or key.is_public_only():
        raise ContextError("the server needs a private key")
    if certificate is None or not certificate.certificates:
        raise ContextError("the server needs a certificate")
    context = _new_context()
    context.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    chain = certificate.certificates
    try:
        context.use_certificate(chain[0])
        for extra in chain[1:]:
            context.add_extra_chain_cert(extra)
        context.use_privatekey(key.key)  # type: ignore[arg-type]
        context.check_privatekey()
    except (SSL.Error, crypto.Error, TypeError, ValueError) as exc:
        raise ContextError(f"the private key does not match the certificate: {exc}") from exc

    def generate_cookie(connection: SSL.Connection) -> bytes:
        owner = _owner(connection)
        return cookies.issue(owner.peer_address, owner.now)

    def verify_cookie(connection: SSL.Connection, cookie: bytes) -> bool:
        owner = _owner(connection)
        return cookies.verify(cookie, owner.peer_address, owner.now)

    context.set_cookie_generate_callback(generate_cookie)
    context.set_cookie_verify_callback(verify_cookie)
    return context
