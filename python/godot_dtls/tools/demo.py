"""``godot-dtls demo``: a DTLS echo server and a client in one process, over loopback.

Everything a first-time user wants to see: a certificate made on the fly with the
engine's ``Crypto`` calls, the client's status changes, a few echoed packets with their
round-trip times, ``put_var``/``get_var`` round trips, a short echo-rate burst, and a
clean close_notify.
"""

from __future__ import annotations

import time
from typing import Any, Callable, TextIO

from godot_dtls.api.crypto import Crypto
from godot_dtls.api.dtls_peer import PacketPeerDTLS
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.variant import Vector2, Vector3
from godot_dtls.net import PacketPeerUDP

from .serve import EchoServer, wait_readable

__all__ = ["run_demo"]

VAR_SAMPLES: list[Any] = [
    None,
    True,
    42,
    2**40,
    0.5,
    "héllo, Godot",
    Vector2(1.5, -2.0),
    Vector3(1.0, 2.0, 3.0),
    [1, "two", 3.0, [4]],
    {"name": "player", "hp": 100, "pos": Vector2(3.0, 4.0)},
    b"\x00\x01\x02\xff",
]


class DemoError(RuntimeError):
    """The demo could not complete a step (the message says which)."""


def _run_until(
    condition: Callable[[], bool],
    server: EchoServer,
    client: PacketPeerDTLS,
    client_udp: PacketPeerUDP,
    timeout: float,
    what: str,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        server.poll()
        client.poll()
        if condition():
            return
        wait_readable([server.fileno(), client_udp.fileno()], 0.002)


def _receive(
    server: EchoServer, client: PacketPeerDTLS, client_udp: PacketPeerUDP, timeout: float
) -> None:
    _run_until(
        lambda: (
            client.get_status() is not Status.CONNECTED or client.get_available_packet_count() > 0
        ),
        server,
        client,
        client_udp,
        timeout,
        "an echo",
    )
    if client.get_status() is not Status.CONNECTED:
        raise DemoError(f"connection lost: {client.get_last_error_message()}")


def run_demo(
    out: TextIO,
    packets: int = 5,
    burst: int = 2000,
    port: int = 0,
    timeout: float = 10.0,
) -> int:
    """Run the demo, printing to ``out``; returns a process exit code."""

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    crypto = Crypto()
    key = crypto.generate_rsa(2048)
    certificate = crypto.generate_self_signed_certificate(key, "CN=localhost,O=godot-dtls demo")
    assert certificate is not None
    say("certificate: self-signed RSA 2048, CN=localhost (made with Crypto.generate_rsa)")

    server = EchoServer(
        TLSOptions.server(key, certificate),
        port,
        "127.0.0.1",
        on_status=lambda peer_id, status: say(f"  [server] peer {peer_id}: {status.name}"),
    )
    say(f"server: DTLSServer + UDPServer listening on 127.0.0.1:{server.port}")

    udp = PacketPeerUDP()
    client = PacketPeerDTLS()
    client.status_changed = lambda status: say(f"  [client] status {status.name} ({int(status)})")
    try:
        if udp.connect_to_host("127.0.0.1", server.port) != Error.OK:
            raise DemoError("connect_to_host failed")
        started = time.perf_counter()
        error = client.connect_to_peer(udp, "localhost", TLSOptions.client(certificate))
        if error != Error.OK:
            raise DemoError(f"connect_to_peer returned {error.name}")
        _run_until(
            lambda: client.get_status() is not Status.HANDSHAKING,
            server,
            client,
            udp,
            timeout,
            "the handshake",
        )
        if client.get_status() is not Status.CONNECTED:
            raise DemoError(f"handshake failed: {client.get_last_error_message()}")
        handshake_ms = (time.perf_counter() - started) * 1000.0
        connection = client.get_connection()
        assert connection is not None
        say(
            f"handshake: {handshake_ms:.1f} ms, {connection.ssl.get_protocol_version_name()} "
            f"{connection.ssl.get_cipher_name()}, {server.cookie_exchanges} cookie exchange(s)"
        )

        for index in range(1, packets + 1):
            payload = f"packet {index} from the client".encode()
            sent = time.perf_counter()
            client.put_packet(payload)
            _receive(server, client, udp, timeout)
            echo = client.get_packet()
            rtt_us = (time.perf_counter() - sent) * 1e6
            mark = "ok" if echo == payload else "MISMATCH"
            say(f"echo {index}: {echo.decode(errors='replace')!r} in {rtt_us:.0f} µs [{mark}]")
            if echo != payload:
                raise DemoError("echoed packet differs")

        for value in VAR_SAMPLES:
            client.put_var(value)
            _receive(server, client, udp, timeout)
            back = client.get_var()
            mark = "ok" if back == value else "MISMATCH"
            say(f"put_var/get_var: {value!r} -> {back!r} [{mark}]")
            if back != value:
                raise DemoError("put_var/get_var round trip differs")

        if burst:
            payload = b"\x5a" * 64
            started = time.perf_counter()
            for _ in range(burst):
                client.put_packet(payload)
                _receive(server, client, udp, timeout)
                if client.get_packet() != payload:
                    raise DemoError("echo burst packet differs")
            elapsed = time.perf_counter() - started
            say(
                f"echo rate: {burst} packets of 64 B one at a time in {elapsed:.2f} s "
                f"= {burst / elapsed:.0f} round trips/s"
            )

        client.disconnect_from_peer()
        _run_until(
            lambda: not server.peers, server, client, udp, timeout, "the server to see the close"
        )
        say(f"closed: server echoed {server.packets_echoed} packets, {server.bytes_echoed} bytes")
        return 0
    except DemoError as exc:
        say(f"demo failed: {exc}")
        return 1
    finally:
        client.disconnect_from_peer()
        udp.close()
        server.stop()
