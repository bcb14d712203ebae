"""``TLSOptions``: the immutable configuration object of Godot 4's TLS classes.

As in the engine it is built only through the static constructors ``client()``,
``client_unsafe()`` and ``server()`` and stores exactly what it was given. Options are
compared and cached by identity: every connection made with the same object shares one
OpenSSL context (so the default CA bundle is parsed once, not per connection).
"""

from __future__ import annotations

import enum
from typing import Optional

from .crypto import CryptoKey, X509Certificate

__all__ = ["TLSMode", "TLSOptions"]


class TLSMode(enum.Enum):
    """Which constructor made a :class:`TLSOptions`."""

    CLIENT = "client"
    CLIENT_UNSAFE = "client_unsafe"
    SERVER = "server"


class TLSOptions:
    """TLS configuration for a client or a server (Godot 4 ``TLSOptions``)."""

    __slots__ = (
        "__weakref__",
        "_common_name_override",
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
        trusted_chain: Optional[X509Certificate] = None,
        common_name_override: str = "",
        private_key: Optional[CryptoKey] = None,
        own_certificate: Optional[X509Certificate] = None,
    ) -> TLSOptions:
        options = object.__new__(cls)
        object.__setattr__(options, "_mode", mode)
        object.__setattr__(options, "_trusted_chain", trusted_chain)
        object.__setattr__(options, "_common_name_override", common_name_override)
        object.__setattr__(options, "_private_key", private_key)
        object.__setattr__(options, "_own_certificate", own_certificate)
        return options

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TLSOptions is immutable")

    @classmethod
    def client(
        cls, trusted_chain: Optional[X509Certificate] = None, common_name_override: str = ""
    ) -> TLSOptions:
        """Verify the server: chain against ``trusted_chain`` (default CA bundle when None)
        and name against ``common_name_override`` if given, else the connect hostname."""
        return cls._make(TLSMode.CLIENT, trusted_chain, str(common_name_override or ""))

    @classmethod
    def client_unsafe(cls, trusted_chain: Optional[X509Certificate] = None) -> TLSOptions:
        """No name check; with no ``trusted_chain`` no verification at all (testing only)."""
        return cls._make(TLSMode.CLIENT_UNSAFE, trusted_chain)

    @classmethod
    def server(cls, key: CryptoKey, certificate: X509Certificate) -> TLSOptions:
        """Present ``certificate`` (leaf first, then any chain) signed for ``key``."""
        return cls._make(TLSMode.SERVER, private_key=key, own_certificate=certificate)

    @property
    def mode(self) -> TLSMode:
        """The constructor that made these options."""
        return self._mode

    def is_server(self) -> bool:
        """True only for options made by ``server()``."""
        return self._mode is TLSMode.SERVER

    def is_unsafe_client(self) -> bool:
        """True only for options made by ``client_unsafe()``."""
        return self._mode is TLSMode.CLIENT_UNSAFE

    def get_common_name_override(self) -> str:
        """The name checked instead of the hostname ("" when none)."""
        return self._common_name_override

    def get_trusted_ca_chain(self) -> Optional[X509Certificate]:
        """The trust anchors given to ``client()``/``client_unsafe()``, else None."""
        return self._trusted_chain

    def get_private_key(self) -> Optional[CryptoKey]:
        """The key given to ``server()``, else None."""
        return self._private_key

    def get_own_certificate(self) -> Optional[X509Certificate]:
        """The certificate given to ``server()``, else None."""
        return self._own_certificate

    def __repr__(self) -> str:
        return f"TLSOptions.{self._mode.value}(...)"
