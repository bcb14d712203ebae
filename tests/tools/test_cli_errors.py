"""The command line never shows a traceback: every path through a real subprocess.

Each case runs ``python -m godot_dtls`` with a deadline and checks the exit status,
that stderr is exactly one line, and that no "Traceback" appears anywhere. Ctrl-C is
a real SIGINT sent by PID at several points: during a handshake, while connected,
while serving, and at arbitrary moments of an exchange; a connected side must send
close_notify before it exits with status 130.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import godot_dtls
from godot_dtls import (
    Error,
    PacketPeerDTLS,
    PacketPeerUDP,
    Status,
    TLSOptions,
    UDPServer,
    X509Certificate,
)
from godot_dtls.tools.serve import EchoServer
from support.loopback import serving
from support.polling import require

DEADLINE = 20.0
PACKAGE_ROOT = Path(godot_dtls.__file__).resolve().parents[1]


class Command:
    """``godot-dtls ARGS`` in a subprocess; stopped by PID if it outlives the test.

    Threads read its stdout and stderr as they come, so a line can be waited for
    without the pipe filling up."""

    def __init__(self, *args: str, stdin: int = subprocess.DEVNULL) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        env.pop("SSLKEYLOGFILE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "godot_dtls", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.out: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        self.seen: list[str] = []
        self.readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read_out(self) -> None:
        for line in self.process.stdout:
            self.out.put(line)
        self.out.put(None)

    def _read_err(self) -> None:
        for line in self.process.stderr:
            self.err.append(line)

    def wait_for_line(self, start: str, timeout: float = DEADLINE) -> str:
        """The first stdout line beginning with ``start`` (fails at the deadline)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.out.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(start):
                return line
        self.stop()
        pytest.fail(f"no line starting {start!r}; got {self.seen!r} and {self.err!r}")

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = DEADLINE) -> tuple[int, str, str]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"the command did not exit before the deadline: {self.err!r}")
        for reader in self.readers:
            reader.join(10.0)
        while not self.out.empty():
            line = self.out.get_nowait()
            if line is not None:
                self.seen.append(line)
        return self.process.returncode, "".join(self.seen), "".join(self.err)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def run(*args: str) -> tuple[int, str, str]:
    return Command(*args).finish()


def assert_one_line(err: str, out: str = "") -> str:
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr is not one line: {err!r}"
    return lines[0]


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- usage and set-up errors


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("serve", "--bind", "localhost"), "IP address"),
        (("serve", "--bind", "192.0.2.1"), "not an address of this machine"),
        (("serve", "--port", "70000"), "0..65535"),
        (("serve", "--port", "-1"), "0..65535"),
        (("serve", "--max-pending", "-3"), "0 or more"),
        (("demo", "--port", "65536"), "0..65535"),
        (("demo", "--burst", "-1"), "0 or more"),
        (("demo", "--packets", "-5"), "0 or more"),
        (("fuzz", "--count", "-1"), "0 or more"),
        (("connect", "127.0.0.1", "0"), "1..65535"),
        (("connect", "127.0.0.1", "65536"), "1..65535"),
        (("connect", "localhost", "4433", "--send", "x"), "HOST is an IP"),
        (("connect", "127.0.0.1", "4433", "--timeout", "nan"), "finite"),
        (("pin", "127.0.0.1:70000"), "neither a certificate file nor HOST:PORT"),
        (("bench", "--quick", "--json", "/no-such-folder-4f1c/x.json"), "does not exist"),
        (("bench", "--quick", "--plot", "/no-such-folder-4f1c/x.png"), "does not exist"),
    ],
)
def test_a_refused_argument_is_one_line_and_exit_2(args, words):
    code, out, err = run(*args)
    assert code == 2, (code, out, err)
    assert words in assert_one_line(err, out)


def test_a_key_that_does_not_match_the_certificate_is_refused(pki, other_pki):
    code, out, err = run(
        "serve", "--port", "0", "--cert", str(pki.cert_path), "--key", str(other_pki.key_path)
    )
    assert code == 2
    assert "does not match" in assert_one_line(err, out)


def test_an_unreadable_key_file_is_refused(pki, tmp_path):
    code, out, err = run(
        "serve", "--port", "0", "--cert", str(pki.cert_path), "--key", str(tmp_path / "nope")
    )
    assert code == 2
    assert "--key" in assert_one_line(err, out)


@pytest.mark.parametrize("where", ["missing-folder", "folder"])
def test_save_cert_that_cannot_be_written_is_an_error(tmp_path, where):
    target = tmp_path / "missing" / "cert.pem" if where == "missing-folder" else tmp_path
    code, out, err = run("serve", "--port", "0", "--duration", "0.1", "--save-cert", str(target))
    assert code == 2
    assert "--save-cert" in assert_one_line(err, out)
    assert "READY" not in out


def test_serve_refuses_a_port_a_udp_server_already_listens_on():
    holder = UDPServer()  # SO_REUSEADDR, like the engine's: it would share the port
    assert holder.listen(0, "127.0.0.1") == Error.OK
    try:
        code, out, err = run("serve", "--port", str(holder.get_local_port()))
        assert code == 2
        assert "already in use" in assert_one_line(err, out)
    finally:
        holder.stop()


def test_serve_refuses_a_port_a_plain_socket_holds():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        code, out, err = run("serve", "--port", str(holder.getsockname()[1]))
    assert code == 2
    assert "already in use" in assert_one_line(err, out)


def test_pin_errors_go_to_stderr(tmp_path):
    code, out, err = run("pin", f"127.0.0.1:{closed_udp_port()}")
    assert code == 1
    assert out == ""
    assert "cannot get the certificate" in assert_one_line(err)
    code, out, err = run("pin", str(tmp_path / "not-a-file-nor-address"))
    assert code == 2
    assert out == ""
    assert_one_line(err)


def test_connect_unsafe_warns_once(pki):
    server = EchoServer(pki.server_options())
    with serving(server):
        code, out, err = run(
            "connect", "127.0.0.1", str(server.port), "--unsafe", "--send", "a", "--send", "b"
        )
    server.stop()
    assert code == 0, err
    assert out.count("reply:") == 2
    assert "accepts any certificate" in assert_one_line(err, out)


# ------------------------------------------------------------------------------- Ctrl-C


def assert_interrupted(command: Command) -> str:
    code, out, err = command.finish()
    assert code == 130, (code, out, err)
    assert assert_one_line(err, out) == "interrupted"
    return out


def test_ctrl_c_during_the_handshake():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # never answers
        silent.bind(("127.0.0.1", 0))
        command = Command("connect", "127.0.0.1", str(silent.getsockname()[1]))
        command.wait_for_line("status HANDSHAKING")
        command.interrupt()
        assert_interrupted(command)


def test_ctrl_c_while_connected_sends_close_notify(pki):
    statuses: list[Status] = []
    server = EchoServer(
        pki.server_options(), on_status=lambda _peer, status: statuses.append(status)
    )
    with serving(server):
        command = Command(
            "connect",
            "127.0.0.1",
            str(server.port),
            "--ca",
            str(pki.ca_path),
            stdin=subprocess.PIPE,  # open and silent: the client waits for a line
        )
        command.wait_for_line("connected in")
        command.interrupt()
        assert_interrupted(command)
        require(
            until=lambda: Status.DISCONNECTED in statuses,
            what="the server to read the client's close_notify",
        )
    server.stop()


def test_ctrl_c_while_serving_sends_close_notify_to_clients(tmp_path):
    certificate_path = tmp_path / "server.pem"
    command = Command("serve", "--port", "0", "--save-cert", str(certificate_path))
    port = int(command.wait_for_line("READY").split()[1])
    udp = PacketPeerUDP()
    assert udp.connect_to_host("127.0.0.1", port) == Error.OK
    trusted = X509Certificate()
    assert trusted.load(str(certificate_path)) == Error.OK
    client = PacketPeerDTLS()
    assert client.connect_to_peer(udp, "localhost", TLSOptions.client(trusted)) == Error.OK
    require(
        client,
        until=lambda: client.get_status() is not Status.HANDSHAKING,
        what="the handshake",
        fds=[udp.fileno()],
    )
    assert client.get_status() is Status.CONNECTED
    command.wait_for_line("peer 1: CONNECTED")
    command.interrupt()
    out = assert_interrupted(command)
    assert "served 1 connection(s)" in out
    require(
        client,
        until=lambda: client.get_status() is not Status.CONNECTED,
        what="the server's close_notify",
        fds=[udp.fileno()],
    )
    assert client.get_status() is Status.DISCONNECTED
    udp.close()


def test_ctrl_c_at_any_moment_of_an_exchange(pki):
    """SIGINT at random moments, from the handshake to the end of a long scripted
    exchange: the command either finished, or stopped with one line and 130; never a
    traceback."""
    rng = random.Random(1234)
    server = EchoServer(pki.server_options())
    sends = [arg for n in range(5000) for arg in ("--send", f"message {n}")]
    codes = []
    with serving(server):
        for _ in range(8):
            command = Command(
                "connect", "127.0.0.1", str(server.port), "--ca", str(pki.ca_path), *sends
            )
            command.wait_for_line("status HANDSHAKING")  # started (see README)
            time.sleep(rng.uniform(0.0, 1.2))
            command.interrupt()
            code, out, err = command.finish()
            codes.append(code)
            assert "Traceback" not in err and "Traceback" not in out, err
            if code == 130:
                assert assert_one_line(err, out) == "interrupted"
            else:
                assert code == 0 and not err.strip(), (code, err)
    server.stop()
    assert 130 in codes
