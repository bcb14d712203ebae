"""The name check fails closed: a hostname that cannot be checked never connects.

The server presents a certificate for ``game.example`` (and its punycode sibling
``xn--bcher-kva.example``) signed by the CA the client trusts, so only the name check
stands between a wrong name and a connection. Every odd name is tried through the real
API over loopback UDP (``PacketPeerDTLS`` against an ``EchoServer``) and must either be
refused by ``connect_to_peer`` (``ERR_INVALID_PARAMETER``, with a message) or end in
``STATUS_ERROR_HOSTNAME_MISMATCH``; the right name, with one trailing dot or in upper
case, still connects. The command line is checked too, as a subprocess with a deadline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import trustme

from godot_dtls import (
    CryptoKey,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    X509Certificate,
)
from godot_dtls.core.verification import CertificateVerifier
from godot_dtls.tools.serve import EchoServer
from support.loopback import serving
from support.polling import poll_until

V4 = "127.0.0.1"
CLI_DEADLINE = 60.0

#: The outcome a name must have: refused at connect_to_peer, or a name mismatch.
REFUSED = "refused"
MISMATCH = "mismatch"

LONG_NAME_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 53, "example"])
LONG_NAME_254 = "e" + LONG_NAME_253

ODD_NAMES: list[tuple[str, str]] = [
    # dots
    ("evil.example.", MISMATCH),  # one trailing dot is the same name as evil.example
    ("game.example..", REFUSED),
    ("evil..example", REFUSED),
    (".example", REFUSED),  # OpenSSL reads a leading dot as "any subdomain of"
    (".game.example", REFUSED),
    (".", REFUSED),
    ("..", REFUSED),
    ("", REFUSED),
    # characters a host name cannot hold
    ("-evil.example", REFUSED),
    ("evil-.example", REFUSED),
    ("evil example", REFUSED),
    (" game.example", REFUSED),
    ("game.example ", REFUSED),
    ("game.example\n", REFUSED),
    ("game.example\x00", REFUSED),
    ("game.example\x00.evil", REFUSED),
    ("evil.example/x", REFUSED),
    ("game.example/x", REFUSED),
    ("game.example:4433", REFUSED),
    ("game.example@evil", REFUSED),
    # lengths
    ("a" * 64 + ".example", REFUSED),
    ("x" * 250, REFUSED),
    (LONG_NAME_253, MISMATCH),
    (LONG_NAME_254, REFUSED),
    ("g" * 300 + ".example", REFUSED),
    # wildcards are a certificate's business, never a name to connect to
    ("*.example", REFUSED),
    ("*", REFUSED),
    ("game.*", REFUSED),
    ("g*.example", REFUSED),
    # case and international names
    ("EVIL.EXAMPLE", MISMATCH),
    ("xn--evil-zwa.example", MISMATCH),
    ("bÜcher.evil", MISMATCH),
    (
        "\uff47\uff41\uff4d\uff45.example",
        REFUSED,
    ),  # full-width letters: not the canonical form of any name
    ("faß.example", REFUSED),  # IDNA 2003 and 2008 disagree on ß: ambiguous, refused
    ("game.exam\u0440le", MISMATCH),  # a Cyrillic homograph is another name
    # IP literals, in standard and odd forms
    ("127.0.0.1", MISMATCH),
    ("::1", MISMATCH),
    ("::ffff:127.0.0.1", MISMATCH),
    ("0:0:0:0:0:0:0:1", MISMATCH),
    ("[::1]", REFUSED),
    ("127.1", REFUSED),
    ("0x7f.0.0.1", REFUSED),
    ("127.000.000.001", REFUSED),
    ("2130706433", REFUSED),
    ("1.2.3.4.5", REFUSED),
]

GOOD_NAMES = [
    "game.example",
    "game.example.",
    "GAME.EXAMPLE",
    "Game.Example.",
    "xn--bcher-kva.example",
    "bücher.example",
    "BÜCHER.EXAMPLE.",
]


@pytest.fixture(scope="module")
def game_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("game-pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, path


@pytest.fixture(scope="module")
def game_server(game_ca) -> Iterator[EchoServer]:
    ca, _path = game_ca
    leaf = ca.issue_cert("game.example", "xn--bcher-kva.example")
    key = CryptoKey.from_pem(leaf.private_key_pem.bytes())
    chain = X509Certificate.from_pem(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    options = TLSOptions.server(key, chain)
    server = EchoServer(options, max_pending_connections=64)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trusting(game_ca) -> TLSOptions:
    ca, _path = game_ca
    return TLSOptions.client(X509Certificate.from_pem(ca.cert_pem.bytes()))


def attempt(server: EchoServer, options: TLSOptions, name: str) -> tuple[Error, PacketPeerDTLS]:
    """connect_to_peer with ``name``; when it is accepted, poll until the handshake ends."""
    udp = PacketPeerUDP()
    assert udp.connect_to_host(V4, server.port) == Error.OK
    client = PacketPeerDTLS()
    client.udp = udp  # type: ignore[attr-defined]
    error = client.connect_to_peer(udp, name, options)
    if error == Error.OK:
        poll_until(
            server,
            client,
            until=lambda: client.get_status() is not Status.HANDSHAKING,
            fds=[udp.fileno(), server.fileno()],
        )
    return error, client


@pytest.mark.parametrize(("name", "outcome"), ODD_NAMES, ids=[repr(n)[:40] for n, _ in ODD_NAMES])
def test_an_odd_name_never_connects_to_a_trusted_certificate_for_another_name(
    game_server, trusting, name, outcome, dtls_log
):
    error, client = attempt(game_server, trusting, name)
    assert client.get_status() is not Status.CONNECTED
    if outcome == REFUSED:
        assert error == Error.ERR_INVALID_PARAMETER
        assert client.get_status() is Status.DISCONNECTED
        message = client.get_last_error_message()
        # A NUL is refused by the argument rule before the name rules look at it.
        reason = "NUL character" if "\x00" in name else "cannot be checked"
        assert reason in message, message
        assert any(message in record.getMessage() for record in dtls_log.records)
    else:
        assert error == Error.OK
        assert client.get_status() is Status.ERROR_HOSTNAME_MISMATCH
        assert "mismatch" in client.get_last_error_message()


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_the_right_name_connects_in_any_case_and_with_one_trailing_dot(game_server, trusting, name):
    error, client = attempt(game_server, trusting, name)
    assert error == Error.OK
    assert client.get_status() is Status.CONNECTED, client.get_last_error_message()
    client.disconnect_from_peer()


def test_the_override_name_is_held_to_the_same_rules(game_server, game_ca):
    ca, _path = game_ca
    chain = X509Certificate.from_pem(ca.cert_pem.bytes())
    with pytest.raises(ValueError, match=r"common_name_override.*cannot be checked"):
        TLSOptions.client(chain, "evil.example/x")  # refused when made, not when used
    error, client = attempt(game_server, TLSOptions.client(chain, "game.example."), "x")
    assert error == Error.OK and client.get_status() is Status.CONNECTED
    client.disconnect_from_peer()


def test_a_name_check_that_was_never_set_up_fails_the_handshake(game_server, trusting, monkeypatch):
    """The guard at the OpenSSL boundary: a verifier whose name check was not armed
    (as if OpenSSL had refused it without a word) rejects the leaf instead of skipping."""

    class Unarmed(CertificateVerifier):
        __slots__ = ()

        def attach(self, connection) -> None:  # the check is never handed to OpenSSL
            return None

    monkeypatch.setattr("godot_dtls.api.dtls_peer.CertificateVerifier", Unarmed)
    error, client = attempt(game_server, trusting, "evil.example")
    assert error == Error.OK
    assert client.get_status() is Status.ERROR_HOSTNAME_MISMATCH
    assert "never set up" in client.get_last_error_message()


def run_cli_connect(port: int, ca_path: Path, hostname: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "godot_dtls",
        "connect",
        V4,
        str(port),
        "--ca",
        str(ca_path),
        "--hostname",
        hostname,
        "--send",
        "hello",
        "--timeout",
        "10",
    ]
    # subprocess.run kills the child by its PID when the deadline passes.
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_DEADLINE,
        check=False,
    )


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("evil.example.", "handshake failed (ERROR_HOSTNAME_MISMATCH)"),
        ("evil..example", "connect_to_peer failed: ERR_INVALID_PARAMETER"),
        ("*.example", "connect_to_peer failed: ERR_INVALID_PARAMETER"),
        (".example", "connect_to_peer failed: ERR_INVALID_PARAMETER"),
    ],
)
def test_cli_connect_with_an_odd_hostname_does_not_connect(
    game_server, game_ca, hostname, expected
):
    _ca, ca_path = game_ca
    with serving(game_server):
        done = run_cli_connect(game_server.port, ca_path, hostname)
    assert done.returncode != 0, done.stdout
    assert "status CONNECTED" not in done.stdout
    assert "reply: hello" not in done.stdout
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_cli_connect_with_the_right_name_and_a_trailing_dot_connects(game_server, game_ca):
    _ca, ca_path = game_ca
    with serving(game_server):
        done = run_cli_connect(game_server.port, ca_path, "game.example.")
    assert done.returncode == 0, done.stderr
    assert "reply: hello" in done.stdout
