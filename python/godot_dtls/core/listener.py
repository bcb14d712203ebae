"""Stateless cookie exchange for a DTLS server: one OpenSSL object for every address.

RFC 6347 (4.2.1) lets a server answer a ClientHello without keeping anything: a
HelloVerifyRequest carrying a cookie that only a client receiving at its claimed address
can send back. OpenSSL does this in ``DTLSv1_listen``, which is meant to run on one
listening ``SSL`` object: every datagram is fed to it, a HelloVerifyRequest is written
for a ClientHello without a valid cookie, anything else is dropped, and when a
ClientHello with a valid cookie arrives, that very ``SSL`` object holds it, ready to
continue the handshake. It then becomes the new connection's, and the listener starts a
fresh one for the next datagram.

So a server using a :class:`CookieListener` holds no per-address state at all until a
client has proved its address: junk and spoofed datagrams cost one call and leave
nothing behind. The cookie callbacks of the server context (see
:mod:`godot_dtls.api.context`) read ``peer_address`` and ``now`` from the ``SSL``
object's app data; the listener sets both before each datagram.

:func:`listen_once` is the one step every server-side use shares: the listener, a
:class:`~godot_dtls.core.connection.DTLSConnection` that waits for its own cookie, and
the probe of a reconnecting client.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Tuple

from OpenSSL import SSL

from . import openssl_private as private
from .log import logger
from .records import MAX_PLAINTEXT_SIZE, RECORD_HEADER_SIZE, client_hello_random, pack_datagrams

__all__ = [
    "MAX_LISTEN_DATAGRAM",
    "AcceptedHello",
    "CookieListener",
    "ListenOutcome",
    "drain_bio",
    "listen_once",
]

Address = Tuple[str, int]

#: The largest datagram ``DTLSv1_listen`` reads at once (one record of the largest
#: plaintext); a larger one would leave bytes in the shared read buffer for the next
#: sender's datagram, so it is dropped before it reaches OpenSSL.
MAX_LISTEN_DATAGRAM = RECORD_HEADER_SIZE + MAX_PLAINTEXT_SIZE

# Reading the write BIO in chunks below glibc's mmap threshold keeps each read cheap;
# one chunk holds any single record, so the common case needs exactly one read.
_BIO_CHUNK = 32768


class ListenOutcome(enum.Enum):
    """What one datagram fed to ``DTLSv1_listen`` came to."""

    DROPPED = "dropped"  # no usable ClientHello: nothing written, nothing kept
    VERIFY_REQUESTED = "verify_requested"  # no or no valid cookie: a HelloVerifyRequest
    ACCEPTED = "accepted"  # a valid cookie: the SSL object continues the handshake


def drain_bio(ssl: SSL.Connection) -> bytes:
    """Everything waiting in ``ssl``'s write BIO (b"" when nothing)."""
    try:
        stream = ssl.bio_read(_BIO_CHUNK)
    except SSL.WantReadError:
        return b""
    if len(stream) < _BIO_CHUNK:
        return stream
    chunks = [stream]
    while True:
        try:
            chunks.append(ssl.bio_read(_BIO_CHUNK))
        except SSL.WantReadError:
            return b"".join(chunks)


def listen_once(ssl: SSL.Connection, datagram: bytes) -> tuple[ListenOutcome, bytes]:
    """Feed one datagram to ``DTLSv1_listen`` on ``ssl``: the outcome, and what OpenSSL
    wrote (the HelloVerifyRequest record, or b"").

    The caller has set ``ssl``'s app data to an object whose ``peer_address`` and
    ``now`` are the datagram's. OpenSSL clears the object's state at every call, so the
    same ``ssl`` serves any sequence of senders; what it leaves in the thread's error
    queue for a dropped datagram is cleared, so that it cannot be mistaken later for
    another connection's error.
    """
    if not datagram or len(datagram) > MAX_LISTEN_DATAGRAM:
        return ListenOutcome.DROPPED, b""
    ssl.bio_write(datagram)
    try:
        ssl.DTLSv1_listen()
    except SSL.WantReadError:
        written = drain_bio(ssl)
        private.clear_error_queue()
        return (ListenOutcome.VERIFY_REQUESTED if written else ListenOutcome.DROPPED), written
    except SSL.Error:
        private.clear_error_queue()
        return ListenOutcome.DROPPED, b""
    return ListenOutcome.ACCEPTED, b""


@dataclass(frozen=True)
class AcceptedHello:
    """A ClientHello with a valid cookie, and the OpenSSL object that holds it."""

    ssl: SSL.Connection
    peer_address: Address
    #: The client random: a later copy of this ClientHello is no reconnect.
    client_random: bytes | None


@dataclass(frozen=True)
class ListenResult:
    outcome: ListenOutcome
    #: Datagrams to send back to the sender (the HelloVerifyRequest).
    datagrams: list[bytes]
    accepted: AcceptedHello | None = None


@dataclass
class ListenerStats:
    """What a listener did with the datagrams it was given."""

    datagrams: int = 0
    dropped: int = 0
    verify_requests: int = 0
    accepted: int = 0


class CookieListener:
    """One listening OpenSSL object answering every new address statelessly.

    ``context`` is a server context whose cookie callbacks read the app data's
    ``peer_address`` and ``now``. :meth:`receive` takes a datagram from an address the
    server has no connection for; an :class:`AcceptedHello` it returns carries the
    ``SSL`` object to build the connection on (see ``DTLSConnection(accepted=...)``).
    """

    def __init__(self, context: SSL.Context, mtu: int) -> None:
        self._context = context
        self.mtu = mtu
        self._ssl: SSL.Connection | None = None
        #: The sender and time of the datagram being processed (read by the callbacks).
        self.peer_address: Address = ("", 0)
        self.now = 0.0
        self.stats = ListenerStats()

    @property
    def context(self) -> SSL.Context:
        """The server context every connection of this listener uses."""
        return self._context

    def _listening_ssl(self) -> SSL.Connection:
        ssl = self._ssl
        if ssl is None:
            ssl = SSL.Connection(self._context, None)
            ssl.set_app_data(self)
            ssl.set_accept_state()
            # A memory BIO has no path MTU (the context sets OP_NO_QUERY_MTU): the
            # connection this object becomes needs the MTU set from the start.
            ssl.set_ciphertext_mtu(self.mtu)
            # DTLSv1_listen's record buffers too are freed after each datagram, whatever
            # the context (the connection made on this object sets the mode again, and
            # warns if OpenSSL refuses it).
            if not private.release_buffers(ssl):
                logger.debug("the listening OpenSSL object keeps its record buffers")
            self._ssl = ssl
        return ssl

    def receive(self, datagram: bytes, address: Address, now: float) -> ListenResult:
        """Answer one datagram from ``address`` at time ``now``; keeps nothing of it."""
        stats = self.stats
        stats.datagrams += 1
        ssl = self._listening_ssl()
        self.peer_address = address
        self.now = now
        outcome, written = listen_once(ssl, datagram)
        if outcome is ListenOutcome.VERIFY_REQUESTED:
            stats.verify_requests += 1
            return ListenResult(outcome, pack_datagrams(written, self.mtu))
        if outcome is ListenOutcome.DROPPED:
            stats.dropped += 1
            return ListenResult(outcome, [])
        stats.accepted += 1
        self._ssl = None  # handed over: the next datagram gets a fresh listening object
        return ListenResult(outcome, [], AcceptedHello(ssl, address, client_hello_random(datagram)))
