"""Threads never crash Python: each networking object serialises its methods.

pyOpenSSL releases the GIL inside OpenSSL, so two threads in one peer used to corrupt
its SSL object (segfaults, double frees, exceptions from deep inside, lost packets).
The hammering runs in a subprocess (``support.thread_hammer``), so a crash shows as a
signal in the exit status instead of killing pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import godot_dtls
from godot_dtls import Error, PacketPeerDTLS, PacketPeerUDP, Status, UDPServer
from godot_dtls.tools.serve import EchoServer
from support.loopback import serving
from support.polling import DEADLINE, poll_until, require

TESTS = Path(__file__).resolve().parents[1]
#: Runs per mode: the unserialised code failed almost every run (crash or corruption).
RUNS = 3
SECONDS = 1.0
THREADS = 3


def _hammer(mode: str) -> subprocess.CompletedProcess:
    package_root = Path(godot_dtls.__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package_root), str(TESTS)])
    return subprocess.run(
        [sys.executable, "-m", "support.thread_hammer", mode, str(SECONDS), str(THREADS)],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _describe(result: subprocess.CompletedProcess) -> str:
    if result.returncode < 0:
        return f"crashed with {signal.Signals(-result.returncode).name}"
    return {2: "could not connect", 3: "inconsistent data or an exception"}.get(
        result.returncode, f"exit status {result.returncode}"
    )


@pytest.mark.parametrize("mode", ["client", "server"])
def test_threads_sharing_one_peer_never_crash_and_lose_no_consistency(mode: str):
    """put/poll/get from several threads on one client (or one server-side peer fed by
    a UDPServer polled in yet another thread): no crash, no exception, and every packet
    that arrives was sent, byte for byte, and arrives once."""
    for run in range(RUNS):
        result = _hammer(mode)
        assert result.returncode == 0, (
            f"run {run + 1}: {_describe(result)}\n{result.stdout}\n{result.stderr[-2000:]}"
        )
        assert '"exceptions": []' in result.stdout


def test_a_peer_made_in_one_thread_works_in_another(pki):
    """Nothing is tied to the thread that made an object: a client connected here is
    handed to a network thread, while a third thread polls the server."""
    server = EchoServer(pki.server_options())
    replies: list[bytes] = []
    with serving(server):
        udp = PacketPeerUDP()
        assert udp.connect_to_host("127.0.0.1", server.port) == Error.OK
        peer = PacketPeerDTLS()
        assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == Error.OK
        require(
            peer,
            until=lambda: peer.get_status() is not Status.HANDSHAKING,
            what="the handshake",
            fds=[udp.fileno()],
        )
        assert peer.get_status() is Status.CONNECTED

        def network_thread() -> None:
            assert peer.put_packet(b"from another thread") == Error.OK
            if poll_until(peer, until=lambda: peer.get_available_packet_count() > 0):
                replies.append(peer.get_packet())

        thread = threading.Thread(target=network_thread)
        thread.start()
        thread.join(DEADLINE + 5.0)
        peer.disconnect_from_peer()
    server.stop()
    assert replies == [b"from another thread"]


def test_udp_server_peers_share_the_server_lock():
    """UDPServer.poll() fills the queues of the peers it hands out, so they take turns
    with it: one lock for the server and its peers, a lock of its own for a lone peer."""
    server = UDPServer()
    assert server.listen(0, "127.0.0.1") == Error.OK
    sender = PacketPeerUDP()
    assert sender.connect_to_host("127.0.0.1", server.get_local_port()) == Error.OK
    assert sender.put_packet(b"hello") == Error.OK
    require(server, until=server.is_connection_available, what="a pending peer")
    peer = server.take_connection()
    assert peer is not None
    assert peer._lock is server._lock
    assert sender._lock is not server._lock
    server.stop()
    sender.close()
