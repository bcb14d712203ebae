"""``Crypto``: the engine's helper for making keys and self-signed certificates.

Its methods are factories: a wrong argument raises ``TypeError`` or ``ValueError``
naming it (the engine prints an error and returns null or an empty array).

Godot scripts call ``Crypto.new().generate_rsa(2048)`` and
``generate_self_signed_certificate(key, "CN=...")`` to run a DTLS server without a
certificate authority; the same calls work here (backed by `cryptography`). The
certificate carries the name in its subject CN only, as the engine's does; clients
match it through the CN fallback used for certificates without subjectAltName.
"""

from __future__ import annotations

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .arguments import (
    ArgumentValueError,
    check_instance,
    check_int,
    check_string,
)
from .x509 import CryptoKey, X509Certificate

__all__ = ["Crypto"]

_DEFAULT_ISSUER = "CN=myserver,O=myorganisation,C=IT"
#: RSA sizes made: DTLS at security level 2 refuses smaller keys, and mbedTLS (the
#: engine's library) makes none larger (MBEDTLS_MPI_MAX_BITS).
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
#: Most random bytes in one call (a PackedByteArray's int32 size).
MAX_RANDOM_BYTES = 2**31 - 1


def _godot_time(text: str) -> datetime.datetime | None:
    """Parse the engine's ``YYYYMMDDhhmmss`` validity strings (UTC)."""
    try:
        return datetime.datetime.strptime(text, "%Y%m%d%H%M%S").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return None


class Crypto:
    """Key and certificate generation, with Godot's ``Crypto`` method names."""

    def generate_random_bytes(self, size: int) -> bytes:
        """``size`` bytes from the operating system's CSPRNG."""
        return os.urandom(check_int(size, "size", 0, MAX_RANDOM_BYTES))

    def generate_rsa(self, size: int = 2048) -> CryptoKey:
        """A new RSA private key of ``size`` bits (MIN_RSA_BITS..MAX_RSA_BITS)."""
        bits = check_int(size, "size", MIN_RSA_BITS, MAX_RSA_BITS)
        return CryptoKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    def generate_ec(self) -> CryptoKey:
        """A new P-256 private key (not in the engine; faster to make and to use)."""
        return CryptoKey(ec.generate_private_key(ec.SECP256R1()))

    def generate_self_signed_certificate(
        self,
        key: CryptoKey,
        issuer_name: str = _DEFAULT_ISSUER,
        not_before: str = "20140101000000",
        not_after: str = "20340101000000",
    ) -> X509Certificate:
        """A self-signed certificate for ``key``; ``issuer_name`` is an RFC 4514 name;
        the dates are ``YYYYMMDDhhmmss`` (UTC).

        Raises ``TypeError``/``ValueError`` naming the argument for an unusable key, a
        bad name or bad dates (the engine prints an error and returns null).
        """
        check_instance(key, CryptoKey, "key")
        private_key = key.key
        if private_key is None or key.is_public_only():
            raise ArgumentValueError("key must hold a private key")
        check_string(issuer_name, "issuer_name")
        try:
            name = x509.Name.from_rfc4514_string(issuer_name)
        except ValueError as exc:
            raise ArgumentValueError(f"issuer_name {issuer_name!r}: {exc}") from None
        if not len(name):
            raise ArgumentValueError("issuer_name must name at least one attribute")
        start = _godot_time(check_string(not_before, "not_before"))
        end = _godot_time(check_string(not_after, "not_after"))
        if start is None:
            raise ArgumentValueError(f"not_before must be YYYYMMDDhhmmss, got {not_before!r}")
        if end is None:
            raise ArgumentValueError(f"not_after must be YYYYMMDDhhmmss, got {not_after!r}")
        if end <= start:
            raise ArgumentValueError("not_after must be later than not_before")
        # Ed25519 and Ed448 sign without a separate hash; other key kinds sign with SHA-256.
        eddsa = isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey))
        try:
            builder = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(private_key.public_key())  # type: ignore[union-attr, arg-type]
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            )
            certificate = builder.sign(
                private_key,  # type: ignore[arg-type]
                None if eddsa else hashes.SHA256(),
            )
        except (TypeError, ValueError) as exc:
            raise ArgumentValueError(f"key cannot sign a certificate: {exc}") from None
        return X509Certificate([certificate])
