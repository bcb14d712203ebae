"""Every context the package builds asks OpenSSL to release idle record buffers.

A server holds one OpenSSL connection per peer, so what each keeps after its handshake
multiplies by the number of players. ``SSL_MODE_RELEASE_BUFFERS`` frees the read and
write record buffers of a connection with nothing in flight; every ``DTLSConnection``
also sets it on its own OpenSSL object, and ``tests/core/test_buffer_release.py``
measures the saving on glibc's heap.
"""

from __future__ import annotations

from OpenSSL import SSL

from godot_dtls.api.context import client_context, server_context
from godot_dtls.core.cookies import CookieJar


def test_every_context_releases_idle_record_buffers(pki):
    # Context.set_mode(0) changes nothing and returns the mode in force.
    for context in (
        server_context(pki.server_options(), CookieJar()),
        client_context(pki.client_options()),
    ):
        assert context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS
