"""godot-python 0.50 (Godot 3) adapter: what only that runtime needs (its Godot 3
``connect_to_peer`` form, one reference taken per engine object received, its declaration
rules). The shared contract is in ``test_adapters.py``."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from godot_dtls import Status
from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    INVALID,
    OK,
    Runtime,
    client_options,
    connect_udp,
    connected_peer,
    echo_round_trip,
    pump,
)


def test_godot3_connect_forms(gp: Runtime, pki: Any, echo: EchoServer, tmp_path: Path) -> None:
    godot = gp.root
    cert = godot.X509Certificate()
    assert cert.load(str(pki.ca_path)) == godot.OK
    udp = connect_udp(gp, echo.port)
    peer = gp.new(gp.peer_cls)
    assert gp.call(peer, "connect_to_peer", udp, True, "localhost", cert) == OK
    assert pump(gp, [peer], lambda: gp.status(peer) != Status.HANDSHAKING, echo)
    assert gp.status(peer) == Status.CONNECTED
    echo_round_trip(gp, peer, echo, 1200)
    gc.collect()
    assert cert.get_reference_count() == 1  # retained once, released by its wrapper
    assert cert.save(str(tmp_path / "still-alive.crt")) == godot.OK
    assert udp.get_reference_count() == 2  # ours and the adapter's retained wrapper
    assert gp.call(peer, "disconnect_from_peer") == OK
    gc.collect()
    assert udp.get_reference_count() == 1

    unsafe = connected_peer(gp, echo, False)  # validate_certs=false: no verification
    echo_round_trip(gp, unsafe, echo, 64)

    default_bundle = gp.new(gp.peer_cls)
    udp = connect_udp(gp, echo.port)
    assert gp.call(default_bundle, "connect_to_peer", udp, True, "localhost") == OK
    assert pump(gp, [default_bundle], lambda: gp.status(default_bundle) > 1, echo)
    assert gp.status(default_bundle) == Status.ERROR  # the test CA is not in the bundle


def test_godot_python_takes_one_reference_per_udp_argument(gp: Runtime, pki: Any) -> None:
    """Each call's wrapper of the UDP peer is retained once, on every path (else the
    wrapper's release would free the caller's object)."""
    udp = connect_udp(gp, 9)
    peer = gp.new(gp.peer_cls)
    calls = [
        ("connect_to_peer", (udp, "localhost", "not a dictionary")),
        ("connect_to_peer", (udp, True, 42)),
        ("connect_to_peer", (udp, "localhost", {}, "fourth")),
        ("accept_connection", ("1", udp)),
        ("accept_connection", (10**9, udp)),
    ]
    for name, args in calls:
        assert gp.call(peer, name, *args) == INVALID
        gc.collect()
        assert udp.get_reference_count() == 1, name
    unconnected = gp.root.PacketPeerUDP()
    options = client_options(pki)
    assert gp.call(peer, "connect_to_peer", unconnected, "localhost", options) == INVALID
    gc.collect()
    assert unconnected.get_reference_count() == 1


def test_godot_python_declaration_rules(gp: Runtime) -> None:
    godot = gp.root
    for module, cls in ((gp.peer_module, gp.peer_cls), (gp.server_module, gp.server_cls)):
        assert godot.exposed_classes[module.__name__] is cls
        exposed = [v for v in vars(module).values() if getattr(v, "_gd_exposed", False)]
        assert exposed == [cls]
        assert cls.__init__.__name__ == "<lambda>"  # replaced by @exposed
        with pytest.raises(ValueError, match="single class"):
            godot.exposed(type("Second", (godot.Reference,), {"__module__": module.__name__}))
    assert "status_changed" in gp.peer_cls._gd_signals
    peer = gp.new(gp.peer_cls)
    assert "_dtls_core" not in vars(peer)  # state is made on first use
    assert gp.call(peer, "get_status") == Status.DISCONNECTED
    assert "_dtls_core" in vars(peer)
    assert not hasattr(peer, "emit_signal")  # only call("emit_signal", ...) exists
    assert peer.STATUS_CONNECTED == 2
