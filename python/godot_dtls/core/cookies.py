"""Stateless HelloVerifyRequest cookies for the server (RFC 6347, section 4.2.1).

A cookie proves that a client can receive datagrams at the address it claims, before
the server spends any state or CPU on it. Like the engine's mbedTLS server, a cookie is
a 4-byte timestamp followed by a truncated HMAC-SHA-256 over that timestamp and the
client's address and port, keyed by a random secret held per server. Cookies are valid
for 60 seconds. The secret is rotated regularly; the previous one is kept for one more
period so cookies handed out just before a rotation still verify.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading
from typing import Callable, Tuple

__all__ = ["COOKIE_LIFETIME", "COOKIE_SIZE", "CookieJar"]

COOKIE_LIFETIME = 60.0
COOKIE_SIZE = 32
_TIME = struct.Struct("!I")
_MAC_SIZE = COOKIE_SIZE - _TIME.size

Address = Tuple[str, int]


class CookieJar:
    """Issues and checks cookies bound to a client address; never stores per-client state."""

    def __init__(
        self,
        rotate_every: float = 300.0,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if rotate_every < COOKIE_LIFETIME:
            raise ValueError("the secret must live at least as long as a cookie")
        self._rotate_every = rotate_every
        self._random_bytes = random_bytes
        # (current, previous): replaced as one value, so a reader never sees half a
        # rotation. One jar serves every connection of a server, and those may be
        # polled from different threads; the lock makes a rotation happen once.
        self._secrets: tuple[bytes, bytes | None] = (random_bytes(32), None)
        self._rotated_at: float | None = None
        self._rotation_lock = threading.Lock()

    def _rotate_if_due(self, now: float) -> None:
        with self._rotation_lock:
            if self._rotated_at is None:
                self._rotated_at = now
            elif now - self._rotated_at >= self._rotate_every:
                self._secrets = (self._random_bytes(32), self._secrets[0])
                self._rotated_at = now

    @staticmethod
    def _mac(secret: bytes, stamp: bytes, address: Address) -> bytes:
        message = b"%s%s|%d" % (stamp, address[0].encode("utf-8", "replace"), address[1])
        return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_SIZE]

    def issue(self, address: Address, now: float) -> bytes:
        """A fresh cookie for ``address`` at time ``now`` (seconds, any monotonic origin)."""
        self._rotate_if_due(now)
        stamp = _TIME.pack(int(now) & 0xFFFFFFFF)
        return stamp + self._mac(self._secrets[0], stamp, address)

    def verify(self, cookie: bytes, address: Address, now: float) -> bool:
        """True when ``cookie`` was issued by this jar for ``address`` within the lifetime."""
        self._rotate_if_due(now)
        if len(cookie) != COOKIE_SIZE:
            return False
        stamp = bytes(cookie[: _TIME.size])
        age = (int(now) - _TIME.unpack(stamp)[0]) & 0xFFFFFFFF
        if age > COOKIE_LIFETIME:
            return False
        mac = bytes(cookie[_TIME.size :])
        for secret in self._secrets:
            if secret is not None and hmac.compare_digest(mac, self._mac(secret, stamp, address)):
                return True
        return False
