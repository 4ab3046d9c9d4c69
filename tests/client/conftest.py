"""Fixtures for the remote client's tests: a scripted fake server, and a cutting proxy in front of a live one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_helpers import FakeServer

from stream_helpers import CuttingProxy, Live


@pytest.fixture
def server() -> FakeServer:
    """A scripted fake server; ``server.transport()`` plugs it into a RemoteStore."""
    return FakeServer()


@pytest.fixture
def proxy(live: Live) -> Iterator[CuttingProxy]:
    """A proxy in front of the module's ``live`` server that can cut every connection through it."""
    running = CuttingProxy(int(live.url.rsplit(":", 1)[1]))
    yield running
    running.close()
