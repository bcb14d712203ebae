"""Server certificate verification for the client side.

OpenSSL does all of it: the chain (signatures, validity period, trust anchor, key usage
and purpose, algorithm strength, revocation) and the name, through its own host check
(``X509_VERIFY_PARAM_set1_host`` / ``set1_ip``: subjectAltName DNS entries with a
leftmost-label wildcard, IP entries for IP-literal hostnames). Two rules of the engine's
mbedTLS are added on top: the subject CN counts only when the certificate has no
subjectAltName extension at all (also for IP literals), and an empty name matches
nothing.

The verify callback sees OpenSSL's name error, notes it and lets verification go on:
if a chain error follows, that one decides (``STATUS_ERROR``); if the chain is fine, the
mismatch fails the handshake at the last step (``STATUS_ERROR_HOSTNAME_MISMATCH``), and
OpenSSL still sends the peer the bad_certificate alert that goes with a name error.

The name check fails closed. OpenSSL's ``set1_host`` silently arms *no* check when it
refuses a name, and gives some names a meaning of their own (a leading dot matches every
subdomain). So a name is first brought to the one form a certificate can carry
(:func:`name_to_check`), anything else raises :class:`UncheckableName` before a packet is
sent, OpenSSL's return code is read, and a leaf reached without an armed check is refused.
"""

from __future__ import annotations

import base64
import datetime
import enum
import ipaddress
import re
from encodings import idna as _idna
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from . import openssl_private as private
from .log import logger

__all__ = [
    "CertificateVerifier",
    "FailureKind",
    "UncheckableName",
    "VerificationFailure",
    "describe_x509_error",
    "name_to_check",
    "pin_text",
    "request_name_check",
    "spki_sha256",
]


def describe_x509_error(errnum: int) -> str:
    """OpenSSL's own text for an ``X509_V_ERR_*`` number (the numbering changed in 3.0)."""
    return private.x509_error_text(errnum)


class FailureKind(enum.Enum):
    """Why verification rejected the server."""

    CHAIN = "chain"  # untrusted, expired, wrong usage, too weak, ...
    HOSTNAME_MISMATCH = "hostname_mismatch"  # trusted chain, name does not match
    PIN_MISMATCH = "pin_mismatch"  # no pinned key anywhere in the chain


class VerificationFailure(NamedTuple):
    kind: FailureKind
    message: str


def _parse(certificate: crypto.X509) -> x509.Certificate | None:
    """The certificate for `cryptography`, or None where its stricter DER parser refuses
    one that OpenSSL accepted (a BER boolean, say): OpenSSL's verdict still stands."""
    try:
        return certificate.to_cryptography()
    except (ValueError, TypeError):
        return None


def _subject_text(certificate: x509.Certificate | None) -> str:
    if certificate is None:
        return "<a certificate OpenSSL accepts but cryptography cannot parse>"
    try:
        return certificate.subject.rfc4514_string()
    except ValueError:
        return "<unprintable subject>"


def _subject_alt_names(certificate: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _common_names(certificate: x509.Certificate) -> list[str]:
    names = []
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        names.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
    return names


def _ip_literal(name: str) -> bytes | None:
    try:
        return ipaddress.ip_address(name).packed
    except ValueError:
        return None


class UncheckableName(ValueError):
    """A name no certificate check can be set up for: the connection must not start."""


#: DNS limits (RFC 1035): 63 bytes per label, 253 characters for the dotted name.
_MAX_LABEL = 63
_MAX_NAME = 253
#: Letters, digits, hyphen; and underscore, which OpenSSL accepts and container and
#: service names use. Anything else (space, slash, colon, NUL, ``*``) is no host name.
_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


def _uncheckable(name: str, why: str) -> UncheckableName:
    return UncheckableName(f"the name {name!r} cannot be checked against a certificate: {why}")


def _a_label(name: str, label: str) -> str:
    """The ASCII (A-label) form of an international label, only if it is unambiguous.

    OpenSSL compares names as ASCII, so a U-label must be encoded (IDNA, RFC 3490).
    Encoding also maps characters (full-width letters to ASCII, ``ß`` to ``ss``, where
    IDNA 2008 and browsers differ): a label that does not come back unchanged from its
    A-label names something else than what was written, and is refused.
    """
    try:
        encoded = _idna.ToASCII(label).decode("ascii")
        back = _idna.ToUnicode(encoded)
    except UnicodeError as exc:
        raise _uncheckable(name, f"{label!r} is not a valid international label ({exc})") from exc
    if back != label.lower():
        raise _uncheckable(
            name,
            f"{label!r} is not in canonical form (IDNA reads it as {back!r}); "
            f"write the label as {encoded!r}",
        )
    return encoded


def name_to_check(name: str) -> str:
    """The form of ``name`` a certificate is checked against and SNI carries.

    IP literals are returned as given (they are checked as addresses). A host name
    loses exactly one trailing dot (``game.example.`` is ``game.example``, as in
    browsers), has its U-labels encoded as A-labels and is lower-cased (OpenSSL compares
    ASCII without case). Raises :class:`UncheckableName` for every name no certificate
    can match: empty, empty labels (leading, doubled or two trailing dots; OpenSSL would
    read a leading dot as "any subdomain"), labels over 63 or names over 253 characters,
    characters outside letters, digits, ``-`` and ``_`` (``*`` included: wildcards belong
    in certificates), labels starting or ending with ``-``, and a numeric last label
    (``127.1``, ``0x7f.0.0.1``, ``127.000.000.001``), which resolvers read as an IPv4
    address in a form no certificate carries.
    """
    if _ip_literal(name) is not None:
        return name
    if not name:
        raise _uncheckable(name, "an empty name matches no certificate")
    host = name[:-1] if name.endswith(".") else name
    if not host.isascii():
        host = ".".join(
            label if label.isascii() else _a_label(name, label) for label in host.split(".")
        )
    host = host.lower()
    if len(host) > _MAX_NAME:
        raise _uncheckable(name, f"longer than {_MAX_NAME} characters")
    labels = host.split(".")
    for label in labels:
        if not label:
            raise _uncheckable(name, "empty label (a leading, doubled or second trailing dot)")
        if len(label) > _MAX_LABEL:
            raise _uncheckable(name, f"a label is longer than {_MAX_LABEL} characters")
        stray = sorted(set(label) - _LABEL_CHARACTERS)
        if "*" in stray:
            raise _uncheckable(name, "a wildcard belongs in a certificate, not in the name")
        if stray:
            raise _uncheckable(name, f"{stray[0]!r} cannot appear in a host name")
        if label.startswith("-") or label.endswith("-"):
            raise _uncheckable(name, "a label cannot start or end with '-'")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise _uncheckable(
            name, "a numeric last label reads as an IPv4 address; write one as a.b.c.d"
        )
    return host


def request_name_check(connection: SSL.Connection, name: str) -> None:
    """Make OpenSSL check ``name`` (DNS name or IP literal) against the peer's leaf.

    Raises :class:`UncheckableName` when the name cannot be checked, including when
    OpenSSL refuses it: a refused ``set1_host``/``set1_ip`` arms no check at all.
    """
    packed = _ip_literal(name)
    if packed is not None:
        armed = private.set_expected_ip(connection, packed)
    else:
        armed = private.set_expected_host(connection, name_to_check(name).encode("ascii"))
    if not armed:
        raise _uncheckable(name, "OpenSSL refused it")


def _engine_name_rules(
    certificate: x509.Certificate | None, name: str, openssl_matched: bool
) -> bool:
    """OpenSSL's verdict adjusted to mbedTLS's use of the subject CN."""
    if not name:
        return False
    if certificate is None:
        return openssl_matched
    sans = _subject_alt_names(certificate)
    if sans is None:
        # No SAN extension: the CN is the name, for IP literals too (OpenSSL only looks
        # at the CN for DNS names).
        if _ip_literal(name) is not None:
            return name in _common_names(certificate)
        return openssl_matched
    if openssl_matched and _ip_literal(name) is None and not sans.get_values_for_type(x509.DNSName):
        return False  # OpenSSL fell back to the CN although the certificate has SANs
    return openssl_matched


def spki_sha256(certificate: x509.Certificate) -> bytes:
    """SHA-256 of the certificate's DER SubjectPublicKeyInfo: what a key pin names."""
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return digest.finalize()


def _spki_sha256_of(certificate: crypto.X509) -> bytes:
    """:func:`spki_sha256` read through OpenSSL (works for any certificate it accepted)."""
    spki = crypto.dump_publickey(crypto.FILETYPE_ASN1, certificate.get_pubkey())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return digest.finalize()


def pin_text(digest: bytes) -> str:
    """A pin as HPKP writes it: ``sha256/<base64>``."""
    return "sha256/" + base64.b64encode(digest).decode("ascii")


def _name_mismatch(name: str, cert: x509.Certificate | None) -> VerificationFailure:
    return VerificationFailure(
        FailureKind.HOSTNAME_MISMATCH,
        f"certificate name mismatch: '{name}' is not a name of {_subject_text(cert)}",
    )


def _within_validity(certificate: crypto.X509) -> bool:
    """Is the certificate inside its validity period by the system's calendar clock?

    The one clock read of the core, and deliberately not the caller's ``now``: ``now`` is
    the monotonic protocol time that drives retransmissions, while a validity period is
    calendar time, which OpenSSL itself reads from the system clock when it checks the
    chain. This check decides which of two failures a certificate reports (an expired
    one with the wrong name must fail on its dates, as in OpenSSL), so it must judge the
    dates by the very clock OpenSSL uses.
    """
    not_before = (certificate.get_notBefore() or b"").decode("ascii", "replace")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")
    return not certificate.has_expired() and not_before <= now


class CertificateVerifier:
    """Per-connection state of OpenSSL's verify callback.

    ``expected_name`` is the name the leaf must carry, or None for no name check
    (``client_unsafe``). ``pins`` (SHA-256 SPKI digests) must include a key of the chain
    when given. ``check_chain`` False means pin-only trust: chain errors are ignored and
    only the pins decide. ``crl_soft_fail`` accepts a missing or expired CRL with a
    warning. The first failure is kept so the connection can report the right status
    and a clear reason after OpenSSL aborts the handshake.
    """

    __slots__ = (
        "_name_check_armed",
        "_name_error",
        "check_chain",
        "crl_soft_fail",
        "expected_name",
        "failure",
        "pins",
        "seen_keys",
    )

    def __init__(
        self,
        expected_name: str | None,
        pins: frozenset[bytes] = frozenset(),
        check_chain: bool = True,
        crl_soft_fail: bool = False,
    ) -> None:
        self.expected_name = expected_name
        self.pins = pins
        self.check_chain = check_chain
        self.crl_soft_fail = crl_soft_fail
        self.failure: VerificationFailure | None = None
        self.seen_keys: list[bytes] = []
        self._name_error = False
        self._name_check_armed = False

    def _on_name_error(self, certificate: crypto.X509, cert: x509.Certificate | None) -> bool:
        """OpenSSL found the name missing from the leaf (it checks names before dates).

        Failing right here lets OpenSSL send bad_certificate, the alert the engine sends.
        A leaf outside its validity period is left to fail on its dates instead, so an
        expired certificate reports ``STATUS_ERROR`` whatever its name.
        """
        name = self.expected_name or ""
        if _engine_name_rules(cert, name, openssl_matched=False):
            return True  # an IP literal in the CN of a certificate without SANs
        if not _within_validity(certificate):
            self._name_error = True
            return True
        self.failure = _name_mismatch(name, cert)
        return False

    def attach(self, connection: SSL.Connection) -> None:
        """Configure OpenSSL's name check on a new client connection.

        Raises :class:`UncheckableName` for a name that cannot be checked (the empty
        name included): such a connection must not start.
        """
        if self.expected_name is not None:
            request_name_check(connection, self.expected_name)
            self._name_check_armed = True

    def __call__(self, certificate: crypto.X509, errnum: int, depth: int, ok: int) -> bool:
        if self.failure is not None:
            return False
        cert = _parse(certificate)
        if self.pins:
            key = _spki_sha256_of(certificate)
            if key not in self.seen_keys:
                self.seen_keys.append(key)
        if not ok:
            if not self.check_chain:
                return True  # pin-only trust: the chain does not matter, the keys do
            if errnum in private.NAME_ERRORS:
                return self._on_name_error(certificate, cert)
            reason = describe_x509_error(errnum)
            if errnum in private.CRL_AVAILABILITY_ERRORS and self.crl_soft_fail:
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
        if name is not None and not self._name_check_armed:
            # Fail closed: without an armed check OpenSSL reports no name error at all.
            self.failure = VerificationFailure(
                FailureKind.HOSTNAME_MISMATCH,
                f"the check of the name '{name}' was never set up: certificate refused",
            )
            return False
        if name is not None and not _engine_name_rules(cert, name, not self._name_error):
            self.failure = _name_mismatch(name, cert)
            return False
        if self.pins and not any(key in self.pins for key in self.seen_keys):
            seen = ", ".join(pin_text(key) for key in self.seen_keys)
            self.failure = VerificationFailure(
                FailureKind.PIN_MISMATCH,
                f"no pinned key in the server's certificate chain (keys seen: {seen})",
            )
            return False
        return True
