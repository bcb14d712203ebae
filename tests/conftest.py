"""Shared fixtures: a test PKI made with trustme, written to disk and as godot_dtls objects."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from godot_dtls import CryptoKey, TLSOptions, X509Certificate


@dataclass
class TestPKI:
    """A CA, a server certificate for localhost / 127.0.0.1 / ::1, and their files."""

    ca: trustme.CA
    server_cert: trustme.LeafCert
    directory: Path

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "server.key"

    @property
    def cert_path(self) -> Path:
        return self.directory / "server-chain.pem"

    def ca_certificate(self) -> X509Certificate:
        return X509Certificate.from_pem(self.ca.cert_pem.bytes())

    def server_key(self) -> CryptoKey:
        return CryptoKey.from_pem(self.server_cert.private_key_pem.bytes())

    def server_chain(self) -> X509Certificate:
        return X509Certificate.from_pem(
            b"".join(p.bytes() for p in self.server_cert.cert_chain_pems)
        )

    def server_options(self) -> TLSOptions:
        return TLSOptions.server(self.server_key(), self.server_chain())

    def client_options(self, common_name_override: str = "") -> TLSOptions:
        return TLSOptions.client(self.ca_certificate(), common_name_override)


def make_pki(directory: Path, key_type: trustme.KeyType = trustme.KeyType.ECDSA) -> TestPKI:
    ca = trustme.CA(key_type=key_type)
    server_cert = ca.issue_cert("localhost", "127.0.0.1", "::1", key_type=key_type)
    directory.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    server_cert.private_key_pem.write_to_path(str(directory / "server.key"))
    (directory / "server-chain.pem").write_bytes(
        b"".join(p.bytes() for p in server_cert.cert_chain_pems)
    )
    return TestPKI(ca, server_cert, directory)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def rsa_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki-rsa"), trustme.KeyType.RSA)


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """A second, unrelated CA: its certificates are untrusted by ``pki``'s clients."""
    return make_pki(tmp_path_factory.mktemp("pki-other"))


@pytest.fixture
def dtls_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="godot_dtls")
    return caplog


@pytest.fixture(params=["ecdsa", "rsa"])
def key_type(request: pytest.FixtureRequest) -> str:
    """The server certificate's key type."""
    return str(request.param)


@pytest.fixture
def server_pki(key_type: str, request: pytest.FixtureRequest) -> TestPKI:
    """``pki`` (ECDSA) or ``rsa_pki`` from conftest, following ``key_type``."""
    return request.getfixturevalue("pki" if key_type == "ecdsa" else "rsa_pki")
