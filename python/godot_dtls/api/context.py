"""OpenSSL contexts for DTLS 1.2, built from :class:`TLSOptions`.

Everything protocol-wide lives here, in one place: DTLS 1.2 only (minimum and maximum,
as the engine), AEAD cipher suites with ECDHE forward secrecy, no renegotiation, no
session tickets, no path-MTU queries (memory BIOs have no path), and the callbacks that
route OpenSSL's certificate and cookie questions to the connection that asked them.

Client contexts are cached per ``TLSOptions`` object, so the default CA bundle is
parsed once however many peers connect with the same options.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Callable

import certifi
from OpenSSL import SSL, crypto

from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.log import logger
from godot_dtls.core.psk import (
    PSK_CIPHER_LIST,
    install_client_psk,
    install_server_psk,
    psk_supported,
)

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


def _new_context(cipher_list: bytes = CIPHER_LIST, tickets: bool = False) -> SSL.Context:
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_min_proto_version(DTLS1_2_VERSION)
    context.set_max_proto_version(DTLS1_2_VERSION)
    context.set_options(_BASE_OPTIONS if not tickets else _BASE_OPTIONS & ~SSL.OP_NO_TICKET)
    context.set_cipher_list(cipher_list)
    context.set_info_callback(_info_callback)
    # Free the record buffers of idle connections: a server with many quiet peers keeps
    # about 50 KiB less per peer.
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    return context


def _key_log_path(options: TLSOptions) -> str | None:
    """Where to write NSS key log lines: the option, else ``SSLKEYLOGFILE``, else nowhere."""
    return options.extensions.key_log_file or os.environ.get("SSLKEYLOGFILE") or None


#: Key log files whose use was already reported in this process.
_key_logs_reported: set[str] = set()


def _open_key_log(path: str) -> int:
    """Open ``path`` for appending; a new file is made readable by its owner only (0600),
    an existing one keeps its mode (never widened)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o600)


def _enable_key_log(context: SSL.Context, path: str | None) -> None:
    """Write the session secrets in NSS key log format, so Wireshark can decrypt a capture.

    Only ever enabled on request: the file lets anyone holding it read the traffic. It is
    made (mode 0600) here, when the context is built, so a path that cannot be written
    refuses the connection (or the server set-up) with a message instead of failing
    silently on every line, and nothing is ever written anywhere else.
    """
    if not path:
        return
    where = "SSLKEYLOGFILE" if path == os.environ.get("SSLKEYLOGFILE") else "key_log_file"
    try:
        if "\0" in path:
            raise ValueError("the path contains a NUL character")
        os.close(_open_key_log(path))
    except (OSError, ValueError) as exc:
        raise ContextError(f"cannot open the key log file {where}={path!r}: {exc}") from None
    if path not in _key_logs_reported:
        _key_logs_reported.add(path)
        logger.warning(
            "writing TLS session secrets to %s (%s): anyone holding this file can decrypt "
            "the traffic",
            path,
            where,
        )

    def write_line(connection: SSL.Connection, line: bytes) -> None:
        try:
            descriptor = _open_key_log(path)
            try:
                os.write(descriptor, line + b"\n")
            finally:
                os.close(descriptor)
        except OSError as exc:
            logger.error("cannot write the key log file %s: %s", path, exc)

    context.set_keylog_callback(write_line)


def _install_trust(context: SSL.Context, options: TLSOptions) -> None:
    chain = options.get_trusted_ca_chain()
    store = context.get_cert_store()
    assert store is not None
    if chain is None:
        context.load_verify_locations(certifi.where())
    else:
        for certificate in chain.certificates:
            store.add_cert(crypto.X509.from_cryptography(certificate))
    flags = 0
    if chain is not None:
        # mbedTLS trusts every certificate of its CA chain as an anchor, including an
        # intermediate or a self-signed leaf; PARTIAL_CHAIN gives OpenSSL the same rule.
        flags |= crypto.X509StoreFlags.PARTIAL_CHAIN
    crls = options.extensions.crls
    if crls:
        for crl in crls:
            store.add_crl(crl.crl)  # type: ignore[arg-type]
        # Check the leaf and every intermediate, so a revoked CA is caught too.
        flags |= crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL
    if flags:
        store.set_flags(flags)


def _configure_client_verification(context: SSL.Context, options: TLSOptions) -> None:
    if options.mode is TLSMode.CLIENT_PSK:
        context.set_verify(SSL.VERIFY_NONE)
        return
    unsafe = options.mode is TLSMode.CLIENT_UNSAFE
    if unsafe and options.get_trusted_ca_chain() is None:
        if options.extensions.pinned_spki_sha256:
            # Pin-only trust: the callback ignores the chain and checks the keys.
            context.set_verify(SSL.VERIFY_PEER, _verify_callback)
        else:
            context.set_verify(SSL.VERIFY_NONE)
        return
    _install_trust(context, options)
    context.set_verify(SSL.VERIFY_PEER, _verify_callback)


_client_contexts: weakref.WeakKeyDictionary[TLSOptions, SSL.Context] = weakref.WeakKeyDictionary()


def client_context(options: TLSOptions) -> SSL.Context:
    """The (cached) client context for ``options``; raises :class:`ContextError`."""
    cached = _client_contexts.get(options)
    if cached is not None:
        return cached
    if options.is_server():
        raise ContextError("server options cannot be used by a client")
    extensions = options.extensions
    psk = options.mode is TLSMode.CLIENT_PSK
    context = _new_context(
        PSK_CIPHER_LIST if psk else CIPHER_LIST, tickets=extensions.session_resumption
    )
    try:
        _configure_client_verification(context, options)
    except (SSL.Error, crypto.Error, OSError, TypeError, ValueError) as exc:
        raise ContextError(f"cannot load the trusted certificates: {exc}") from exc
    if psk:
        if not psk_supported():
            raise ContextError("this OpenSSL binding offers no PSK callbacks")
        install_client_psk(context, extensions.psk_identity, extensions.psk_key)
    if extensions.alpn:
        context.set_alpn_protos([p.encode("utf-8") for p in extensions.alpn])
    _enable_key_log(context, _key_log_path(options))
    _client_contexts[options] = context
    return context


def _use_identity(context: SSL.Context, key: Any, certificate: Any) -> None:
    """Load one (key, certificate chain) pair, checking that they belong together."""
    if key is None or key.key is None or key.is_public_only():
        raise ContextError("the server needs a private key")
    if certificate is None or not certificate.certificates:
        raise ContextError("the server needs a certificate")
    chain = certificate.certificates
    try:
        context.use_certificate(chain[0])
        for extra in chain[1:]:
            context.add_extra_chain_cert(extra)
        context.use_privatekey(key.key)
        context.check_privatekey()
    except (SSL.Error, crypto.Error, TypeError, ValueError) as exc:
        raise ContextError(f"the private key does not match the certificate: {exc}") from exc


def _select_alpn(preferences: list[bytes]) -> Callable[[SSL.Connection, list[bytes]], Any]:
    def select(connection: SSL.Connection, offered: list[bytes]) -> Any:
        for protocol in preferences:
            if protocol in offered:
                return protocol
        return SSL.NO_OVERLAPPING_PROTOCOLS

    return select


def _server_base(options: TLSOptions) -> SSL.Context:
    """A server context with everything but the identity (certificate or PSK)."""
    extensions = options.extensions
    psk = options.mode is TLSMode.SERVER_PSK
    context = _new_context(
        PSK_CIPHER_LIST if psk else CIPHER_LIST, tickets=extensions.session_resumption
    )
    context.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
    if extensions.session_resumption:
        context.set_session_id(b"godot-dtls")
        context.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
    else:
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    if extensions.alpn:
        context.set_alpn_select_callback(_select_alpn([p.encode("utf-8") for p in extensions.alpn]))
    _enable_key_log(context, _key_log_path(options))
    return context


def server_context(options: TLSOptions, cookies: CookieJar) -> SSL.Context:
    """A new server context presenting the options' certificate chain (or PSK).

    Raises :class:`ContextError` when the key or certificate is missing or they do not
    belong together, so :meth:`DTLSServer.setup` can refuse them up front.
    """
    if not options.is_server():
        raise ContextError("options were not made by TLSOptions.server()")
    extensions = options.extensions
    context = _server_base(options)
    if options.mode is TLSMode.SERVER_PSK:
        if not psk_supported():
            raise ContextError("this OpenSSL binding offers no PSK callbacks")
        assert extensions.psk_keys is not None
        install_server_psk(context, extensions.psk_keys, extensions.psk_identity_hint)
    else:
        _use_identity(context, options.get_private_key(), options.get_own_certificate())
    if extensions.sni:
        by_name: dict[bytes, SSL.Context] = {}
        for name, (key, certificate) in extensions.sni.items():
            named = _server_base(options)
            _use_identity(named, key, certificate)
            by_name[name.encode("idna")] = named

        def choose_certificate(connection: SSL.Connection) -> None:
            requested = connection.get_servername()
            if requested:
                named_context = by_name.get(requested.lower())
                if named_context is not None:
                    connection.set_context(named_context)

        context.set_tlsext_servername_callback(choose_certificate)

    def generate_cookie(connection: SSL.Connection) -> bytes:
        owner = _owner(connection)
        return cookies.issue(owner.peer_address, owner.now)

    def verify_cookie(connection: SSL.Connection, cookie: bytes) -> bool:
        owner = _owner(connection)
        return cookies.verify(cookie, owner.peer_address, owner.now)

    context.set_cookie_generate_callback(generate_cookie)
    context.set_cookie_verify_callback(verify_cookie)
    return context
