"""Certificates for the verification matrix, built with `cryptography` directly.

trustme makes well-formed chains only; the matrix also needs broken ones: expired and
not-yet-valid leaves, a wrong extended key usage, a key usage without digitalSignature,
an issuer that is not a CA, an intermediate CA, IP and wildcard SANs, a CN-only leaf,
a self-signed leaf, a key that does not belong to its certificate. Every key is ECDSA
P-256 (fast, and accepted at OpenSSL security level 2); signatures are SHA-256.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from godot_dtls import CryptoKey, TLSOptions, X509Certificate

__all__ = [
    "CLIENT_AUTH",
    "SERVER_AUTH",
    "Issued",
    "issue",
    "key_usage",
    "new_key",
    "root_ca",
    "server_options",
    "trust",
    "with_ber_boolean",
]

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
_DAY = datetime.timedelta(days=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A keyUsage extension with only the named bits set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def subject(self) -> x509.Name:
        return self.certificate.subject

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    issuer: Issued | None,
    common_name: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    ca: bool = False,
    path_length: int | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    extended_key_usage: Iterable[x509.ObjectIdentifier] | None = (SERVER_AUTH,),
    usage: x509.KeyUsage | None = None,
    basic_constraints: bool = True,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Issued:
    """One certificate for ``common_name``, signed by ``issuer`` (self-signed when None).

    Defaults make a valid TLS server leaf: valid from yesterday for 30 days,
    keyUsage digitalSignature, extendedKeyUsage serverAuth, CA:FALSE. A SAN is added
    only when ``dns_names`` or ``ip_addresses`` are given (no SAN: a CN-only leaf).
    ``extended_key_usage=None`` leaves the extension out; ``usage`` replaces the key usage.
    """
    key = key or new_key()
    now = _now()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_key = issuer.key if issuer is not None else key
    issuer_name = issuer.subject if issuer is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _DAY)
        .not_valid_after(not_after or now + 30 * _DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
        )
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_length), critical=True)
    if usage is None:
        usage = (
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
            if ca
            else key_usage(digital_signature=True)
        )
    builder = builder.add_extension(usage, critical=True)
    if extended_key_usage is not None and not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
        )
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def root_ca(common_name: str = "godot-dtls test root") -> Issued:
    """A self-signed root CA."""
    return issue(None, common_name, ca=True)


def trust(*certificates: Issued) -> X509Certificate:
    """An ``X509Certificate`` holding ``certificates`` (a client's trusted chain)."""
    return X509Certificate([c.certificate for c in certificates])


def server_options(
    leaf: Issued, *chain: Issued, key: ec.EllipticCurvePrivateKey | None = None
) -> TLSOptions:
    """``TLSOptions.server`` presenting ``leaf`` then ``chain``, with ``key`` (default: its own).

    The key and chain go through PEM, as a game loads them from files.
    """
    private = key if key is not None else leaf.key
    key_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain_pem = b"".join(c.pem() for c in (leaf, *chain))
    return TLSOptions.server(CryptoKey.from_pem(key_pem), X509Certificate.from_pem(chain_pem))


# ---------------------------------------------------------------- DER that only OpenSSL reads


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(encoded),)) + encoded


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _der_length(len(body)) + body


def _read_tlv(data: bytes, offset: int) -> tuple[bytes, int]:
    """The whole TLV starting at ``offset`` and the offset just past it."""
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[start : start + size], "big")
        start += size
    return data[offset : start + length], start + length


def with_ber_boolean(leaf: Issued, issuer: Issued) -> bytes:
    """``leaf`` re-signed by ``issuer`` with one critical flag encoded as BER TRUE (0x01).

    DER wants 0xFF; OpenSSL (and mbedTLS) read any non-zero byte as TRUE and verify the
    signature over the bytes as received, so the certificate is valid for them, while
    `cryptography` refuses to parse it. Returned as DER.
    """
    der = leaf.certificate.public_bytes(serialization.Encoding.DER)
    header = 2 + ((der[1] & 0x7F) if der[1] & 0x80 else 0)
    tbs, after_tbs = _read_tlv(der, header)
    algorithm, _ = _read_tlv(der, after_tbs)
    if b"\x01\x01\xff" not in tbs:
        raise ValueError("the certificate has no critical extension to re-encode")
    tbs = tbs.replace(b"\x01\x01\xff", b"\x01\x01\x01", 1)
    signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))
