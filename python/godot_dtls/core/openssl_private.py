"""Every use of pyOpenSSL's private OpenSSL bindings, in one place, checked at import.

pyOpenSSL wraps most of what DTLS needs, but not the host/IP check parameters
(``X509_VERIFY_PARAM_set1_host``), the PSK callbacks, ``SSL_session_reused``, a
per-connection info callback or a connection's mode (``SSL_set_mode``). Those come from
the cffi module pyOpenSSL is built on (``OpenSSL._util.lib`` / ``ffi``), which is not a
public API: a new pyOpenSSL may drop or rename a symbol. So the rest of the package never
touches ``_lib``/``_ffi``; it calls the small functions below, and this module refuses
to import (``ImportError`` naming the missing symbols) when a symbol the security checks
need is absent, instead of failing open later. Functions return OpenSSL's own result so
callers can read every return code.
"""

from __future__ import annotations

from typing import Any, Callable

import OpenSSL
from OpenSSL import SSL
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

__all__ = [
    "CRL_AVAILABILITY_ERRORS",
    "MODE_RELEASE_BUFFERS",
    "NAME_ERRORS",
    "PYOPENSSL_MINIMUM",
    "c_string",
    "clear_error_queue",
    "connection_mode",
    "copy_into",
    "detach_info_callback",
    "install_psk_client_callback",
    "install_psk_server_callback",
    "psk_supported",
    "release_buffers",
    "session_reused",
    "set_expected_host",
    "set_expected_ip",
    "set_psk_identity_hint",
    "x509_error_text",
]

#: The oldest pyOpenSSL whose bindings were checked to carry every symbol below.
PYOPENSSL_MINIMUM = (24, 3)

_REQUIRED_SYMBOLS = (
    "ERR_clear_error",
    "SSL_get0_param",
    "SSL_session_reused",
    "SSL_set_info_callback",
    "X509_VERIFY_PARAM_set1_host",
    "X509_VERIFY_PARAM_set1_ip",
    "X509_VERIFY_PARAM_set_hostflags",
    "X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS",
    "X509_verify_cert_error_string",
    "X509_V_ERR_HOSTNAME_MISMATCH",
    "X509_V_ERR_IP_ADDRESS_MISMATCH",
    "X509_V_ERR_UNABLE_TO_GET_CRL",
    "X509_V_ERR_CRL_NOT_YET_VALID",
    "X509_V_ERR_CRL_HAS_EXPIRED",
)
_MODE_SYMBOLS = ("SSL_set_mode", "SSL_clear_mode", "SSL_MODE_RELEASE_BUFFERS")
_PSK_SYMBOLS = (
    "SSL_CTX_set_psk_client_callback",
    "SSL_CTX_set_psk_server_callback",
    "SSL_CTX_use_psk_identity_hint",
)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _check_bindings() -> None:
    if _version(OpenSSL.__version__) < PYOPENSSL_MINIMUM:
        wanted = ".".join(map(str, PYOPENSSL_MINIMUM))
        raise ImportError(
            f"godot_dtls needs pyOpenSSL {wanted} or newer, found {OpenSSL.__version__}"
        )
    missing = [name for name in _REQUIRED_SYMBOLS if not hasattr(_lib, name)]
    if missing:
        raise ImportError(
            f"pyOpenSSL {OpenSSL.__version__}'s OpenSSL bindings lack {', '.join(missing)}, "
            "which godot_dtls's certificate checks need"
        )


_check_bindings()

#: OpenSSL's host and IP check failures.
NAME_ERRORS = frozenset({_lib.X509_V_ERR_HOSTNAME_MISMATCH, _lib.X509_V_ERR_IP_ADDRESS_MISMATCH})
#: Revocation information missing or out of date (not "revoked"): soft-fail may accept.
CRL_AVAILABILITY_ERRORS = frozenset(
    {
        _lib.X509_V_ERR_UNABLE_TO_GET_CRL,
        _lib.X509_V_ERR_CRL_NOT_YET_VALID,
        _lib.X509_V_ERR_CRL_HAS_EXPIRED,
    }
)


#: ``SSL_MODE_RELEASE_BUFFERS``: a connection frees its record buffers (about 16 KiB each
#: way) whenever nothing is in flight, instead of keeping them for its whole life.
MODE_RELEASE_BUFFERS = int(getattr(_lib, "SSL_MODE_RELEASE_BUFFERS", 0x10))
_HAS_MODE = all(hasattr(_lib, name) for name in _MODE_SYMBOLS)


def x509_error_text(errnum: int) -> str:
    """OpenSSL's own text for an ``X509_V_ERR_*`` number (the numbering changed in 3.0)."""
    text = _lib.X509_verify_cert_error_string(errnum)
    return _ffi.string(text).decode("ascii", "replace") if text else f"X509 error {errnum}"


def set_expected_host(connection: SSL.Connection, name: bytes) -> bool:
    """Make OpenSSL check the leaf for DNS name ``name`` (no partial wildcards).

    False when OpenSSL refused to set the name (a malformed name): the caller must then
    refuse the connection, since no name check would run at all.
    """
    param = _lib.SSL_get0_param(connection._ssl)
    _lib.X509_VERIFY_PARAM_set_hostflags(param, _lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
    return _lib.X509_VERIFY_PARAM_set1_host(param, name, len(name)) == 1


def set_expected_ip(connection: SSL.Connection, packed: bytes) -> bool:
    """Make OpenSSL check the leaf for the IP address ``packed`` (4 or 16 bytes)."""
    param = _lib.SSL_get0_param(connection._ssl)
    return _lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed)) == 1


def clear_error_queue() -> None:
    """Empty this thread's OpenSSL error queue.

    ``DTLSv1_listen`` leaves the reason it dropped a datagram in the queue while
    reporting "want read"; a later ``SSL_get_error`` on any connection of the thread
    would read that stale entry as its own failure.
    """
    _lib.ERR_clear_error()


def session_reused(connection: SSL.Connection) -> bool:
    """True when the handshake resumed an earlier session."""
    return bool(_lib.SSL_session_reused(connection._ssl))


def connection_mode(connection: SSL.Connection) -> int:
    """The ``SSL_MODE_*`` bits in force on ``connection`` (0 when the bindings lack them).

    ``SSL_clear_mode`` with no bits changes nothing and returns the mode, so this is
    the ``SSL_get_mode`` that pyOpenSSL's bindings do not declare.
    """
    if not _HAS_MODE:
        return 0
    return int(_lib.SSL_clear_mode(connection._ssl, 0))


def release_buffers(connection: SSL.Connection) -> bool:
    """Set ``SSL_MODE_RELEASE_BUFFERS`` on ``connection``; True when the mode OpenSSL
    returns has it.

    OpenSSL hands the mode to each record layer when it makes one, so set before the
    handshake it reaches the layers the established connection uses.
    """
    if not _HAS_MODE:
        return False
    mode = int(_lib.SSL_set_mode(connection._ssl, _lib.SSL_MODE_RELEASE_BUFFERS))
    return bool(mode & MODE_RELEASE_BUFFERS)


@_ffi.callback("void (*)(const SSL *, int, int)")
def _ignore_tls_info(ssl: object, where: int, ret: int) -> None:
    """An info callback that does nothing (see :func:`detach_info_callback`)."""


def detach_info_callback(connection: SSL.Connection) -> None:
    """Give ``connection`` a no-op info callback, which takes precedence over the context's.

    Used before a close run from a finaliser, when pyOpenSSL's SSL* → Connection map may
    already be cleared and the context's callback would fail inside cffi.
    """
    _lib.SSL_set_info_callback(connection._ssl, _ignore_tls_info)


# ----------------------------------------------------------------------------------- PSK

_PSK_CLIENT_SIGNATURE = (
    "unsigned int(SSL *, const char *, char *, unsigned int, unsigned char *, unsigned int)"
)
_PSK_SERVER_SIGNATURE = "unsigned int(SSL *, const char *, unsigned char *, unsigned int)"


def psk_supported() -> bool:
    """True when the OpenSSL bindings expose the PSK callbacks."""
    return all(hasattr(_lib, name) for name in _PSK_SYMBOLS)


def copy_into(pointer: Any, data: bytes) -> None:
    """Copy ``data`` into an OpenSSL-owned buffer handed to a callback."""
    _ffi.memmove(pointer, data, len(data))


def c_string(pointer: Any) -> bytes:
    """The NUL-terminated C string at ``pointer`` (b"" for NULL)."""
    return _ffi.string(pointer) if pointer else b""


def install_psk_client_callback(
    context: SSL.Context, callback: Callable[[Any, Any, Any, int, Any, int], int]
) -> Any:
    """Install a client PSK callback on ``context``; returns the cffi object to keep alive.

    ``callback(ssl, hint, identity_out, max_identity, psk_out, max_psk)`` returns the key
    length (0 refuses); an exception inside it counts as 0.
    """
    native = _ffi.callback(_PSK_CLIENT_SIGNATURE, callback, onerror=lambda *exc: 0)
    _lib.SSL_CTX_set_psk_client_callback(context._context, native)
    return native


def install_psk_server_callback(
    context: SSL.Context, callback: Callable[[Any, Any, Any, int], int]
) -> Any:
    """Install a server PSK callback ``callback(ssl, identity, psk_out, max_psk)``."""
    native = _ffi.callback(_PSK_SERVER_SIGNATURE, callback, onerror=lambda *exc: 0)
    _lib.SSL_CTX_set_psk_server_callback(context._context, native)
    return native


def set_psk_identity_hint(context: SSL.Context, hint: bytes) -> bool:
    """Set the identity hint a PSK server sends; False when OpenSSL refused it."""
    return _lib.SSL_CTX_use_psk_identity_hint(context._context, hint) == 1
