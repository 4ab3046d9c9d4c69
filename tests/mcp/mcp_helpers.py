"""Helpers for the MCP tests: connected SDK clients and result accessors.

There is no conftest.py here on purpose: other tests import names from the top-level
``conftest`` module, which a second conftest.py would shadow. So each test module defines
the few fixtures it needs (``anyio_backend`` ...) itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.server import MCPServer
from mcp_types import CallToolResult

from memorylink import Limits

HERE = Path(__file__).resolve().parent
SERVE_SCRIPT = HERE / "serve_mcp.py"


SMALL_LIMITS = Limits(max_text_length=200, max_tags=3, max_top_k=20, max_batch_size=5, max_page_size=10)


MODES = ["legacy", "auto"]
"""The two ways the SDK client talks to an in-process server: JSON-RPC over memory streams after an
initialize handshake ("legacy"), and the 2026 per-request path ("auto"). Tests parametrize ``mode``."""


@asynccontextmanager
async def connect(server: MCPServer, mode: str = "legacy") -> AsyncIterator[Client]:
    """A connected SDK client (no response cache, so every read reaches the server)."""
    async with Client(server, mode=mode, cache=None) as client:
        yield client


def structured(result: CallToolResult) -> Any:
    """The structured content of a successful tool result."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """The text of an isError tool result."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


def resource_json(contents: Any) -> Any:
    """The JSON of a read resource's (single, text) content."""
    (content,) = contents.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)
