"""Server certificate verification for the client side.

OpenSSL checks the chain (signatures, validity period, trust anchor, key usage and
purpose, algorithm strength); this module adds the name check with service-identity
(RFC 6125: subjectAltName DNS entries with a leftmost-label wildcard, IP entries for
IP-literal hostnames, and the subject CN only when the certificate has no SAN, as the
engine's mbedTLS does).

The name is checked inside OpenSSL's verify callback, after the chain has verified, so
that a name mismatch on a trusted chain is told apart from every other failure: it is
the only case that ends in ``STATUS_ERROR_HOSTNAME_MISMATCH``.
"""

from __future__ import annotations

import base64
import enum
import ipaddress
from typing import FrozenSet, List, NamedTuple, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import extract_patterns
from service_identity.hazmat import (
    DNS_ID,
    CertificatePattern,
    DNSPattern,
    IPAddress_ID,
    IPAddressPattern,
    verify_service_identity,
)

from .log import logger

__all__ = [
    "CertificateVerifier",
    "FailureKind",
    "VerificationFailure",
    "describe_x509_error",
    "name_matches",
    "pin_text",
    "spki_sha256",
]

# X509_V_ERR_* numbers are part of OpenSSL's stable ABI; the texts follow OpenSSL's own.
_X509_ERRORS = {
    2: "unable to get issuer certificate",
    3: "unable to get certificate CRL",
    4: "unable to decrypt certificate's signature",
    7: "certificate signature failure",
    8: "CRL signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    11: "CRL is not yet valid",
    12: "CRL has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    24: "invalid CA certificate",
    25: "path length constraint exceeded",
    26: "unsuitable certificate purpose",
    27: "certificate not trusted",
    28: "certificate rejected",
    32: "key usage does not include certificate signing",
    62: "hostname mismatch",
    64: "IP address mismatch",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
    79: "missing Authority Key Identifier",
    80: "missing Subject Key Identifier",
}


def describe_x509_error(errnum: int) -> str:
    """OpenSSL's text for an ``X509_V_ERR_*`` number."""
    return _X509_ERRORS.get(errnum, f"X509 verify error {errnum}")


class FailureKind(enum.Enum):
    """Why verification rejected the server."""

    CHAIN = "chain"  # untrusted, expired, wrong usage, too weak, ...
    HOSTNAME_MISMATCH = "hostname_mismatch"  # trusted chain, name does not match
    PIN_MISMATCH = "pin_mismatch"  # no pinned key anywhere in the chain


class VerificationFailure(NamedTuple):
    kind: FailureKind
    message: str


def _subject_text(certificate: x509.Certificate) -> str:
    try:
        return certificate.subject.rfc4514_string()
    except ValueError:
        return "<unprintable subject>"


def _common_name_patterns(certificate: x509.Certificate) -> List[CertificatePattern]:
    patterns: List[CertificatePattern] = []
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        try:
            patterns.append(IPAddressPattern(pattern=ipaddress.ip_address(value)))
        except ValueError:
            try:
                patterns.append(DNSPattern.from_bytes(value.encode("utf-8")))
            except (CertificateError, UnicodeError, ValueError):
                continue
    return patterns


def _has_subject_alt_name(certificate: x509.Certificate) -> bool:
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


def name_matches(certificate: x509.Certificate, name: str) -> bool:
    """Does ``certificate`` hold ``name`` (a DNS name or an IP literal)?"""
    try:
        service_id = IPAddress_ID(name)
    except (ValueError, TypeError):
        try:
            service_id = DNS_ID(name)
        except (ValueError, TypeError, UnicodeError):
            return False  # not a valid host name: nothing can match it (e.g. "")
    if _has_subject_alt_name(certificate):
        patterns = extract_patterns(certificate)
    else:
        patterns = _common_name_patterns(certificate)
    try:
        verify_service_identity(patterns, obligatory_ids=[service_id], optional_ids=[])
    except (VerificationError, CertificateError):
        return False
    return True


def spki_sha256(certificate: x509.Certificate) -> bytes:
    """SHA-256 of the certificate's DER SubjectPublicKeyInfo: what a key pin names."""
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return digest.finalize()


def pin_text(digest: bytes) -> str:
    """A pin as HPKP writes it: ``sha256/<base64>``."""
    return "sha256/" + base64.b64encode(digest).decode("ascii")


# Revocation information missing or out of date (not "revoked"): soft-fail may accept.
_CRL_AVAILABILITY_ERRORS = frozenset({3, 11, 12})


class CertificateVerifier:
    """Per-connection state of OpenSSL's verify callback.

    ``expected_name`` is the name the leaf must carry, or None for no name check
    (``client_unsafe``). ``pins`` (SHA-256 SPKI digests) must include a key of the chain
    when given. ``check_chain`` False means pin-only trust: chain errors are ignored and
    only the pins decide. ``crl_soft_fail`` accepts a missing or expired CRL with a
    warning. The first failure is kept so the connection can report the right status
    and a clear reason after OpenSSL aborts the handshake.
    """

    __slots__ = ("check_chain", "crl_soft_fail", "expected_name", "failure", "pins", "seen_keys")

    def __init__(
        self,
        expected_name: Optional[str],
        pins: FrozenSet[bytes] = frozenset(),
        check_chain: bool = True,
        crl_soft_fail: bool = False,
    ) -> None:
        self.expected_name = expected_name
        self.pins = pins
        self.check_chain = check_chain
        self.crl_soft_fail = crl_soft_fail
        self.failure: Optional[VerificationFailure] = None
        self.seen_keys: List[bytes] = []

    def __call__(self, certificate: crypto.X509, errnum: int, depth: int, ok: int) -> bool:
        if self.failure is not None:
            return False
        cert = certificate.to_cryptography()
        if self.pins:
            key = spki_sha256(cert)
            if key not in self.seen_keys:
                self.seen_keys.append(key)
        if not ok:
            if not self.check_chain:
                return True  # pin-only trust: the chain does not matter, the keys do
            reason = describe_x509_error(errnum)
            if errnum in _CRL_AVAILABILITY_ERRORS and self.crl_soft_fail:
                logger.warning("revocation check soft-failed at depth %d: %s", depth, reason)
                return True
            self.failure = VerificationFailure(
                FailureKind.CHAIN,
                f"certificate verification failed at depth {depth} "
                f"({_subject_text(cert)}): {reason}",
            )
            return False
        if depth != 0:
            return True
        # OpenSSL reports the leaf (depth 0) as verified last, after every chain check,
        # so reaching it with ok=1 means the chain is trusted: the name and pins are left.
        name = self.expected_name
        if name is not None and not name_matches(cert, name):
            self.failure = VerificationFailure(
                FailureKind.HOSTNAME_MISMATCH,
                f"certificate name mismatch: '{name}' is not a name of {_subject_text(cert)}",
            )
            return False
        if self.pins and not any(key in self.pins for key in self.seen_keys):
            seen = ", ".join(pin_text(key) for key in self.seen_keys)
            self.failure = VerificationFailure(
                FailureKind.PIN_MISMATCH,
                f"no pinned key in the server's certificate chain (keys seen: {seen})",
            )
            return False
        return True
