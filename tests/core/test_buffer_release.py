"""What an established connection keeps: its record buffers only while a record is in flight.

``SSL_MODE_RELEASE_BUFFERS`` makes OpenSSL free a connection's read buffer once every
record in it was handed out and its write buffer once its record was written to the
BIO (about 33 KiB per connection, multiplied by a server's peers). Every
:class:`DTLSConnection` sets it on its own OpenSSL object, whatever the context it is
given: checked through OpenSSL's own mode, and measured on glibc's heap (``mallinfo2``:
bytes in use, exact, no timing) against the same connections with the mode left off.
"""

from __future__ import annotations

import gc

import pytest
from OpenSSL import SSL

from godot_dtls.api.context import client_context, server_context
from godot_dtls.core import openssl_private as private
from godot_dtls.core.connection import ConnectionState, DTLSConnection
from godot_dtls.core.cookies import CookieJar
from godot_dtls.core.verification import CertificateVerifier
from godot_dtls.tools.bench.memory import malloc_stats
from support.memory_link import MemoryLink

SERVER_ADDRESS = ("127.0.0.1", 40000)
PEERS = 40
#: Releasing the two record buffers saves about 33 KiB per connection with OpenSSL 3/4;
#: the test asks for clearly more than noise and clearly less than the saving.
MIN_SAVING_PER_PEER = 24 * 1024


def _context_without_the_mode(pki) -> SSL.Context:
    """A server context that does not ask for RELEASE_BUFFERS: the connection must."""
    context = server_context(pki.server_options(), CookieJar())
    context.clear_mode(SSL.MODE_RELEASE_BUFFERS)
    assert not context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS
    return context


def _connected(pki, context: SSL.Context) -> MemoryLink:
    client = DTLSConnection(
        client_context(pki.client_options()),
        is_client=True,
        server_name="localhost",
        verifier=CertificateVerifier("localhost"),
    )
    link = MemoryLink(
        client,
        lambda: DTLSConnection(context, is_client=False, peer_address=SERVER_ADDRESS),
    )
    client.start(0.0)
    link.exchange(0.0)
    assert link.server is not None and link.server.state is ConnectionState.CONNECTED
    return link


def _echo(link: MemoryLink, size: int) -> None:
    """One packet of ``size`` bytes each way, so both record buffers have been used."""
    assert link.server is not None
    link.client.send(b"c" * size)
    link.exchange(0.0)
    assert link.server.next_packet() == b"c" * size
    link.server.send(b"s" * size)
    link.exchange(0.0)
    assert link.client.next_packet() == b"s" * size


def test_every_connection_releases_its_buffers_whatever_the_context(pki):
    link = _connected(pki, _context_without_the_mode(pki))
    _echo(link, 1200)
    for connection in (link.client, link.server):
        assert connection is not None
        assert private.connection_mode(connection.ssl) & private.MODE_RELEASE_BUFFERS


def test_the_mode_query_reads_what_openssl_has(pki):
    context = _context_without_the_mode(pki)
    bare = SSL.Connection(context, None)
    assert not private.connection_mode(bare) & private.MODE_RELEASE_BUFFERS
    assert private.release_buffers(bare)
    assert private.connection_mode(bare) & private.MODE_RELEASE_BUFFERS


def _server_heap_per_connection(pki, context: SSL.Context) -> float:
    """C heap bytes each established server connection holds after an echo (its
    client freed)."""
    _echo(_connected(pki, context), 1200)  # warm up OpenSSL's lazily made tables
    gc.collect()
    before = malloc_stats()
    assert before is not None
    servers = []
    for _ in range(PEERS):
        link = _connected(pki, context)
        _echo(link, 1200)
        servers.append(link.server)
        del link
    gc.collect()
    after = malloc_stats()
    assert after is not None
    assert all(server.state is ConnectionState.CONNECTED for server in servers)
    return (after["in_use"] - before["in_use"]) / PEERS


@pytest.mark.skipif(malloc_stats() is None, reason="needs glibc's mallinfo2 (glibc 2.33+)")
def test_an_idle_established_connection_holds_no_record_buffers(pki, monkeypatch):
    context = _context_without_the_mode(pki)
    released = _server_heap_per_connection(pki, context)
    # The same connections when the connection does not set the mode either.
    monkeypatch.setattr(private, "release_buffers", lambda connection: True)
    kept = _server_heap_per_connection(pki, context)
    assert kept - released >= MIN_SAVING_PER_PEER, (kept, released)


def test_the_packet_queue_keeps_its_order_when_the_reader_never_empties_it(pki):
    link = _connected(pki, server_context(pki.server_options(), CookieJar()))
    server = link.server
    assert server is not None
    expected = []
    taken = []
    number = 0
    for _ in range(6):  # 6 x 100 in, 6 x 80 out: the queue never empties
        for _ in range(100):
            payload = number.to_bytes(4, "big")
            link.client.send(payload)
            expected.append(payload)
            number += 1
        link.exchange(0.0)
        for _ in range(80):
            taken.append(server.next_packet())
    assert server.packet_count() == 6 * 20
    while server.packet_count():
        taken.append(server.next_packet())
    assert taken == expected
    assert server.next_packet() is None
