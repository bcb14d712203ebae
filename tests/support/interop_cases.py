"""Case tables shared by the interop tests, so every peer is judged by the same rules.

The server always presents ``pki``'s certificate (CN/SAN ``localhost``, ``127.0.0.1``,
``::1``); a case says which PKI the client's options trust (``pki`` or the unrelated
``other_pki``), the hostname it connects with, and the status it must end in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from godot_dtls import Status, TLSOptions

__all__ = [
    "ECHO_SIZES",
    "KEY_TYPES",
    "REJECTIONS",
    "VERIFICATION_CASES",
    "VerificationCase",
    "verification_params",
]

#: Payload sizes echoed through every peer: small, one MTU, and several MTUs in one record.
ECHO_SIZES = (64, 1200, 8000)
#: (conftest fixture name, certificate key type) of the two server PKIs.
KEY_TYPES = (("pki", "ECDSA"), ("rsa_pki", "RSA"))


@dataclass(frozen=True)
class VerificationCase:
    """How a client verifying ``pki``'s server certificate must end."""

    name: str
    hostname: str
    options: Callable[[Any], TLSOptions]  # called with the PKI the client trusts
    expected: Status
    trusts_server: bool = True  # False: the options are made from ``other_pki``

    def client_options(self, pki: Any, other_pki: Any) -> TLSOptions:
        return self.options(pki if self.trusts_server else other_pki)


def _client(pki: Any) -> TLSOptions:
    return pki.client_options()  # type: ignore[attr-defined]


VERIFICATION_CASES: tuple[VerificationCase, ...] = (
    # A real name mismatch is 4 (the engine reports 3: a deliberate difference).
    VerificationCase("wrong_hostname", "wrong.example", _client, Status.ERROR_HOSTNAME_MISMATCH),
    VerificationCase("untrusted_ca", "localhost", _client, Status.ERROR, trusts_server=False),
    VerificationCase(
        "unsafe_client",
        "localhost",
        lambda pki: TLSOptions.client_unsafe(),
        Status.CONNECTED,
        trusts_server=False,
    ),
    # client_unsafe() with a chain still verifies the chain, but not the name.
    VerificationCase(
        "unsafe_with_ca_untrusted",
        "localhost",
        lambda pki: TLSOptions.client_unsafe(pki.ca_certificate()),  # type: ignore[attr-defined]
        Status.ERROR,
        trusts_server=False,
    ),
    VerificationCase(
        "unsafe_with_ca_wrong_name",
        "wrong.example",
        lambda pki: TLSOptions.client_unsafe(pki.ca_certificate()),  # type: ignore[attr-defined]
        Status.CONNECTED,
    ),
    # common_name_override replaces the hostname for the name check.
    VerificationCase(
        "override_right_name",
        "wrong.example",
        lambda pki: pki.client_options("localhost"),  # type: ignore[attr-defined]
        Status.CONNECTED,
    ),
    VerificationCase(
        "override_wrong_name",
        "localhost",
        lambda pki: pki.client_options("wrong.example"),  # type: ignore[attr-defined]
        Status.ERROR_HOSTNAME_MISMATCH,
    ),
    VerificationCase("ip_address_san", "127.0.0.1", _client, Status.CONNECTED),
    VerificationCase("hostname_case_insensitive", "LOCALHOST", _client, Status.CONNECTED),
)

#: The cases every peer's rejection test runs: the two statuses and the override path.
REJECTIONS = ("wrong_hostname", "override_wrong_name", "untrusted_ca")


def verification_params(*names: str) -> list[Any]:
    """``pytest.param`` per case (all of them when no name is given), id = case name."""
    chosen = [case for case in VERIFICATION_CASES if not names or case.name in names]
    missing = set(names) - {case.name for case in chosen}
    if missing:
        raise KeyError(f"unknown verification cases: {sorted(missing)}")
    return [pytest.param(case, id=case.name) for case in chosen]
