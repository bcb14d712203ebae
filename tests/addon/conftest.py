"""Fixtures of the adapter tests: each runtime's stand-in with the adapters loaded on it."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from godot_dtls.tools.serve import EchoServer
from support.adapter_runtimes import (
    V4,
    Runtime,
    godot_python_runtime,
    maiself_runtime,
    py4godot_runtime,
)


@pytest.fixture(params=["godot_python", "maiself", "py4godot"])
def rt(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    if request.param == "godot_python":
        yield from godot_python_runtime(request.getfixturevalue("capsys"))
    elif request.param == "maiself":
        yield from maiself_runtime()
    else:
        yield from py4godot_runtime()


@pytest.fixture
def gp(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    yield from godot_python_runtime(request.getfixturevalue("capsys"))


@pytest.fixture
def echo(pki: Any) -> Iterator[EchoServer]:
    server = EchoServer(pki.server_options(), 0, V4)
    try:
        yield server
    finally:
        server.stop()
