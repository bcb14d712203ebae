"""Fixtures of the Godot 4 adapter tests: each runtime's stand-in with the adapters loaded."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    V4,
    Runtime,
    maiself_runtime,
    py4godot_runtime,
)


@pytest.fixture(params=["maiself", "py4godot"])
def rt(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """The Godot 4 runtimes, which cannot run here: their stand-ins, written from their
    source code. (godot-python, the Godot 3 runtime, runs for real: test_godot3_runtime.)"""
    if request.param == "maiself":
        yield from maiself_runtime()
    else:
        yield from py4godot_runtime()


@pytest.fixture
def echo(pki: Any) -> Iterator[EchoServer]:
    server = EchoServer(pki.server_options(), 0, V4)
    try:
        yield server
    finally:
        server.stop()
