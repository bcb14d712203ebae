"""``Crypto``: the engine's helper for making keys and self-signed certificates.

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
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from godot_dtls.core.log import logger

from .x509 import CryptoKey, X509Certificate

__all__ = ["Crypto"]

_DEFAULT_ISSUER = "CN=myserver,O=myorganisation,C=IT"


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
        return os.urandom(size)

    def generate_rsa(self, size: int = 2048) -> CryptoKey:
        """A new RSA private key of ``size`` bits (2048 or more for DTLS)."""
        return CryptoKey(rsa.generate_private_key(public_exponent=65537, key_size=size))

    def generate_ec(self) -> CryptoKey:
        """A new P-256 private key (not in the engine; faster to make and to use)."""
        return CryptoKey(ec.generate_private_key(ec.SECP256R1()))

    def generate_self_signed_certificate(
        self,
        key: CryptoKey,
        issuer_name: str = _DEFAULT_ISSUER,
        not_before: str = "20140101000000",
        not_after: str = "20340101000000",
    ) -> X509Certificate | None:
        """A self-signed certificate for ``key``; ``issuer_name`` is an RFC 4514 name.

        Returns None (and logs why) for a bad name, bad dates or an unusable key.
        """
        private_key = key.key if isinstance(key, CryptoKey) else None
        if private_key is None or key.is_public_only():
            logger.error("generate_self_signed_certificate needs a private key")
            return None
        try:
            name = x509.Name.from_rfc4514_string(issuer_name)
        except ValueError as exc:
            logger.error("Invalid issuer name '%s': %s", issuer_name, exc)
            return None
        start, end = _godot_time(not_before), _godot_time(not_after)
        if start is None or end is None or end <= start:
            logger.error("Invalid validity period '%s' - '%s'", not_before, not_after)
            return None
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())  # type: ignore[union-attr]
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        )
        certificate = builder.sign(private_key, hashes.SHA256())  # type: ignore[arg-type]
        return X509Certificate([certificate])
