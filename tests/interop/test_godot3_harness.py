"""The Godot 3 harness works: Godot's DTLS client against Godot's DTLS server.

Real ``godot3-server`` (3.2.3, mbedTLS 2.16) on both ends, on 127.0.0.1, with
certificates made by trustme. Missing binary: skipped locally, failed when CI=true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import godot_peer

trustme = pytest.importorskip("trustme")

# Every Godot test finishes in well under 20 s; 30 s is the hard stop.
GODOT_TEST_TIMEOUT = 30

STATUS_HANDSHAKING = 1
STATUS_CONNECTED = 2
STATUS_ERROR = 3


@pytest.fixture(scope="module")
def godot3() -> str:
    """Path of godot3-server; skip (or fail on CI) when it is missing."""
    return godot_peer.require_godot3()


def _write_pki(directory: Path, key_type: Any) -> dict[str, Path]:
    """A CA and a leaf for localhost/127.0.0.1, written as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(key_type=key_type)
    leaf = ca.issue_cert("localhost", "127.0.0.1", key_type=key_type)
    paths = {
        "key": directory / "key.pem",
        "cert": directory / "chain.pem",
        "ca": directory / "ca.pem",
    }
    leaf.private_key_pem.write_to_path(str(paths["key"]))
    paths["cert"].write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(paths["ca"]))
    return paths


@pytest.fixture(params=["ECDSA", "RSA"])
def pki(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Path]:
    """Server key/chain and the CA that signed them; both trustme key types work."""
    return _write_pki(tmp_path / request.param.lower(), getattr(trustme.KeyType, request.param))


def _run_pair(
    pki: dict[str, Path], **client_kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any], godot_peer.GodotProcess]:
    """Run one server (max_peers=1) and one client; return both RESULTs and the client."""
    with godot_peer.start_dtls_server(
        pki["key"], pki["cert"], duration=15, max_peers=1, ready_timeout=10
    ) as server:
        assert server.port is not None
        client_kwargs.setdefault("timeout", 10)
        with godot_peer.dtls_client_process(server.port, **client_kwargs) as client:
            client_result = client.result(timeout=15)
            assert client.wait(timeout=5) == client_result["exit_code"], client.output()
        server_result = server.result(timeout=10)
        assert server.wait(timeout=5) == server_result["exit_code"], server.output()
    return client_result, server_result, client


@pytest.mark.interop
@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_trusted_ca_echo(godot3: str, pki: dict[str, Path]) -> None:
    """Trusted CA + matching hostname: CONNECTED, every size echoed byte for byte."""
    sizes = [64, 1200, 16384]
    client, server, proc = _run_pair(pki, hostname="localhost", ca=pki["ca"], sizes=sizes, count=2)
    assert client["status"] == STATUS_CONNECTED, proc.output()
    assert proc.statuses() == [STATUS_HANDSHAKING, STATUS_CONNECTED]
    assert client["exit_code"] == 0
    assert client["echoed"] == client["expected"] == 2 * len(sizes)
    assert client["mismatches"] == 0 and client["lost"] == 0
    assert client["bytes"] == 2 * sum(sizes)
    assert len(client["rtt_us"]) == 2 * len(sizes)
    assert 0 < client["handshake_ms"] < 5000
    # The server saw exactly one cookie round, one connection and a clean close_notify.
    assert server["reason"] == "max_peers"
    assert server["cookie_rejects"] >= 1
    assert server["connections"] == server["connected"] == server["closed"] == 1
    assert server["packets"] == client["echoed"]
    assert server["bytes"] == client["bytes"]


@pytest.mark.interop
@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_wrong_hostname_is_status_3(godot3: str, tmp_path: Path) -> None:
    """Name mismatch ends in STATUS_ERROR (3) on a Godot 3.2.3 client, never 4."""
    pki = _write_pki(tmp_path, trustme.KeyType.ECDSA)
    client, server, proc = _run_pair(pki, hostname="example.com", ca=pki["ca"])
    assert client["status"] == STATUS_ERROR, proc.output()
    assert client["connect_error"] == 0  # the failure comes during poll(), not connect
    assert client["exit_code"] == godot_peer.EXIT_HANDSHAKE_FAILED
    assert any("-9984" in line for line in proc.stderr_lines + proc.lines)
    assert server["failed"] == 1 and server["connected"] == 0


@pytest.mark.interop
@pytest.mark.timeout(GODOT_TEST_TIMEOUT)
def test_untrusted_ca_is_status_3(godot3: str, tmp_path: Path) -> None:
    """A CA that did not sign the server certificate: STATUS_ERROR (3)."""
    pki = _write_pki(tmp_path / "server", trustme.KeyType.ECDSA)
    other = _write_pki(tmp_path / "other", trustme.KeyType.ECDSA)
    client, server, proc = _run_pair(pki, hostname="localhost", ca=other["ca"])
    assert client["status"] == STATUS_ERROR, proc.output()
    assert client["exit_code"] == godot_peer.EXIT_HANDSHAKE_FAILED
    assert server["failed"] == 1 and server["connected"] == 0


def test_payload_pattern_matches_gdscript() -> None:
    """The Python mirror of the GDScript payload pattern (no Godot needed)."""
    assert godot_peer.payload(0, 4) == bytes([0, 1, 2, 3])
    assert godot_peer.payload(3, 3) == bytes([3, 4, 5])
    assert godot_peer.payload(0, 253)[-2:] == bytes([0, 1])
