"""Several threads using one DTLS peer at once, run as its own process.

``python -m support.thread_hammer client|server SECONDS THREADS`` (with ``tests`` on
``sys.path``) connects a client to a server over loopback, then lets THREADS threads
call ``put_packet`` / ``poll`` / ``get_packet`` on the same peer for SECONDS:

- ``client``: the threads share the client; a server thread echoes.
- ``server``: the threads share one server-side peer (echoing, and sending packets of
  their own) while another thread polls the ``UDPServer`` that feeds it; the client
  runs in the main thread.

Every packet is unique and tagged with its sender. The process prints one JSON line of
counts and exits 0 when every packet that arrived was sent, byte for byte, and arrived
at most once; 3 when the data is inconsistent; 2 when it could not connect. A crash of
the interpreter shows as a signal in the exit status, which is why this runs in a
subprocess.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Callable

from godot_dtls import (
    DTLSServer,
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    UDPServer,
)
from godot_dtls.api.crypto import Crypto
from godot_dtls.tools.serve import EchoServer, wait_readable

CONNECT_DEADLINE = 10.0
#: Exceptions raised in any thread (an exception from the API is a failure too).
_exceptions: list[str] = []


def _record_exception(args: threading.ExceptHookArgs) -> None:
    _exceptions.append(f"{args.exc_type.__name__}: {args.exc_value}")


threading.excepthook = _record_exception


def _payload(sender: str, number: int) -> bytes:
    # A body derived from the header, so a corrupted or spliced packet is detected.
    header = f"{sender}:{number}:".encode()
    return header + bytes((number + i) & 0xFF for i in range(64 + number % 900))


def _is_intact(packet: bytes) -> bool:
    try:
        sender, number, _rest = packet.split(b":", 2)
        return packet == _payload(sender.decode(), int(number))
    except ValueError:
        return False


def _options() -> tuple[TLSOptions, TLSOptions]:
    crypto = Crypto()
    key = crypto.generate_ec()
    certificate = crypto.generate_self_signed_certificate(key, "CN=localhost")
    assert certificate is not None
    return TLSOptions.server(key, certificate), TLSOptions.client(certificate)


def _run_threads(workers: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=w, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CONNECT_DEADLINE + 30.0)


def _hammer(
    peer: PacketPeerDTLS, sender: str, until: float, sent: list, received: list
) -> Callable[[], None]:
    """put / poll / get in a loop on ``peer`` until the deadline."""

    def run() -> None:
        number = 0
        while time.monotonic() < until and peer.get_status() is Status.CONNECTED:
            packet = _payload(sender, number)
            sent.append(packet)  # before the call: a packet may leave even if it fails
            number += 1
            try:
                peer.put_packet(packet)
                peer.poll()
                while peer.get_available_packet_count() > 0:
                    data = peer.get_packet()
                    if data:
                        received.append(data)
            except Exception as exc:  # a failure too; keep going, as a game loop would
                _exceptions.append(f"{type(exc).__name__}: {exc}")

    return run


def _connect(client: PacketPeerDTLS, udp: PacketPeerUDP, port: int, options, step) -> bool:
    if udp.connect_to_host("127.0.0.1", port) != Error.OK:
        return False
    if client.connect_to_peer(udp, "localhost", options) != Error.OK:
        return False
    deadline = time.monotonic() + CONNECT_DEADLINE
    while client.get_status() is Status.HANDSHAKING and time.monotonic() < deadline:
        step()
        client.poll()
        wait_readable([udp.fileno()], 0.002)
    return client.get_status() is Status.CONNECTED


def hammer_client(seconds: float, threads: int) -> dict:
    """Threads share one client; a server thread echoes everything."""
    server_options, client_options = _options()
    server = EchoServer(server_options)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.poll()
            wait_readable([server.fileno()], 0.002)

    server_thread = threading.Thread(target=serve, daemon=True)
    server_thread.start()
    client, udp = PacketPeerDTLS(), PacketPeerUDP()
    if not _connect(client, udp, server.port, client_options, lambda: None):
        stop.set()
        return {"connected": False}
    sent: list[bytes] = []
    received: list[bytes] = []
    until = time.monotonic() + seconds
    _run_threads([_hammer(client, f"c{n}", until, sent, received) for n in range(threads)])
    stop.set()
    server_thread.join(5.0)
    client.disconnect_from_peer()
    server.stop()
    return {"connected": True, "sent": sent, "received": received}


def hammer_server_peer(seconds: float, threads: int) -> dict:
    """Threads share one server-side peer; one more polls the UDPServer feeding it."""
    server_options, client_options = _options()
    udp_server, dtls_server = UDPServer(), DTLSServer()
    assert dtls_server.setup(server_options) == Error.OK
    assert udp_server.listen(0, "127.0.0.1") == Error.OK
    accepted: list[PacketPeerDTLS] = []

    def accept() -> None:
        udp_server.poll()
        while udp_server.is_connection_available():
            peer = dtls_server.take_connection(udp_server.take_connection())
            if peer is not None and peer.get_status() is Status.HANDSHAKING:
                accepted.append(peer)
        for peer in accepted:
            peer.poll()

    client, udp = PacketPeerDTLS(), PacketPeerUDP()
    connected = _connect(client, udp, udp_server.get_local_port(), client_options, accept)
    live = [p for p in accepted if p.get_status() is Status.CONNECTED]
    if not connected or not live:
        return {"connected": False}
    peer = live[0]
    until = time.monotonic() + seconds
    server_sent: list[bytes] = []
    server_received: list[bytes] = []
    client_sent: list[bytes] = []
    client_received: list[bytes] = []

    def feed() -> None:
        while time.monotonic() < until:
            udp_server.poll()
            wait_readable([udp_server.fileno()], 0.001)

    def drive_client() -> None:
        number = 0
        while time.monotonic() < until and client.get_status() is Status.CONNECTED:
            packet = _payload("client", number)
            client_sent.append(packet)
            client.put_packet(packet)
            number += 1
            client.poll()
            while client.get_available_packet_count() > 0:
                data = client.get_packet()
                if data:
                    client_received.append(data)
            wait_readable([udp.fileno()], 0.0005)

    workers = [feed, drive_client]
    workers += [_hammer(peer, f"s{n}", until, server_sent, server_received) for n in range(threads)]
    _run_threads(workers)
    # The server threads sent their own packets and echoed nothing: the client's
    # packets are checked on the server side, the server's on the client side.
    return {
        "connected": True,
        "sent": client_sent + server_sent,
        "received": client_received + server_received,
    }


def verdict(result: dict) -> tuple[int, dict]:
    if not result.get("connected"):
        return 2, {"connected": False}
    sent = Counter(result["sent"])
    received = Counter(result["received"])
    duplicated = sum(1 for packet, count in received.items() if count > 1)
    exceptions = sorted(set(_exceptions))
    foreign = sum(1 for packet in received if packet not in sent or not _is_intact(packet))
    summary = {
        "connected": True,
        "sent": sum(sent.values()),
        "received": sum(received.values()),
        "duplicated": duplicated,
        "foreign_or_corrupt": foreign,
        "exceptions": exceptions,
    }
    return (3 if duplicated or foreign or exceptions else 0), summary


def main(argv: list[str]) -> int:
    mode, seconds, threads = argv[0], float(argv[1]), int(argv[2])
    run = hammer_client if mode == "client" else hammer_server_peer
    code, summary = verdict(run(seconds, threads))
    print(json.dumps(summary), flush=True)
    sys.stdout.flush()
    # Skip interpreter teardown: daemon threads may still hold the peer.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
