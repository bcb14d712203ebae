"""The godot-dtls echo server of the benchmark, in a process of its own.

    python -m godot_dtls.tools.bench.pyserver --key KEY.pem --cert CERT.pem [--port 0]
        [--duration 120] [--stop-file PATH] [--max-pending 16] [--max-handshakes N]
        [--profile OUT.prof] [--trace-memory] [--snapshot-dir DIR]

It is the package's :class:`~godot_dtls.tools.serve.EchoServer` (``UDPServer`` +
``DTLSServer`` + ``PacketPeerDTLS``, the engine's server loop) driven as a game server
would be driven when it has nothing else to do: ``poll()``, then sleep until the socket
is readable (at most 50 ms, for the handshake timers). Its own process gives the
benchmark a clean ``VmRSS`` and keeps its CPU off the clients' clock.

Memory (:mod:`.memory`): with ``--snapshot-dir DIR``, a file ``DIR/<name>.request`` asks
for a snapshot of the live (handshaking or connected) peers, answered in
``DIR/<name>.json``; the request may name an earlier snapshot to list the Python
allocations that grew since (if that one was asked with ``keep``), followed by ``trim``
to also measure the RSS once glibc gave its free heap back. ``--trace-memory`` runs
tracemalloc from the start, for the Python heap by source line.

Output: ``READY <port>``, then ``RESULT {json}`` when the duration ends, the stop file
appears or SIGTERM arrives.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import select
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from godot_dtls.api.dtls_server import DTLSServer
from godot_dtls.api.errors import Error
from godot_dtls.api.status import Status
from godot_dtls.api.tls_options import TLSOptions
from godot_dtls.api.x509 import CryptoKey, X509Certificate
from godot_dtls.tools.serve import EchoServer

from .memory import snapshot

__all__ = ["main", "serve"]

#: Longest sleep between two polls of an idle server (retransmission timers are ≥ 1 s).
IDLE_WAIT_MS = 50
#: How often the stop file is looked for.
STOP_CHECK_INTERVAL = 0.05


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m godot_dtls.tools.bench.pyserver",
        description="godot-dtls echo server for the benchmark",
    )
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--port", type=int, default=0, help="UDP port (0: any free port)")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds at most")
    parser.add_argument("--stop-file", default="", help="exit once this file exists")
    parser.add_argument("--max-pending", type=int, default=16, help="UDPServer pending cap")
    parser.add_argument(
        "--max-handshakes",
        type=int,
        default=0,
        help="DTLSServer cap on handshakes in progress (0: the package default)",
    )
    parser.add_argument("--profile", default="", help="write a cProfile of the loop here")
    parser.add_argument(
        "--trace-memory", action="store_true", help="tracemalloc from the start (slower)"
    )
    parser.add_argument("--snapshot-dir", default="", help="answer memory snapshot requests here")
    return parser


class _Snapshots:
    """Answers ``<name>.request`` files in a folder with ``<name>.json`` memory snapshots."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder) if folder else None
        self._taken: dict[str, Any] = {}

    def answer(self, server: EchoServer) -> None:
        if self.folder is None:
            return
        for request in sorted(self.folder.glob("*.request")):
            name = request.stem
            # "<earlier snapshot to compare with> [trim] [keep]"
            base, *options = request.read_text(encoding="utf-8").split() or [""]
            statuses = [peer.get_status() for peer in server.peers]
            connected = statuses.count(Status.CONNECTED)
            handshaking = statuses.count(Status.HANDSHAKING)
            entry, traced = snapshot(
                connected + handshaking,
                self._taken.get(base),
                trim="trim" in options,
                connected=connected,
                handshaking=handshaking,
            )
            if "keep" in options:
                # Only a snapshot later ones compare with stays: each holds every trace,
                # which would count in the next snapshot's RSS.
                self._taken[name] = traced
            del traced
            answer = self.folder / f"{name}.json"
            partial = answer.with_suffix(".partial")
            partial.write_text(json.dumps(entry), encoding="utf-8")
            partial.replace(answer)
            request.unlink()


def _dtls_server(max_handshakes: int) -> DTLSServer:
    """A DTLSServer admitting ``max_handshakes`` handshakes at once (0: the default)."""
    if max_handshakes <= 0:
        return DTLSServer()
    try:
        return DTLSServer(max_handshakes=max_handshakes)  # type: ignore[call-arg]
    except TypeError:  # a package without the cap: nothing to raise
        return DTLSServer()


def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Run the server until the duration, the stop file or SIGTERM; the RESULT object."""
    if args.trace_memory:
        tracemalloc.start()
    key, certificate = CryptoKey(), X509Certificate()
    if key.load(args.key) != Error.OK or certificate.load(args.cert) != Error.OK:
        raise SystemExit("pyserver: cannot load the key or the certificate")
    server = EchoServer(
        TLSOptions.server(key, certificate),
        args.port,
        args.bind,
        max_pending_connections=args.max_pending,
        dtls_server=_dtls_server(args.max_handshakes),
    )
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.append("sigterm"))
    poller = select.poll()
    poller.register(server.fileno(), select.POLLIN)
    profile: cProfile.Profile | None = cProfile.Profile() if args.profile else None
    snapshots = _Snapshots(args.snapshot_dir)
    print(f"READY {server.port}", flush=True)

    start = time.monotonic()
    cpu_start = time.process_time()
    deadline = start + args.duration
    next_check = start
    peak_peers = 0
    reason = "duration"
    if profile is not None:
        profile.enable()
    try:
        while not stopping:
            server.poll()
            peak_peers = max(peak_peers, len(server.peers))
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_check:
                next_check = now + STOP_CHECK_INTERVAL
                if args.stop_file and os.path.exists(args.stop_file):
                    reason = "stop_file"
                    break
                snapshots.answer(server)
            poller.poll(IDLE_WAIT_MS)
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
    if stopping:
        reason = stopping[0]
    cpu = time.process_time() - cpu_start
    server.stop()
    return {
        "role": "server",
        "implementation": "godot-dtls",
        "reason": reason,
        "elapsed_ms": (time.monotonic() - start) * 1000.0,
        "cpu_s": cpu,
        "connections": server.connections,
        "cookie_exchanges": server.cookie_exchanges,
        "peak_peers": peak_peers,
        "max_handshakes": getattr(server.dtls_server, "max_handshakes", None),
        "packets": server.packets_echoed,
        "bytes": server.bytes_echoed,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m godot_dtls.tools.bench.pyserver``."""
    result = serve(_parser().parse_args(argv))
    result["exit_code"] = 0
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
