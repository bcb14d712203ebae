"""``TLSOptions``: the immutable configuration object of Godot 4's TLS classes.

As in the engine it is built only through the static constructors ``client()``,
``client_unsafe()`` and ``server()`` and stores exactly what it was given. Options are
compared and cached by identity: every connection made with the same object shares one
OpenSSL context (so the default CA bundle is parsed once, not per connection).

Beyond the engine, keyword-only arguments add what its documentation says it lacks
(pinning, revocation) and what its users ask for (PSK, session resumption, SNI, ALPN, a
key log). Left at their defaults, every option behaves exactly as Godot's.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Union

from .x509 import X509CRL, CryptoKey, X509Certificate

__all__ = ["PskKeys", "TLSExtensions", "TLSMode", "TLSOptions", "parse_spki_pin"]

#: A server's PSK keys: identity → key, or a callable returning the key (None: unknown).
PskKeys = Union[Mapping[str, bytes], Callable[[str], Optional[bytes]]]


class TLSMode(enum.Enum):
    """Which constructor made a :class:`TLSOptions`."""

    CLIENT = "client"
    CLIENT_UNSAFE = "client_unsafe"
    CLIENT_PSK = "client_psk"
    SERVER = "server"
    SERVER_PSK = "server_psk"


def parse_spki_pin(pin: str | bytes) -> bytes:
    """A SHA-256 SubjectPublicKeyInfo pin as 32 raw bytes.

    Accepts base64 as in HPKP's ``pin-sha256`` (optionally prefixed ``sha256/``), 64 hex
    digits (colons allowed), or the 32 raw bytes. Raises ``ValueError`` otherwise.
    """
    if isinstance(pin, (bytes, bytearray)) and len(pin) == 32:
        return bytes(pin)
    text = pin.decode("ascii", "replace") if isinstance(pin, (bytes, bytearray)) else str(pin)
    text = text.strip()
    for prefix in ("sha256/", "pin-sha256="):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip('"')
    hex_text = text.replace(":", "")
    if len(hex_text) == 64:
        try:
            return bytes.fromhex(hex_text)
        except ValueError:
            pass
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"not a SHA-256 SPKI pin (base64 or hex): {pin!r}")
    return digest


def _as_crl(value: X509CRL | str | bytes) -> X509CRL:
    if isinstance(value, X509CRL):
        if value.crl is None:
            raise ValueError("an empty X509CRL was given")
        return value
    return X509CRL.from_data(value)


def _as_protocols(protocols: Iterable[str]) -> tuple[str, ...]:
    result = tuple(str(p) for p in protocols)
    for protocol in result:
        if not 0 < len(protocol.encode("utf-8")) < 256:
            raise ValueError(f"ALPN protocol names are 1..255 bytes: {protocol!r}")
    return result


@dataclass(frozen=True)
class TLSExtensions:
    """What godot-dtls adds to the engine's options (all off by default)."""

    pinned_spki_sha256: frozenset[bytes] = frozenset()
    crls: tuple[X509CRL, ...] = ()
    crl_soft_fail: bool = False
    alpn: tuple[str, ...] = ()
    key_log_file: str | None = None
    session_resumption: bool = False
    sni: dict[str, tuple[CryptoKey, X509Certificate]] = field(default_factory=dict)
    psk_identity: str = ""
    psk_key: bytes = b""
    psk_keys: PskKeys | None = None
    psk_identity_hint: str = ""


class TLSOptions:
    """TLS configuration for a client or a server (Godot 4 ``TLSOptions``)."""

    __slots__ = (
        "__weakref__",
        "_common_name_override",
        "_extensions",
        "_mode",
        "_own_certificate",
        "_private_key",
        "_trusted_chain",
    )

    def __init__(self) -> None:
        raise TypeError(
            "TLSOptions is abstract: use TLSOptions.client(), client_unsafe() or server()"
        )

    @classmethod
    def _make(
        cls,
        mode: TLSMode,
        trusted_chain: X509Certificate | None = None,
        common_name_override: str = "",
        private_key: CryptoKey | None = None,
        own_certificate: X509Certificate | None = None,
        extensions: TLSExtensions | None = None,
    ) -> TLSOptions:
        options = object.__new__(cls)
        object.__setattr__(options, "_mode", mode)
        object.__setattr__(options, "_trusted_chain", trusted_chain)
        object.__setattr__(options, "_common_name_override", common_name_override)
        object.__setattr__(options, "_private_key", private_key)
        object.__setattr__(options, "_own_certificate", own_certificate)
        object.__setattr__(options, "_extensions", extensions or TLSExtensions())
        return options

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TLSOptions is immutable")

    # ------------------------------------------------------------ the engine's constructors

    @classmethod
    def client(
        cls,
        trusted_chain: X509Certificate | None = None,
        common_name_override: str = "",
        *,
        pinned_spki_sha256: Iterable[str | bytes] = (),
        crls: Iterable[X509CRL | str | bytes] = (),
        crl_soft_fail: bool = False,
        alpn: Iterable[str] = (),
        session_resumption: bool = False,
        key_log_file: str | None = None,
    ) -> TLSOptions:
        """Verify the server: chain against ``trusted_chain`` (default CA bundle when None)
        and name against ``common_name_override`` if given, else the connect hostname.

        Extensions: ``pinned_spki_sha256`` (the chain must also hold one of these keys),
        ``crls`` (revocation lists; a revoked leaf or intermediate fails; a missing or
        expired list fails too unless ``crl_soft_fail``), ``alpn`` (protocols offered),
        ``session_resumption`` (resume the last session with the same server), and
        ``key_log_file`` (NSS key log, also enabled by ``SSLKEYLOGFILE``).
        """
        extensions = TLSExtensions(
            pinned_spki_sha256=frozenset(parse_spki_pin(p) for p in pinned_spki_sha256),
            crls=tuple(_as_crl(c) for c in crls),
            crl_soft_fail=bool(crl_soft_fail),
            alpn=_as_protocols(alpn),
            session_resumption=bool(session_resumption),
            key_log_file=key_log_file,
        )
        return cls._make(
            TLSMode.CLIENT, trusted_chain, str(common_name_override or ""), extensions=extensions
        )

    @classmethod
    def client_unsafe(
        cls,
        trusted_chain: X509Certificate | None = None,
        *,
        pinned_spki_sha256: Iterable[str | bytes] = (),
        alpn: Iterable[str] = (),
        session_resumption: bool = False,
        key_log_file: str | None = None,
    ) -> TLSOptions:
        """No name check; with no ``trusted_chain`` no chain check (testing only).

        With ``pinned_spki_sha256`` the server must present one of the pinned keys: pin-only
        trust, the usual setup for a game server with a self-signed certificate.
        """
        extensions = TLSExtensions(
            pinned_spki_sha256=frozenset(parse_spki_pin(p) for p in pinned_spki_sha256),
            alpn=_as_protocols(alpn),
            session_resumption=bool(session_resumption),
            key_log_file=key_log_file,
        )
        return cls._make(TLSMode.CLIENT_UNSAFE, trusted_chain, extensions=extensions)

    @classmethod
    def server(
        cls,
        key: CryptoKey,
        certificate: X509Certificate,
        *,
        sni: Mapping[str, tuple[CryptoKey, X509Certificate]] | None = None,
        alpn: Iterable[str] = (),
        session_resumption: bool = False,
        key_log_file: str | None = None,
    ) -> TLSOptions:
        """Present ``certificate`` (leaf first, then any chain) signed for ``key``.

        Extensions: ``sni`` maps a server name to another (key, certificate) chosen when
        the client asks for that name; ``alpn`` lists the protocols accepted, in order of
        preference; ``session_resumption`` lets clients resume (abbreviated handshake).
        """
        extensions = TLSExtensions(
            sni={str(name).lower(): pair for name, pair in (sni or {}).items()},
            alpn=_as_protocols(alpn),
            session_resumption=bool(session_resumption),
            key_log_file=key_log_file,
        )
        return cls._make(
            TLSMode.SERVER, private_key=key, own_certificate=certificate, extensions=extensions
        )

    # ------------------------------------------------------------ pre-shared keys

    @classmethod
    def client_psk(
        cls,
        identity: str,
        key: bytes,
        *,
        alpn: Iterable[str] = (),
        key_log_file: str | None = None,
    ) -> TLSOptions:
        """Authenticate with a pre-shared key instead of certificates (not in the engine)."""
        if not isinstance(key, (bytes, bytearray)) or not key:
            raise ValueError("the PSK must be non-empty bytes")
        extensions = TLSExtensions(
            psk_identity=str(identity),
            psk_key=bytes(key),
            alpn=_as_protocols(alpn),
            key_log_file=key_log_file,
        )
        return cls._make(TLSMode.CLIENT_PSK, extensions=extensions)

    @classmethod
    def server_psk(
        cls,
        keys: PskKeys,
        *,
        identity_hint: str = "",
        alpn: Iterable[str] = (),
        key_log_file: str | None = None,
    ) -> TLSOptions:
        """Accept clients by pre-shared key: ``keys`` maps identity → key, or is a
        callable returning the key for an identity (None when unknown)."""
        if not callable(keys) and not isinstance(keys, Mapping):
            raise TypeError("keys must be a mapping or a callable")
        extensions = TLSExtensions(
            psk_keys=dict(keys) if isinstance(keys, Mapping) else keys,
            psk_identity_hint=str(identity_hint),
            alpn=_as_protocols(alpn),
            key_log_file=key_log_file,
        )
        return cls._make(TLSMode.SERVER_PSK, extensions=extensions)

    # ------------------------------------------------------------ the engine's getters

    @property
    def mode(self) -> TLSMode:
        """The constructor that made these options."""
        return self._mode

    @property
    def extensions(self) -> TLSExtensions:
        """The options beyond the engine's."""
        return self._extensions

    def is_server(self) -> bool:
        """True only for options made by ``server()`` (or ``server_psk()``)."""
        return self._mode in (TLSMode.SERVER, TLSMode.SERVER_PSK)

    def is_unsafe_client(self) -> bool:
        """True only for options made by ``client_unsafe()``."""
        return self._mode is TLSMode.CLIENT_UNSAFE

    def is_psk(self) -> bool:
        """True for options made by ``client_psk()`` or ``server_psk()``."""
        return self._mode in (TLSMode.CLIENT_PSK, TLSMode.SERVER_PSK)

    def get_common_name_override(self) -> str:
        """The name checked instead of the hostname ("" when none)."""
        return self._common_name_override

    def get_trusted_ca_chain(self) -> X509Certificate | None:
        """The trust anchors given to ``client()``/``client_unsafe()``, else None."""
        return self._trusted_chain

    def get_private_key(self) -> CryptoKey | None:
        """The key given to ``server()``, else None."""
        return self._private_key

    def get_own_certificate(self) -> X509Certificate | None:
        """The certificate given to ``server()``, else None."""
        return self._own_certificate

    def __repr__(self) -> str:
        return f"TLSOptions.{self._mode.value}(...)"
