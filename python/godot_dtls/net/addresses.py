"""IP literals, socket addresses and name resolution the way Godot's ``IPAddress`` sees them.

Godot accepts only IP literals in ``connect_to_host``/``bind`` (names only in
``set_dest_address``), treats an IPv4-mapped IPv6 literal as IPv4, and prints addresses
in its own canonical form; the UDP classes share these rules through this module.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any, Tuple

SockAddr = Tuple[Any, ...]
# A parsed IP literal: (is_ipv4, canonical text). IPv4-mapped IPv6 literals count as IPv4,
# like Godot's IPAddress::is_ipv4().
ParsedIP = Tuple[bool, str]

IP_TYPE_ANY = 0
IP_TYPE_V4 = 4
IP_TYPE_V6 = 6
V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


def parse_ip(text: object) -> ParsedIP | None:
    """Parse an IP literal the way Godot's ``IPAddress(String)`` does; names are invalid.

    Returns ``(is_ipv4, canonical_text)`` or None. ``"*"`` is not an IP (callers that accept
    the wildcard check for it first).
    """
    if not isinstance(text, str) or not text or "%" in text:
        return None
    if ":" in text:
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return True, str(mapped)
        return False, str(addr)
    # Godot's IPv4 parser: exactly four dot-separated decimal fields, each <= 255, leading
    # zeros allowed, whole string shorter than 16 characters.
    if len(text) >= 16:
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    values = []
    for part in parts:
        if not part or not part.isascii() or not part.isdigit():
            return None
        value = int(part)
        if value > 255:
            return None
        values.append(value)
    return True, ".".join(str(value) for value in values)


def sockaddr_for(family: int, v6only: bool, ip: ParsedIP, port: int) -> SockAddr | None:
    """Socket address for ``ip`` on a socket of ``family``; None if the family can't reach it."""
    is_v4, host = ip
    if family == socket.AF_INET:
        return (host, port) if is_v4 else None
    if is_v4:
        # Dual-stack sockets reach IPv4 hosts through their IPv4-mapped IPv6 address.
        return None if v6only else ("::ffff:" + host, port, 0, 0)
    return (host, port, 0, 0)


def wildcard_sockaddr(family: int, port: int) -> SockAddr:
    if family == socket.AF_INET:
        return ("0.0.0.0", port)
    return ("::", port, 0, 0)


def godot_ip_string(host: str) -> str:
    """Format an address like Godot's ``String(IPAddress)``.

    IPv4 and IPv4-mapped addresses → dotted quad; other IPv6 addresses → eight lowercase hex
    groups without zero compression (``::1`` → ``"0:0:0:0:0:0:0:1"``), exactly as the engine
    prints them.
    """
    if ":" not in host:
        return host
    try:
        packed = socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
    except (OSError, ValueError):
        return host
    if packed[:12] == V4_MAPPED_PREFIX:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return ":".join(format(group, "x") for group in struct.unpack("!8H", packed))


def resolve(host: object) -> ParsedIP | None:
    """Resolve a host name to its first address (Godot's IP.resolve_hostname, TYPE_ANY)."""
    if not isinstance(host, str) or not host or host == "*":
        return None
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_DGRAM)
    except (OSError, UnicodeError, ValueError):
        return None
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            parsed = parse_ip(str(sockaddr[0]).split("%", 1)[0])
            if parsed is not None:
                return parsed
    return None
