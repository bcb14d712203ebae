"""``X509Certificate`` and ``CryptoKey``: Godot's certificate and key resources.

Both hold `cryptography` objects and speak PEM, as the engine's classes do. Loading
never raises: like the engine they return an ``Error`` (``ERR_INVALID_PARAMETER`` when
the file cannot be opened, ``FAILED`` when its content does not parse) and log why.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)

from .errors import Error
from .log import logger

__all__ = ["CryptoKey", "X509Certificate"]

PathLike = Union[str, "os.PathLike[str]"]


def _read_file(path: PathLike, what: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, TypeError, ValueError) as exc:
        logger.error("Cannot open %s file '%s': %s", what, path, exc)
        return None


def _write_file(path: PathLike, data: bytes, what: str) -> Error:
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except (OSError, TypeError, ValueError) as exc:
        logger.error("Cannot save %s to file '%s': %s", what, path, exc)
        return Error.ERR_INVALID_PARAMETER
    return Error.OK


class X509Certificate:
    """An X.509 certificate, or a chain of them (leaf first) read from one PEM blob."""

    def __init__(self, certificates: Sequence[x509.Certificate] = ()) -> None:
        self._certificates: List[x509.Certificate] = list(certificates)

    @classmethod
    def from_pem(cls, pem: Union[str, bytes]) -> X509Certificate:
        """Build from PEM text, raising ``ValueError`` when it holds no certificate."""
        certificate = cls()
        if certificate.load_from_string(pem) != Error.OK:
            raise ValueError("no PEM certificate found")
        return certificate

    @property
    def certificates(self) -> List[x509.Certificate]:
        """The parsed certificates, leaf first (a copy)."""
        return list(self._certificates)

    def load(self, path: PathLike) -> Error:
        """Load PEM certificate(s) from a file (every certificate in it, in order)."""
        data = _read_file(path, "X509Certificate")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, str(path))

    def load_from_string(self, string: Union[str, bytes]) -> Error:
        """Load PEM certificate(s) from a string."""
        if isinstance(string, str):
            data = string.encode("utf-8")
        elif isinstance(string, (bytes, bytearray, memoryview)):
            data = bytes(string)
        else:
            logger.error("X509Certificate.load_from_string expects a String")
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, "string")

    def _parse(self, data: bytes, origin: str) -> Error:
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            try:
                certificates = [x509.load_der_x509_certificate(data)]
            except ValueError as exc:
                logger.error("Error parsing X509 certificate from %s: %s", origin, exc)
                return Error.FAILED
        self._certificates = certificates
        return Error.OK

    def save(self, path: PathLike) -> Error:
        """Write the certificate(s) to a file as PEM."""
        if not self._certificates:
            logger.error("Certificate is empty, nothing to save")
            return Error.ERR_UNCONFIGURED
        return _write_file(path, self.save_to_string().encode("ascii"), "X509Certificate")

    def save_to_string(self) -> str:
        """The certificate(s) as PEM text ("" when empty)."""
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self._certificates
        )

    def __repr__(self) -> str:
        subjects = ", ".join(c.subject.rfc4514_string() for c in self._certificates)
        return f"X509Certificate([{subjects}])"


class CryptoKey:
    """A private key (or only a public key, when loaded with ``public_only``)."""

    def __init__(self, key: Optional[Union[PrivateKeyTypes, PublicKeyTypes]] = None) -> None:
        self._key = key

    @classmethod
    def from_pem(cls, pem: Union[str, bytes], public_only: bool = False) -> CryptoKey:
        """Build from PEM text, raising ``ValueError`` when it holds no key."""
        key = cls()
        if key.load_from_string(pem, public_only) != Error.OK:
            raise ValueError("no PEM key found")
        return key

    @property
    def key(self) -> Optional[Union[PrivateKeyTypes, PublicKeyTypes]]:
        """The `cryptography` key object, or ``None`` when nothing is loaded."""
        return self._key

    def is_public_only(self) -> bool:
        """True when only a public key is held."""
        return self._key is not None and not hasattr(self._key, "private_bytes")

    def load(self, path: PathLike, public_only: bool = False) -> Error:
        """Load a PEM (or DER) key from a file."""
        data = _read_file(path, "CryptoKey")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, public_only, str(path))

    def load_from_string(self, string_key: Union[str, bytes], public_only: bool = False) -> Error:
        """Load a PEM key from a string."""
        if isinstance(string_key, str):
            data = string_key.encode("utf-8")
        elif isinstance(string_key, (bytes, bytearray, memoryview)):
            data = bytes(string_key)
        else:
            logger.error("CryptoKey.load_from_string expects a String")
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, public_only, "string")

    def _parse(self, data: bytes, public_only: bool, origin: str) -> Error:
        loaders = (
            (serialization.load_pem_public_key, serialization.load_der_public_key)
            if public_only
            else (
                lambda d: serialization.load_pem_private_key(d, password=None),
                lambda d: serialization.load_der_private_key(d, password=None),
            )
        )
        for loader in loaders:
            try:
                self._key = loader(data)
                return Error.OK
            except (ValueError, TypeError):
                continue
        logger.error("Error parsing %s key from %s", "public" if public_only else "private", origin)
        return Error.FAILED

    def save(self, path: PathLike, public_only: bool = False) -> Error:
        """Write the key to a file as PEM (PKCS#8 private key, or SubjectPublicKeyInfo)."""
        text = self.save_to_string(public_only)
        if not text:
            return Error.ERR_UNCONFIGURED
        return _write_file(path, text.encode("ascii"), "CryptoKey")

    def save_to_string(self, public_only: bool = False) -> str:
        """The key as PEM text ("" when empty)."""
        key = self._key
        if key is None:
            logger.error("CryptoKey is empty, nothing to save")
            return ""
        if public_only or self.is_public_only():
            public = key.public_key() if hasattr(key, "public_key") else key
            return public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def __repr__(self) -> str:
        kind = "empty" if self._key is None else type(self._key).__name__
        return f"CryptoKey({kind})"
