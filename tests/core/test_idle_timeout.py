"""The optional idle timeout of the sans-IO core: time only as ``now``, in memory.

Off by default (the engine has none: a dead peer stays connected forever). With
``idle_timeout`` set, an established connection that hears no datagram from its peer
for that long sends close_notify and ends with ``IdleTimedOut``.
"""

from __future__ import annotations

import pytest

from godot_dtls import TLSOptions
from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.connection import ConnectionState, DTLSConnection
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.events import ConnectionClosed, IdleTimedOut
from godot_dtls.core.states import TRANSITIONS
from godot_dtls.core.verification import CertificateVerifier
from support.memory_link import MemoryLink

START = 100.0


def _events(connection: DTLSConnection) -> list:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def connected(pki, client_idle: float | None = None, server_idle: float | None = None):
    context = server_context(pki.server_options(), CookieJar())
    client = DTLSConnection(
        client_context(pki.client_options()),
        is_client=True,
        server_name="localhost",
        verifier=CertificateVerifier("localhost"),
        idle_timeout=client_idle,
    )
    link = MemoryLink(
        client,
        lambda: DTLSConnection(
            context, is_client=False, peer_address=("127.0.0.1", 4000), idle_timeout=server_idle
        ),
    )
    client.start(START)
    link.exchange(START)
    assert client.state is ConnectionState.CONNECTED
    assert link.server is not None and link.server.state is ConnectionState.CONNECTED
    _events(client)
    _events(link.server)
    return link


def test_without_an_idle_timeout_a_connected_peer_has_no_timer(pki):
    link = connected(pki)
    assert link.client.get_timer() is None
    assert link.server.get_timer() is None
    link.server.handle_timer(START + 1e6)
    assert link.server.state is ConnectionState.CONNECTED


def test_a_silent_peer_times_out_with_close_notify(pki):
    link = connected(pki, server_idle=5.0)
    server = link.server
    assert server.get_timer() == pytest.approx(START + 5.0)
    server.handle_timer(START + 4.9)  # early: nothing happens
    assert server.state is ConnectionState.CONNECTED
    server.handle_timer(START + 5.0)
    assert server.state is ConnectionState.CLOSED
    assert _events(server) == [IdleTimedOut(5.0)]
    assert server.stats.alerts_sent == ["close_notify"]
    assert server.get_timer() is None
    # The peer, only quiet, learns that the connection is gone.
    link.deliver_to_client(server.datagrams_to_send(), START + 5.0)
    assert link.client.state is ConnectionState.CLOSED
    assert _events(link.client) == [ConnectionClosed(by_peer=True)]


def test_every_datagram_from_the_peer_restarts_the_idle_clock(pki):
    link = connected(pki, client_idle=5.0)
    client, server = link.client, link.server
    for step in range(1, 6):
        now = START + 4.0 * step
        server.send(b"still here")
        link.deliver_to_client(server.datagrams_to_send(), now)
        assert client.get_timer() == pytest.approx(now + 5.0)
        client.handle_timer(now + 4.0)
        assert client.state is ConnectionState.CONNECTED
    client.handle_timer(START + 20.0 + 5.0)
    assert client.state is ConnectionState.CLOSED


def test_the_idle_timeout_is_checked_when_made():
    for wrong in (0, -1.0):
        with pytest.raises(ValueError, match="idle timeout"):
            DTLSConnection(client_context(TLSOptions.client()), is_client=True, idle_timeout=wrong)


def test_idle_timeout_is_a_transition_of_the_state_table():
    assert TRANSITIONS[(ConnectionState.CONNECTED, IdleTimedOut)] is ConnectionState.CLOSED
