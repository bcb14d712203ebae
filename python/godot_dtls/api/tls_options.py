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
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from godot_dtls.core.log import logger
from godot_dtls.core.verification import UncheckableName, name_to_check

from .arguments import (
    ArgumentTypeError,
    ArgumentValueError,
    check_bool,
    check_bytes,
    check_collection,
    check_instance,
    check_path,
    check_string,
    type_name,
)
from .x509 import X509CRL, CryptoKey, X509Certificate

__all__ = ["PskKeys", "TLSExtensions", "TLSMode", "TLSOptions", "parse_spki_pin"]

#: OpenSSL's limits on PSK identities (and hints) and keys (PSK_MAX_IDENTITY_LEN,
#: PSK_MAX_PSK_LEN): anything longer would only fail inside the handshake.
MAX_PSK_IDENTITY_BYTES = 256
MAX_PSK_KEY_BYTES = 512

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


# Each check below raises TypeError / ValueError naming the argument, so a mistake shows
# at the factory call and never later inside connect_to_peer() or setup().


def _as_crl(value: X509CRL | str | bytes) -> X509CRL:
    if isinstance(value, X509CRL):
        if value.crl is None:
            raise ArgumentValueError("crls: an empty X509CRL was given")
        return value
    if not isinstance(value, (str, bytes, bytearray)):
        raise ArgumentTypeError(f"crls must hold X509CRL, PEM or DER, got {type_name(value)}")
    try:
        return X509CRL.from_data(bytes(value) if not isinstance(value, str) else value)
    except ValueError as exc:
        raise ArgumentValueError(f"crls: {exc}") from None


def _as_crls(crls: Any) -> tuple[X509CRL, ...]:
    return tuple(_as_crl(c) for c in check_collection(crls, "crls", "X509CRL"))


def _as_pins(pins: Any) -> frozenset[bytes]:
    result = set()
    for pin in check_collection(pins, "pinned_spki_sha256", "pins"):
        if not isinstance(pin, (str, bytes, bytearray)):
            raise ArgumentTypeError(
                f"pinned_spki_sha256 must hold str or bytes pins, got {type_name(pin)}"
            )
        try:
            result.add(parse_spki_pin(pin))
        except ValueError as exc:
            raise ArgumentValueError(f"pinned_spki_sha256: {exc}") from None
    return frozenset(result)


def _as_protocols(protocols: Any) -> tuple[str, ...]:
    result = tuple(check_collection(protocols, "alpn", "protocol names"))
    for protocol in result:
        check_string(protocol, "alpn", allow_nul=True)
        try:
            size = len(protocol.encode("utf-8"))
        except UnicodeEncodeError:
            raise ArgumentValueError(f"alpn: {protocol!r} is not valid Unicode") from None
        if not 0 < size < 256:
            raise ArgumentValueError(f"alpn protocol names are 1..255 bytes: {protocol!r}")
    return result


def _as_chain(chain: Any, name: str = "trusted_chain") -> X509Certificate | None:
    check_instance(chain, X509Certificate, name, optional=True)
    if chain is not None and not chain.certificates:
        raise ArgumentValueError(f"{name} holds no certificate")
    return chain  # type: ignore[no-any-return]


def _as_identity(key: Any, certificate: Any, what: str) -> tuple[CryptoKey, X509Certificate]:
    """A server's (key, certificate chain), both present and usable."""
    key_name, certificate_name = (
        ("key", "certificate") if what == "server" else (f"{what} key", f"{what} certificate")
    )
    check_instance(key, CryptoKey, key_name)
    if key.key is None:
        raise ArgumentValueError(f"{key_name} is empty (nothing was loaded)")
    if key.is_public_only():
        raise ArgumentValueError(
            f"{key_name} holds only a public key; a server needs its private key"
        )
    check_instance(certificate, X509Certificate, certificate_name)
    if not certificate.certificates:
        raise ArgumentValueError(f"{certificate_name} holds no certificate")
    return key, certificate


def _as_sni(sni: Any) -> dict[str, tuple[CryptoKey, X509Certificate]]:
    if sni is None:
        return {}
    if not isinstance(sni, Mapping):
        raise ArgumentTypeError(
            f"sni must be a dict of name -> (key, certificate), got {type_name(sni)}"
        )
    result = {}
    for name, pair in sni.items():
        check_string(name, "sni names")
        lowered = name.lower()
        try:
            if not lowered or not lowered.encode("idna"):
                raise UnicodeError("empty")
        except UnicodeError:
            raise ArgumentValueError(f"sni: {name!r} is not a host name") from None
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ArgumentTypeError(f"sni[{name!r}] must be a (key, certificate) pair")
        result[lowered] = _as_identity(pair[0], pair[1], f"sni[{name!r}]")
    return result


def _as_key_log_file(path: Any) -> str | None:
    """A key log path whose folder exists (the file itself is made at connect/setup)."""
    if path is None:
        return None
    text = check_path(path, "key_log_file")
    if os.path.isdir(text):
        raise ArgumentValueError(f"key_log_file {text!r} is a folder")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise ArgumentValueError(f"key_log_file: the folder {folder!r} does not exist")
    return text


#: Unsafe client settings already reported in this process (one warning per kind).
_unsafe_warned: set[str] = set()


def _warn_unsafe(chain: X509Certificate | None) -> None:
    kind = "chain" if chain is not None else "anything"
    if kind in _unsafe_warned:
        return
    _unsafe_warned.add(kind)
    if chain is None:
        logger.warning(
            "TLSOptions.client_unsafe() without a trusted chain or pins accepts any "
            "certificate: the traffic is encrypted but the server is not authenticated "
            "(testing only; pin the server's key with pinned_spki_sha256)"
        )
    else:
        logger.warning(
            "TLSOptions.client_unsafe(chain) without pins does not check the server's "
            "name: any certificate the chain signed is accepted"
        )


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
        chain = _as_chain(trusted_chain)
        name = "" if common_name_override is None else common_name_override
        check_string(name, "common_name_override")
        if name:
            try:
                name_to_check(name)  # a name no certificate can match fails here, not later
            except UncheckableName as exc:
                raise ValueError(f"common_name_override: {exc}") from None
        extensions = TLSExtensions(
            pinned_spki_sha256=_as_pins(pinned_spki_sha256),
            crls=_as_crls(crls),
            crl_soft_fail=check_bool(crl_soft_fail, "crl_soft_fail"),
            alpn=_as_protocols(alpn),
            session_resumption=check_bool(session_resumption, "session_resumption"),
            key_log_file=_as_key_log_file(key_log_file),
        )
        return cls._make(TLSMode.CLIENT, chain, name, extensions=extensions)

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
        trust, the usual setup for a game server with a self-signed certificate. Without
        pins the first such options of a process log a warning (one per kind: no chain
        at all, or a chain without a name check).
        """
        chain = _as_chain(trusted_chain)
        extensions = TLSExtensions(
            pinned_spki_sha256=_as_pins(pinned_spki_sha256),
            alpn=_as_protocols(alpn),
            session_resumption=check_bool(session_resumption, "session_resumption"),
            key_log_file=_as_key_log_file(key_log_file),
        )
        if not extensions.pinned_spki_sha256:
            _warn_unsafe(chain)
        return cls._make(TLSMode.CLIENT_UNSAFE, chain, extensions=extensions)

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
        key, certificate = _as_identity(key, certificate, "server")
        extensions = TLSExtensions(
            sni=_as_sni(sni),
            alpn=_as_protocols(alpn),
            session_resumption=check_bool(session_resumption, "session_resumption"),
            key_log_file=_as_key_log_file(key_log_file),
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
        check_string(identity, "identity", max_bytes=MAX_PSK_IDENTITY_BYTES)
        psk = check_bytes(key, "key", 1, MAX_PSK_KEY_BYTES)
        extensions = TLSExtensions(
            psk_identity=identity,
            psk_key=psk,
            alpn=_as_protocols(alpn),
            key_log_file=_as_key_log_file(key_log_file),
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
            raise ArgumentTypeError(
                f"keys must be a dict of identity -> key or a callable, got {type_name(keys)}"
            )
        if isinstance(keys, Mapping):
            keys = {
                check_string(name, "keys (identities)", max_bytes=MAX_PSK_IDENTITY_BYTES): (
                    check_bytes(value, f"keys[{name!r}]", 1, MAX_PSK_KEY_BYTES)
                )
                for name, value in keys.items()
            }
        check_string(identity_hint, "identity_hint", max_bytes=MAX_PSK_IDENTITY_BYTES)
        extensions = TLSExtensions(
            psk_keys=keys,
            psk_identity_hint=identity_hint,
            alpn=_as_protocols(alpn),
            key_log_file=_as_key_log_file(key_log_file),
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
