"""Helpers for the MCP tests: connected SDK clients and result accessors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.server import MCPServer
from mcp_types import CallToolResult

HERE = Path(__file__).resolve().parent
SERVE_SCRIPT = HERE / "serve_mcp.py"


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
