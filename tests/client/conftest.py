"""Fixtures for the remote client's unit tests."""

from __future__ import annotations

import pytest
from client_helpers import FakeServer


@pytest.fixture
def server() -> FakeServer:
    """A scripted fake server; ``server.transport()`` plugs it into a RemoteStore."""
    return FakeServer()
