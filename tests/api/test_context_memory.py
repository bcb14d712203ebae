"""What a connected server peer keeps: record buffers are released once idle.

A server holds one OpenSSL connection per peer, so what each keeps after its handshake
multiplies by the number of players. ``SSL_MODE_RELEASE_BUFFERS`` frees the read and
write record buffers of a connection with nothing in flight. The effect is measured on
glibc's heap (``mallinfo2``: bytes in use, exact, no timing), with the contexts the
package builds against the same contexts with the mode cleared.
"""

from __future__ import annotations

import contextlib
import gc

import pytest
from OpenSSL import SSL

from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.cookies import CookieJar
from godot_dtls.tools.bench.clients import bare_client_context
from godot_dtls.tools.bench.memory import malloc_stats

PEERS = 40
#: RELEASE_BUFFERS saves about 48 KiB per connected server peer with OpenSSL 3/4; the
#: test asks for clearly more than noise and clearly less than the saving.
MIN_SAVING_PER_PEER = 24 * 1024


class _Owner:
    """What the package's OpenSSL callbacks read from a connection's app data."""

    peer_address = ("127.0.0.1", 40000)
    now = 0.0
    verifier = None


def _move(source: SSL.Connection, target: SSL.Connection) -> None:
    with contextlib.suppress(SSL.WantReadError):
        while True:
            target.bio_write(source.bio_read(65536))


def _handshake(client: SSL.Connection, server: SSL.Connection) -> None:
    done = [False, False]
    for _ in range(40):
        for index, party in enumerate((client, server)):
            if not done[index]:
                try:
                    party.do_handshake()
                    done[index] = True
                except SSL.WantReadError:
                    pass
        _move(client, server)
        _move(server, client)
        if all(done):
            return
    raise AssertionError("the in-memory handshake did not finish")


def _server_heap_per_peer(server_ctx: SSL.Context, client_ctx: SSL.Context) -> float:
    """C heap bytes each connected server connection holds (its clients freed)."""
    owner = _Owner()

    def server() -> SSL.Connection:
        connection = SSL.Connection(server_ctx, None)
        connection.set_app_data(owner)
        connection.set_accept_state()
        connection.set_ciphertext_mtu(1400)  # memory BIOs have no path MTU to ask
        return connection

    def client() -> SSL.Connection:
        connection = SSL.Connection(client_ctx, None)
        connection.set_connect_state()
        connection.set_tlsext_host_name(b"localhost")
        connection.set_ciphertext_mtu(1400)
        return connection

    _handshake(client(), server())  # warm up OpenSSL's lazily made global tables
    gc.collect()
    before = malloc_stats()
    assert before is not None
    servers = []
    for _ in range(PEERS):
        peer, other = server(), client()
        _handshake(other, peer)
        other.write(b"x" * 1200)
        _move(other, peer)
        assert peer.recv(2000) == b"x" * 1200
        servers.append(peer)
        del other
    gc.collect()
    after = malloc_stats()
    assert after is not None
    return (after["in_use"] - before["in_use"]) / PEERS


@pytest.fixture
def contexts(pki):
    return (
        lambda: server_context(pki.server_options(), CookieJar()),
        lambda: bare_client_context(pki.ca_path),  # the server side is what is measured
    )


def test_every_context_releases_idle_record_buffers(pki):
    # Context.set_mode(0) changes nothing and returns the mode in force.
    for context in (
        server_context(pki.server_options(), CookieJar()),
        client_context(pki.client_options()),
    ):
        assert context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS


@pytest.mark.skipif(malloc_stats() is None, reason="needs glibc's mallinfo2 (glibc 2.33+)")
def test_a_connected_server_peer_holds_its_record_buffers_only_while_busy(contexts):
    make_server, make_client = contexts
    released = _server_heap_per_peer(make_server(), make_client())
    holding_server = make_server()
    holding_server.clear_mode(SSL.MODE_RELEASE_BUFFERS)
    kept = _server_heap_per_peer(holding_server, make_client())
    assert kept - released >= MIN_SAVING_PER_PEER, (kept, released)
