"""Interop: godot_dtls against GnuTLS' command line tools (``gnutls-bin``, GnuTLS 3.7.9).

Both directions on 127.0.0.1 UDP, with the trustme certificates of ``conftest.py``:

* our ``PacketPeerDTLS`` client against ``gnutls-serv --udp --echo`` (ECDSA and RSA
  certificates): handshake, echo of 64 / 1200 / 8000-byte packets compared byte for
  byte, our close_notify; a wrong name ends in status 4, an unknown CA in status 3;
* ``gnutls-serv --mtu 256``: its fragmented handshake reassembled by our client;
* ``gnutls-cli --udp`` against our ``EchoServer`` (polled in a background thread):
  chain and name (``localhost``, or the IP SAN) verified by GnuTLS, typed lines echoed
  (up to 8000 bytes with a large ``--mtu``), close; both ClientHellos fragmented
  (``--mtu 150``); DTLS 1.0 only (``--priority NORMAL:-VERS-ALL:+VERS-DTLS1.0``)
  refused with protocol_version, CBC-only / RSA / DHE offers with handshake_failure;
  renegotiation (``-e``) answered with no_renegotiation; PSK with
  ``TLSOptions.server_psk``.

What GnuTLS does that shapes these tests (see ``gnutls_peer.py`` for the sources):

* ``gnutls-serv``'s UDP echo loop reads into a 255-byte buffer, so it echoes at most
  254 bytes per record: a 1200-byte packet comes back as 5 packets (4 x 254 + 184),
  an 8000-byte one as 32. The tests check the pieces' sizes and that their
  concatenation is the packet sent.
* A GnuTLS DTLS client ignores fatal alerts during the handshake and keeps
  retransmitting: a refused ``gnutls-cli`` is observed at debug level 5
  (``Alert[2|70] - Error in protocol version - was received``) and stopped by PID.
* GnuTLS paces its own handshakes: against ``gnutls-serv`` our client's handshake
  takes about 155 ms on loopback (the server's flight comes 50 ms after the cookie
  exchange and its Finished 100 ms after ours), against ``openssl s_server`` a few ms.
* ``gnutls-cli`` 3.7.9 segfaults right after an ECDHE-PSK handshake (in its own
  ``print_info``; the same happens against ``gnutls-serv``). The ECDHE-PSK case checks
  the handshake on both sides and is reported as xfail when that crash happens; plain
  PSK (``--priority NORMAL:-KX-ALL:+PSK``) is checked end to end.

The negotiated suites (ours, in OpenSSL's names, and gnutls-cli's description) and the
handshake times are printed (``pytest -s``) and kept with ``record_property``. Every
wait has a deadline. A missing ``gnutls-serv`` / ``gnutls-cli``: skipped locally,
failed when ``CI=true``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import time
from typing import TYPE_CHECKING, Callable

import pytest

from godot_dtls import Error, Status, TLSOptions
from support import gnutls_peer
from support.interop_cases import ECHO_SIZES, REJECTIONS, VerificationCase, verification_params
from support.interop_support import (
    DATA_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    WatchedEchoServer,
    polled_client,
    report,
)

if TYPE_CHECKING:
    from conftest import TestPKI

#: Hard stop per test (pytest-timeout); every test is designed to end far sooner.
GNUTLS_TEST_TIMEOUT = 30

pytestmark = [pytest.mark.interop, pytest.mark.timeout(GNUTLS_TEST_TIMEOUT)]

#: Deadline for a GnuTLS process to print an expected line or to exit.
PROCESS_TIMEOUT = 5.0

#: The key exchange / signature part every negotiated suite must have, per key type.
SUITE_PREFIX = {"ecdsa": "ECDHE-ECDSA-", "rsa": "ECDHE-RSA-"}

#: Packet sizes echoed through gnutls-serv.

PSK_IDENTITY = "player-1"
PSK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


# ---------------------------------------------------------------------------- fixtures


def _require(name: str) -> str:
    binary = gnutls_peer.gnutls_binary(name)
    if binary is None:
        message = f"{name} not installed (apt-get install gnutls-bin)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def gnutls_serv() -> str:
    """Path of gnutls-serv; skip (or fail on CI) when it is missing."""
    binary = _require(gnutls_peer.GNUTLS_SERV)
    print(f"\n{binary}: {gnutls_peer.gnutls_version(binary)}")
    return binary


@pytest.fixture(scope="module")
def gnutls_cli() -> str:
    """Path of gnutls-cli; skip (or fail on CI) when it is missing."""
    binary = _require(gnutls_peer.GNUTLS_CLI)
    print(f"\n{binary}: {gnutls_peer.gnutls_version(binary)}")
    return binary


# ------------------------------------------------------------------- godot_dtls client


# ------------------------------------------------------------------ godot_dtls server


# ----------------------------------------------------- 1. our client -> gnutls-serv


def test_client_to_gnutls_serv_echo(
    gnutls_serv: str,
    server_pki: TestPKI,
    key_type: str,
    record_property: Callable[[str, object], None],
) -> None:
    """Handshake, packets echoed byte for byte (in gnutls-serv's 254-byte pieces), and
    our close_notify read by gnutls-serv as the end of the session."""
    chunk = gnutls_peer.GNUTLS_SERV_ECHO_CHUNK
    with gnutls_peer.start_gnutls_serv(
        server_pki.cert_path, server_pki.key_path, binary=gnutls_serv
    ) as server, polled_client() as client:
        status = client.connect(server.port, "localhost", server_pki.client_options())
        assert status is Status.CONNECTED, (
            f"{client.peer.get_last_error_message()}\n{server.output()}"
        )
        assert client.statuses == [Status.HANDSHAKING, Status.CONNECTED]
        stats = client.peer.get_stats()
        assert stats["version"] == "DTLSv1.2"
        assert client.cipher().startswith(SUITE_PREFIX[key_type]), stats
        # gnutls-serv always asks for a cookie: ClientHello twice, then the last flight.
        assert stats["datagrams_sent"] == 3, stats
        report(record_property, f"godot_dtls -> gnutls-serv ({key_type}) cipher", client.cipher())
        report(record_property, "handshake_ms", round(client.handshake_seconds * 1000, 2))

        for size in ECHO_SIZES:
            payload = bytes((index * 31 + size) % 256 for index in range(size))
            started = time.perf_counter()
            assert client.peer.put_packet(payload) == Error.OK
            pieces = client.receive_bytes(size)
            elapsed_ms = (time.perf_counter() - started) * 1000
            assert b"".join(pieces) == payload
            assert [len(piece) for piece in pieces] == [
                min(chunk, size - offset) for offset in range(0, size, chunk)
            ]
            assert len(pieces) == math.ceil(size / chunk)
            print(f"{size} B echoed as {len(pieces)} packet(s) in {elapsed_ms:.1f} ms")
            record_property(f"echo_{size}_packets", len(pieces))

        # A packet of exactly gnutls-serv's buffer size comes back whole.
        exact = bytes(range(chunk))
        assert client.peer.put_packet(exact) == Error.OK
        assert client.receive_bytes(chunk) == [exact]

        client.peer.disconnect_from_peer()
        assert client.peer.get_status() is Status.DISCONNECTED
        assert client.peer.get_stats()["alerts_sent"] == ["close_notify"]
        if server.line_buffered:
            server.wait_for(r"^EOF$", PROCESS_TIMEOUT, stream="stdout")
        assert not server.find_all(r"^Error in", stream="stderr"), server.output()
        assert server.returncode is None, server.output()  # still serving


@pytest.mark.parametrize("case", verification_params(*REJECTIONS))
def test_client_rejects_gnutls_serv_certificate(
    gnutls_serv: str, pki: TestPKI, other_pki: TestPKI, case: VerificationCase
) -> None:
    """A wrong name ends in status 4, an unknown CA in status 3; gnutls-serv receives our
    fatal alert and its handshake fails."""
    hostname, expected = case.hostname, case.expected
    options = case.client_options(pki, other_pki)
    with gnutls_peer.start_gnutls_serv(
        pki.cert_path, pki.key_path, binary=gnutls_serv
    ) as server, polled_client() as client:
        status = client.connect(server.port, hostname, options)
        assert status == expected, f"{client.peer.get_last_error_message()}\n{server.output()}"
        assert int(status) == (4 if expected is Status.ERROR_HOSTNAME_MISMATCH else 3)
        message = client.peer.get_last_error_message()
        if expected is Status.ERROR_HOSTNAME_MISMATCH:
            assert "mismatch" in message
        else:
            assert "unable to get local issuer certificate" in message
        assert client.statuses == [Status.HANDSHAKING, expected]
        assert client.peer.get_stats()["alerts_sent"], "no alert recorded as sent"
        # An error status is final.
        client.peer.poll()
        assert client.peer.get_status() == expected
        server.wait_for(
            r"^Error in handshake\(\): A TLS fatal alert has been received",
            PROCESS_TIMEOUT,
            stream="stderr",
        )


# --------------------------------------------------- 2. gnutls-cli -> our EchoServer


def _cli_session(client: gnutls_peer.GnuTLSProcess) -> str:
    """Wait until gnutls-cli has verified the server and is ready for input; returns
    its session description."""
    client.wait_for(r"^- Simple Client Mode:", HANDSHAKE_TIMEOUT, stream="stdout")
    assert client.find(r"^- Status: The certificate is trusted\.", stream="stdout"), client.output()
    assert client.find(r"^- Handshake was completed", stream="stdout"), client.output()
    description = gnutls_peer.negotiated_description(client)
    assert description is not None, client.output()
    return description


def _echo_line(client: gnutls_peer.GnuTLSProcess, line: str) -> float:
    """Type ``line`` into gnutls-cli and wait for it to come back; returns seconds."""
    mark = client.mark()
    started = time.perf_counter()
    client.write_line(line)
    client.wait_for(f"^{re.escape(line)}$", DATA_TIMEOUT, stream="stdout", start=mark)
    return time.perf_counter() - started


@pytest.mark.parametrize(
    "verify_hostname", ["localhost", None], ids=["verify-localhost", "verify-ip-san"]
)
def test_gnutls_cli_to_echo_server(
    gnutls_cli: str,
    server_pki: TestPKI,
    key_type: str,
    verify_hostname: str | None,
    record_property: Callable[[str, object], None],
) -> None:
    """gnutls-cli verifies chain and name (``localhost``, or the IP SAN of the host
    operand 127.0.0.1), gets its lines echoed and closes: our peer ends DISCONNECTED."""
    echo = WatchedEchoServer(server_pki.server_options())
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port,
        ca=server_pki.ca_path,
        verify_hostname=verify_hostname,
        sni_hostname=verify_hostname,
        binary=gnutls_cli,
    ) as client:
        description = _cli_session(client)
        assert description.startswith("(DTLS1.2-X.509)"), description
        echo.wait_until(lambda: Status.CONNECTED in echo.statuses(), DATA_TIMEOUT, "CONNECTED")
        cipher = echo.ciphers[1]
        assert cipher.startswith(SUITE_PREFIX[key_type]), cipher
        report(record_property, f"gnutls-cli -> EchoServer ({key_type}) description", description)
        report(record_property, f"gnutls-cli -> EchoServer ({key_type}) cipher", cipher)
        print(f"gnutls-cli start to verified session: {client.elapsed * 1000:.1f} ms")

        rtt = _echo_line(client, f"hello from gnutls-cli ({key_type})")
        print(f"gnutls-cli line echoed in {rtt * 1000:.1f} ms")
        record_property("echo_ms", round(rtt * 1000, 2))
        # gnutls-cli's default MTU (1200) leaves room for about 1150 bytes a record.
        _echo_line(client, "a longer line, " + "y" * 985)

        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )
        assert echo.statuses() == [Status.CONNECTED, Status.DISCONNECTED]
        assert echo.server.connections == 1
        assert echo.server.cookie_exchanges == 1
        assert echo.server.packets_echoed == 2
        assert not client.find_all(r"\*\*\* ", stream="stderr"), client.output()


def test_gnutls_cli_large_records_to_echo_server(
    gnutls_cli: str, pki: TestPKI, record_property: Callable[[str, object], None]
) -> None:
    """With ``--mtu 9000`` gnutls-cli sends records of up to 4 kB (its stdin buffer):
    an 8000-byte line crosses as two records and comes back whole."""
    echo = WatchedEchoServer(pki.server_options())
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port,
        ca=pki.ca_path,
        verify_hostname="localhost",
        sni_hostname="localhost",
        extra=["--mtu", "9000"],
        binary=gnutls_cli,
    ) as client:
        _cli_session(client)
        line = "".join(chr(ord("a") + index % 26) for index in range(8000))
        _echo_line(client, line)
        assert echo.server.bytes_echoed == len(line) + 1  # with the newline
        record_property("records_for_8001_bytes", echo.server.packets_echoed)
        print(f"\n8001 bytes from gnutls-cli in {echo.server.packets_echoed} records")
        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()


def test_gnutls_cli_fragmented_client_hello(gnutls_cli: str, rsa_pki: TestPKI) -> None:
    """With ``--mtu 150`` gnutls-cli splits both ClientHellos (before and after the
    cookie) into two fragments, each in its own datagram: our stateless cookie check
    and the handshake reassemble them."""
    echo = WatchedEchoServer(rsa_pki.server_options())
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port,
        ca=rsa_pki.ca_path,
        verify_hostname="localhost",
        extra=["--mtu", "150"],
        debug=6,
        binary=gnutls_cli,
    ) as client:
        _cli_session(client)
        fragments = client.find_all(r"Sending Packet\[\d+\] fragment CLIENT HELLO\(1\)")
        # Two ClientHellos (message sequence 0 and 1), each in two fragments.
        assert len(fragments) == 4, client.output()
        assert sum("offset: 0," in line for line in fragments) == 2, fragments
        _echo_line(client, "fragmented hello")
        assert echo.server.cookie_exchanges == 1
        assert echo.server.connections == 1
        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()


def test_client_to_gnutls_serv_small_mtu(gnutls_serv: str, rsa_pki: TestPKI) -> None:
    """gnutls-serv ``--mtu 256`` fragments its RSA Certificate message over several
    datagrams; our client reassembles it."""
    with gnutls_peer.start_gnutls_serv(
        rsa_pki.cert_path, rsa_pki.key_path, mtu=256, binary=gnutls_serv
    ) as server, polled_client() as client:
        status = client.connect(server.port, "localhost", rsa_pki.client_options())
        assert status is Status.CONNECTED, (
            f"{client.peer.get_last_error_message()}\n{server.output()}"
        )
        stats = client.peer.get_stats()
        # HelloVerifyRequest, then ServerHello..ServerHelloDone in ≥ 5 datagrams, then
        # ChangeCipherSpec + Finished.
        assert stats["datagrams_received"] >= 7, stats
        assert client.peer.put_packet(b"small mtu") == Error.OK
        assert client.receive_bytes(9) == [b"small mtu"]


#: Offers our server must refuse: (priority, alert number, GnuTLS' text of the alert).
REFUSED_OFFERS = {
    "dtls1.0": ("NORMAL:-VERS-ALL:+VERS-DTLS1.0", 70, "Error in protocol version"),
    "cbc-only": ("NORMAL:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC", 40, "Handshake failed"),
    "rsa-key-exchange": ("NORMAL:-KX-ALL:+RSA", 40, "Handshake failed"),
    "dhe-only": ("NORMAL:-KX-ALL:+DHE-RSA", 40, "Handshake failed"),
}


@pytest.mark.parametrize("offer", list(REFUSED_OFFERS))
def test_gnutls_cli_refused(
    gnutls_cli: str,
    pki: TestPKI,
    offer: str,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    """gnutls-cli offering only DTLS 1.0 (``--priority NORMAL:-VERS-ALL:+VERS-DTLS1.0``)
    gets a protocol_version alert after the cookie exchange; offering only CBC suites,
    RSA or DHE key exchange (no ECDHE + AEAD) gets handshake_failure. No session is made
    and the server goes on serving DTLS 1.2 clients.

    GnuTLS ignores the fatal alert (unauthenticated, during a DTLS handshake) and would
    retransmit for a minute, so its debug log shows the alert and it is stopped by PID.
    """
    priority, number, text = REFUSED_OFFERS[offer]
    caplog.set_level(logging.ERROR, logger="godot_dtls")
    echo = WatchedEchoServer(pki.server_options())
    with echo.running():
        with gnutls_peer.gnutls_cli_process(
            echo.port,
            ca=pki.ca_path,
            verify_hostname="localhost",
            priority=priority,
            debug=5,
            binary=gnutls_cli,
        ) as client:
            if offer == "dtls1.0":
                client.wait_for(r"Adv\. version: 254\.255", PROCESS_TIMEOUT, stream="stderr")
            alert = client.wait_for(
                r"Alert\[(\d+)\|(\d+)\] - (.*) - was received", PROCESS_TIMEOUT, stream="stderr"
            )
            assert alert.groups() == ("2", str(number), text), alert.group(0)
            # It keeps retransmitting its ClientHello: no session, still running.
            time.sleep(0.2)
            assert client.returncode is None, client.output()
            assert not client.find(r"Handshake was completed"), client.output()
            record_property(f"{offer} refusal", alert.group(0))
            print(f"\ngnutls-cli {priority}: {alert.group(0)}")
        assert Status.CONNECTED not in echo.statuses()
        assert echo.server.connections == 0
        assert echo.server.packets_echoed == 0
        reason = "unsupported protocol" if offer == "dtls1.0" else "no shared cipher"
        assert any(reason in record.getMessage() for record in caplog.records), [
            record.getMessage() for record in caplog.records
        ]

        with gnutls_peer.gnutls_cli_process(
            echo.port, ca=pki.ca_path, verify_hostname="localhost", binary=gnutls_cli
        ) as after:
            assert _cli_session(after).startswith("(DTLS1.2-")
            _echo_line(after, "still serving DTLS 1.2")


def test_gnutls_cli_renegotiation_is_refused(gnutls_cli: str, pki: TestPKI) -> None:
    """``gnutls-cli -e`` asks for a renegotiation right after the handshake: our server
    answers with a no_renegotiation warning (alert 100) and the connection stays up.

    (GnuTLS then waits for a ServerHello that never comes until its own timeout, so
    the client is stopped by PID.)"""
    echo = WatchedEchoServer(pki.server_options())
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port, ca=pki.ca_path, verify_hostname="localhost", extra=["-e"], binary=gnutls_cli
    ) as client:
        _cli_session(client)
        client.wait_for(
            r"^\*\*\* Received alert \[100\]: No renegotiation is allowed",
            PROCESS_TIMEOUT,
            stream="stdout",
        )
        time.sleep(0.1)
        assert echo.statuses() == [Status.CONNECTED]
        assert echo.server.connections == 1
        assert len(echo.server.peers) == 1


@pytest.mark.parametrize("priority", ["NORMAL:+ECDHE-PSK:+PSK", "NORMAL:-KX-ALL:+PSK"])
def test_gnutls_cli_with_a_wrong_psk_gets_bad_record_mac(
    gnutls_cli: str, priority: str, record_property: Callable[[str, object], None]
) -> None:
    """gnutls-cli whose pre-shared key differs: our server cannot decrypt its Finished
    nor the retransmission and ends the handshake with bad_record_mac within seconds.
    (GnuTLS ignores fatal alerts during a DTLS handshake, see above: its debug log shows
    the alert and it is stopped by PID.)"""
    echo = WatchedEchoServer(TLSOptions.server_psk({PSK_IDENTITY: PSK_KEY}))
    started = time.monotonic()
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port, priority=priority, psk=(PSK_IDENTITY, b"\x42" * 16), debug=5, binary=gnutls_cli
    ) as client:
        alert = client.wait_for(
            r"Alert\[(\d+)\|(\d+)\] - (.*) - was received", 20.0, stream="stderr"
        )
        assert alert.groups()[:2] == ("2", "20"), alert.group(0)  # fatal bad_record_mac
        echo.wait_until(lambda: Status.ERROR in echo.statuses(), DATA_TIMEOUT, "ERROR")
        report(record_property, f"gnutls-cli {priority} wrong PSK", alert.group(0))
    report(
        record_property,
        f"gnutls-cli {priority} wrong PSK: server ended after (s)",
        time.monotonic() - started,
    )
    assert Status.CONNECTED not in echo.statuses()


@pytest.mark.parametrize(
    "priority",
    ["NORMAL:+ECDHE-PSK:+PSK", "NORMAL:-KX-ALL:+PSK"],
    ids=["ecdhe-psk", "plain-psk"],
)
def test_gnutls_cli_psk_to_echo_server(
    gnutls_cli: str, priority: str, record_property: Callable[[str, object], None]
) -> None:
    """gnutls-cli with a pre-shared key against ``TLSOptions.server_psk``: the handshake
    completes on both sides and a typed line is echoed."""
    echo = WatchedEchoServer(TLSOptions.server_psk({PSK_IDENTITY: PSK_KEY}))
    with echo.running(), gnutls_peer.gnutls_cli_process(
        echo.port, priority=priority, psk=(PSK_IDENTITY, PSK_KEY), binary=gnutls_cli
    ) as client:
        echo.wait_until(lambda: Status.CONNECTED in echo.statuses(), HANDSHAKE_TIMEOUT, "CONNECTED")
        cipher = echo.ciphers[1]
        assert cipher.startswith("ECDHE-PSK-" if "ECDHE" in priority else "PSK-"), cipher
        report(record_property, f"gnutls-cli {priority} -> EchoServer cipher", cipher)
        client.wait_for(r"^- Description: ", HANDSHAKE_TIMEOUT, stream="stdout")
        description = gnutls_peer.negotiated_description(client)
        report(record_property, f"gnutls-cli {priority} description", description)
        try:
            client.wait_for(r"^- Simple Client Mode:", HANDSHAKE_TIMEOUT, stream="stdout")
        except gnutls_peer.GnuTLSError:
            if client.returncode == -signal.SIGSEGV:
                pytest.xfail(
                    "gnutls-cli 3.7.9 segfaults after an ECDHE-PSK handshake (print_info -> "
                    "gnutls_psk_server_get_username on the client; also against gnutls-serv); "
                    f"the handshake itself completed on both sides with {cipher}"
                )
            raise
        _echo_line(client, "hello over a pre-shared key")
        client.close_stdin()
        assert client.wait(PROCESS_TIMEOUT) == 0, client.output()
        echo.wait_until(
            lambda: Status.DISCONNECTED in echo.statuses(), DATA_TIMEOUT, "the peer's close"
        )
        assert echo.server.packets_echoed == 1
