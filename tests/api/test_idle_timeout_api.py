"""``idle_timeout`` on PacketPeerDTLS and DTLSServer, over loopback UDP.

Off by default, as in the engine. A small timeout (0.3 s) and a deadline: the only
time asserted is "eventually, before the deadline".
"""

from __future__ import annotations

import pytest

from godot_dtls import DTLSServer, PacketPeerDTLS, Status
from godot_dtls.tools.serve import EchoServer
from support.loopback import connect, echo
from support.polling import poll_for, require

IDLE = 0.3


def test_a_client_whose_server_went_silent_ends_disconnected(pki):
    server = EchoServer(pki.server_options())
    try:
        client = connect(server, pki.client_options(), peer=PacketPeerDTLS(idle_timeout=IDLE))
        assert client.get_status() is Status.CONNECTED
        assert echo(client, server, b"hello") == b"hello"
        # The server is never polled again: from the client's side it is dead.
        require(
            client,
            until=lambda: client.get_status() is not Status.CONNECTED,
            what="the idle timeout",
        )
        assert client.get_status() is Status.DISCONNECTED
        assert "idle_timeout" in client.get_last_error_message()
        assert client.get_stats()["alerts_sent"] == ["close_notify"]
    finally:
        server.stop()


def test_a_server_peer_whose_client_went_silent_ends_and_tells_the_client(pki):
    server = EchoServer(pki.server_options(), dtls_server=DTLSServer(idle_timeout=IDLE))
    try:
        client = connect(server, pki.client_options())
        assert client.get_status() is Status.CONNECTED
        server_peer = server.peers[0]
        assert server_peer.idle_timeout == IDLE
        # The client sends nothing more; the server's peer gives up and says so.
        require(
            server,
            until=lambda: server_peer.get_status() is not Status.CONNECTED,
            what="the server peer's idle timeout",
            fds=[server.fileno()],
        )
        assert server_peer.get_status() is Status.DISCONNECTED
        # The client (no idle timeout of its own) reads the close_notify.
        require(
            client,
            until=lambda: client.get_status() is not Status.CONNECTED,
            what="the close_notify at the client",
        )
        assert client.get_status() is Status.DISCONNECTED
        assert client.get_stats()["alerts_received"] == ["close_notify"]
    finally:
        server.stop()


def test_without_idle_timeout_a_silent_peer_stays_connected(pki):
    server = EchoServer(pki.server_options())
    try:
        client = connect(server, pki.client_options())
        assert client.idle_timeout is None
        poll_for(client, seconds=3 * IDLE)
        assert client.get_status() is Status.CONNECTED
        assert echo(client, server, b"still") == b"still"
    finally:
        server.stop()


@pytest.mark.parametrize("wrong", [0, -1, float("nan"), float("inf"), "1", []])
def test_idle_timeout_is_checked_when_set(wrong):
    assert PacketPeerDTLS(idle_timeout=0.5).idle_timeout == 0.5
    with pytest.raises((TypeError, ValueError), match="idle_timeout"):
        PacketPeerDTLS(idle_timeout=wrong)
    with pytest.raises((TypeError, ValueError), match="idle_timeout"):
        DTLSServer(idle_timeout=wrong)


def test_idle_timeout_applies_to_the_next_connection(pki):
    assert DTLSServer(idle_timeout=2).idle_timeout == 2.0
    peer = PacketPeerDTLS()
    peer.idle_timeout = 2
    assert peer.idle_timeout == 2.0
    peer.idle_timeout = None
    assert peer.idle_timeout is None
