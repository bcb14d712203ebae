"""Unsafe settings are visible: unpinned client_unsafe() warns, key logs are private.

- ``TLSOptions.client_unsafe()`` without pins logs one warning per process (and per
  kind: no chain at all, or a chain without a name check), never one per connection.
- A key log file is made with mode 0600 (an existing file keeps its mode), its use is
  logged once per path, and a path whose folder does not exist is refused: at the
  factory for ``key_log_file=``, at connect/set-up (an ``Error`` and a message) for
  ``SSLKEYLOGFILE``. Nothing is ever written anywhere else.
"""

from __future__ import annotations

import logging
import os
import stat

import pytest

from godot_dtls import DTLSServer, Error, PacketPeerDTLS, PacketPeerUDP, Status, TLSOptions
from godot_dtls.api import context, tls_options
from godot_dtls.tools.serve import EchoServer
from support.loopback import connect


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Forget which warnings this process already gave."""
    monkeypatch.setattr(tls_options, "_unsafe_warned", set(), raising=False)
    monkeypatch.setattr(context, "_key_logs_reported", set(), raising=False)


@pytest.fixture
def server(pki):
    echo_server = EchoServer(pki.server_options())
    yield echo_server
    echo_server.stop()


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("godot_dtls") and r.levelno == logging.WARNING
    ]


def test_client_unsafe_without_pins_warns_once(fresh_warnings, caplog, pki):
    caplog.set_level(logging.WARNING, logger="godot_dtls")
    TLSOptions.client_unsafe()
    TLSOptions.client_unsafe()
    (warning,) = warnings_of(caplog)
    assert "accepts any certificate" in warning
    caplog.clear()
    TLSOptions.client_unsafe(pki.ca_certificate())
    TLSOptions.client_unsafe(pki.ca_certificate())
    (warning,) = warnings_of(caplog)
    assert "does not check the server's name" in warning


def test_pinned_or_checked_options_do_not_warn(fresh_warnings, caplog, pki):
    caplog.set_level(logging.WARNING, logger="godot_dtls")
    TLSOptions.client_unsafe(pinned_spki_sha256=["sha256/" + "A" * 43 + "="])
    TLSOptions.client(pki.ca_certificate())
    assert warnings_of(caplog) == []


def test_a_new_key_log_is_private_and_its_use_is_logged_once(
    fresh_warnings, caplog, pki, server, tmp_path, monkeypatch
):
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    caplog.set_level(logging.WARNING, logger="godot_dtls")
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "keys.log"
        options = TLSOptions.client(pki.ca_certificate(), key_log_file=str(path))
        for _ in range(2):
            assert connect(server, options).get_status() is Status.CONNECTED
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("CLIENT_RANDOM ")
    assert len([w for w in warnings_of(caplog) if str(path) in w]) == 1


def test_an_existing_key_log_keeps_its_mode(fresh_warnings, pki, server, tmp_path, monkeypatch):
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    path = tmp_path / "existing.log"
    path.write_text("")
    path.chmod(0o600)
    options = TLSOptions.client(pki.ca_certificate(), key_log_file=str(path))
    assert connect(server, options).get_status() is Status.CONNECTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text()


def test_a_key_log_in_a_missing_folder_is_refused_by_the_factory(tmp_path):
    missing = tmp_path / "no-such-folder" / "keys.log"
    for make in (
        lambda: TLSOptions.client(key_log_file=str(missing)),
        lambda: TLSOptions.client_unsafe(key_log_file=str(missing)),
        lambda: TLSOptions.client_psk("id", b"k" * 16, key_log_file=str(missing)),
    ):
        with pytest.raises(ValueError, match="key_log_file"):
            make()
    assert not missing.parent.exists()


def test_sslkeylogfile_in_a_missing_folder_refuses_the_connection(
    fresh_warnings, pki, server, tmp_path, monkeypatch
):
    missing = tmp_path / "no-such-folder" / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(missing))
    udp = PacketPeerUDP()
    assert udp.connect_to_host("127.0.0.1", server.port) == Error.OK
    peer = PacketPeerDTLS()
    assert peer.connect_to_peer(udp, "localhost", pki.client_options()) == Error.ERR_UNCONFIGURED
    assert "SSLKEYLOGFILE" in peer.get_last_error_message()
    assert peer.get_status() is Status.DISCONNECTED
    assert DTLSServer().setup(pki.server_options()) == Error.ERR_INVALID_PARAMETER
    assert not missing.parent.exists()
    udp.close()
