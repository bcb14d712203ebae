"""The benchmark's certificates: a CA and a server certificate for localhost / 127.0.0.1.

Every pair uses the same files, so the four pairs negotiate with the same key type and
verify the same chain: the server presents the leaf, the clients trust the CA and check
the name "localhost". ``rsa`` (2048 bits, what Godot's ``Crypto.generate_rsa`` makes)
is the default; ``ecdsa`` (P-256) is the faster alternative.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import CryptoKey, X509Certificate

__all__ = ["KEY_TYPES", "BenchPKI", "make_pki"]

#: Key types the benchmark can use for the CA and the server certificate.
KEY_TYPES = ("rsa", "ecdsa")
#: The name every client connects to (SNI and certificate check).
HOSTNAME = "localhost"

_PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class BenchPKI:
    """Paths of the PEM files, and the TLS options the godot-dtls peers use."""

    directory: Path
    key_type: str

    @property
    def ca_path(self) -> Path:
        """The CA certificate the clients trust."""
        return self.directory / "ca.pem"

    @property
    def key_path(self) -> Path:
        """The server's private key."""
        return self.directory / "server-key.pem"

    @property
    def cert_path(self) -> Path:
        """The server's certificate (the leaf only: the clients hold the CA)."""
        return self.directory / "server-cert.pem"

    def server_options(self) -> TLSOptions:
        """``TLSOptions.server(key, certificate)`` read from the files."""
        key = CryptoKey.from_pem(self.key_path.read_bytes())
        return TLSOptions.server(key, X509Certificate.from_pem(self.cert_path.read_bytes()))

    def client_options(self) -> TLSOptions:
        """``TLSOptions.client(ca)``: chain and name are checked, as in a real game."""
        return TLSOptions.client(X509Certificate.from_pem(self.ca_path.read_bytes()))


def _new_key(key_type: str) -> _PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity() -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)


def make_pki(directory: Path, key_type: str = "rsa") -> BenchPKI:
    """Make a CA and a server certificate signed by it, and write them to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    not_before, not_after = _validity()
    ca_key = _new_key(key_type)
    ca_name = _name("godot-dtls bench CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _new_key(key_type)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(HOSTNAME))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOSTNAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = BenchPKI(directory, key_type)
    pki.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    pki.key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki
