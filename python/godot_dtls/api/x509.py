"""``X509Certificate`` and ``CryptoKey``: Godot's certificate and key resources.

Both hold `cryptography` objects and speak PEM, as the engine's classes do. Loading
never raises: like the engine they return an ``Error`` (``ERR_INVALID_PARAMETER`` when
the file cannot be opened, ``FAILED`` when its content does not parse) and log why.
"""

from __future__ import annotations

import os
import typing
from typing import Any, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)

from godot_dtls.core.log import logger

from .arguments import (
    ArgumentTypeError,
    ArgumentValueError,
    check_bool,
    check_collection,
    check_path,
    refuses_bad_arguments,
    type_name,
)
from .errors import Error

__all__ = ["X509CRL", "CryptoKey", "X509Certificate"]

PathLike = Union[str, "os.PathLike[str]"]

#: Every key type ``CryptoKey`` may hold (private or public).
_KEY_TYPES = typing.get_args(PrivateKeyTypes) + typing.get_args(PublicKeyTypes)


def _pem_input(value: Any, name: str) -> str | bytes:
    """PEM (or DER) text for a ``from_*`` factory: str or bytes-like, else TypeError."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArgumentTypeError(f"{name} must be PEM text (str) or bytes, got {type_name(value)}")


def _read_file(path: PathLike, what: str) -> bytes | None:
    # check_path first: open() would take an int for a file descriptor (0 is stdin).
    path = check_path(path, "path")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, TypeError, ValueError) as exc:
        logger.error("Cannot open %s file '%s': %s", what, path, exc)
        return None


def _write_file(path: PathLike, data: bytes, what: str) -> Error:
    path = check_path(path, "path")
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except (OSError, TypeError, ValueError) as exc:
        logger.error("Cannot save %s to file '%s': %s", what, path, exc)
        return Error.ERR_INVALID_PARAMETER
    return Error.OK


def _text_bytes(value: object, what: str) -> bytes | None:
    """PEM text given as str or bytes-like, as bytes; None (logged) for anything else."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    logger.error("%s.load_from_string expects a String", what)
    return None


class X509Certificate:
    """An X.509 certificate, or a chain of them (leaf first) read from one PEM blob."""

    def __init__(self, certificates: Sequence[x509.Certificate] = ()) -> None:
        items = check_collection(certificates, "certificates", "cryptography certificates")
        for item in items:
            if not isinstance(item, x509.Certificate):
                raise ArgumentTypeError(
                    f"certificates must hold cryptography x509.Certificate, got {type_name(item)}"
                )
        self._certificates: list[x509.Certificate] = items

    @classmethod
    def from_pem(cls, pem: str | bytes) -> X509Certificate:
        """Build from PEM text, raising ``ValueError`` when it holds no certificate."""
        certificate = cls()
        if certificate.load_from_string(_pem_input(pem, "pem")) != Error.OK:
            raise ArgumentValueError("pem holds no PEM certificate")
        return certificate

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The parsed certificates, leaf first (a copy)."""
        return list(self._certificates)

    @refuses_bad_arguments()
    def load(self, path: PathLike) -> Error:
        """Load PEM certificate(s) from a file (every certificate in it, in order)."""
        data = _read_file(path, "X509Certificate")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, str(path))

    def load_from_string(self, string: str | bytes) -> Error:
        """Load PEM certificate(s) from a string."""
        data = _text_bytes(string, "X509Certificate")
        if data is None:
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

    @refuses_bad_arguments()
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

    def __init__(self, key: PrivateKeyTypes | PublicKeyTypes | None = None) -> None:
        if key is not None and not isinstance(key, _KEY_TYPES):
            raise ArgumentTypeError(f"key must be a cryptography key or None, got {type_name(key)}")
        self._key = key

    @classmethod
    def from_pem(cls, pem: str | bytes, public_only: bool = False) -> CryptoKey:
        """Build from PEM text, raising ``ValueError`` when it holds no key."""
        key = cls()
        text = _pem_input(pem, "pem")
        if key.load_from_string(text, check_bool(public_only, "public_only")) != Error.OK:
            raise ArgumentValueError("pem holds no PEM key")
        return key

    @property
    def key(self) -> PrivateKeyTypes | PublicKeyTypes | None:
        """The `cryptography` key object, or ``None`` when nothing is loaded."""
        return self._key

    def is_public_only(self) -> bool:
        """True when only a public key is held."""
        return self._key is not None and not hasattr(self._key, "private_bytes")

    @refuses_bad_arguments()
    def load(self, path: PathLike, public_only: bool = False) -> Error:
        """Load a PEM (or DER) key from a file."""
        public_only = check_bool(public_only, "public_only")
        data = _read_file(path, "CryptoKey")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, public_only, str(path))

    @refuses_bad_arguments()
    def load_from_string(self, string_key: str | bytes, public_only: bool = False) -> Error:
        """Load a PEM key from a string."""
        public_only = check_bool(public_only, "public_only")
        data = _text_bytes(string_key, "CryptoKey")
        if data is None:
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

    @refuses_bad_arguments()
    def save(self, path: PathLike, public_only: bool = False) -> Error:
        """Write the key to a file as PEM (PKCS#8 private key, or SubjectPublicKeyInfo)."""
        check_path(path, "path")
        text = self.save_to_string(check_bool(public_only, "public_only"))
        if not text:
            return Error.ERR_UNCONFIGURED
        return _write_file(path, text.encode("ascii"), "CryptoKey")

    @refuses_bad_arguments(fallback="")
    def save_to_string(self, public_only: bool = False) -> str:
        """The key as PEM text ("" when empty)."""
        public_only = check_bool(public_only, "public_only")
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


class X509CRL:
    """A certificate revocation list (PEM or DER); not in the engine, which has no
    revocation checking at all. Used by ``TLSOptions.client(..., crls=[...])``."""

    def __init__(self, crl: x509.CertificateRevocationList | None = None) -> None:
        if crl is not None and not isinstance(crl, x509.CertificateRevocationList):
            raise ArgumentTypeError(
                f"crl must be a cryptography CertificateRevocationList or None, "
                f"got {type_name(crl)}"
            )
        self._crl = crl

    @classmethod
    def from_data(cls, data: str | bytes) -> X509CRL:
        """Build from PEM or DER, raising ``ValueError`` when it is not a CRL."""
        crl = cls()
        if crl.load_from_string(_pem_input(data, "data")) != Error.OK:
            raise ArgumentValueError("data holds no CRL (PEM or DER)")
        return crl

    @property
    def crl(self) -> x509.CertificateRevocationList | None:
        """The `cryptography` CRL object, or ``None`` when nothing is loaded."""
        return self._crl

    @refuses_bad_arguments()
    def load(self, path: PathLike) -> Error:
        """Load a PEM or DER CRL from a file."""
        data = _read_file(path, "X509CRL")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, str(path))

    def load_from_string(self, string: str | bytes) -> Error:
        """Load a PEM (or DER, given as bytes) CRL."""
        data = _text_bytes(string, "X509CRL")
        if data is None:
            return Error.ERR_INVALID_PARAMETER
        return self._parse(data, "string")

    def _parse(self, data: bytes, origin: str) -> Error:
        for loader in (x509.load_pem_x509_crl, x509.load_der_x509_crl):
            try:
                self._crl = loader(data)
                return Error.OK
            except ValueError:
                continue
        logger.error("Error parsing CRL from %s", origin)
        return Error.FAILED

    def save_to_string(self) -> str:
        """The CRL as PEM text ("" when empty)."""
        if self._crl is None:
            return ""
        return self._crl.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def __repr__(self) -> str:
        issuer = "empty" if self._crl is None else self._crl.issuer.rfc4514_string()
        return f"X509CRL({issuer})"
