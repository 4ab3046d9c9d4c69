"""memorylink errors as MCP errors: the one place the MCP front-end maps the error tree.

* In a tool, every :class:`~memorylink.errors.MemoryLinkError` becomes a
  :class:`~mcp.server.mcpserver.exceptions.ToolError`, so the caller gets an ``isError``
  result whose text starts with the error's code and names the field or limit, e.g.
  ``limit_exceeded: text is 20001 characters; the limit max_text_length is 20000 {...}``.
  Anything else is left to the SDK, which logs it with its traceback and answers with a
  generic ``isError`` result (the session goes on either way).
* In a resource, ``not_found`` (and a malformed id) is a ``ResourceNotFoundError``
  (JSON-RPC -32602), other errors a ``ResourceError``.
* In a prompt, errors are JSON-RPC ``invalid params`` errors carrying the same text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from memorylink.errors import MemoryLinkError, NotFoundError, StoreClosedError, ValidationError

__all__ = ["describe", "prompt_errors", "resource_errors", "tool_errors"]

logger = logging.getLogger(__name__)

# Errors a caller can cause or correct; any other MemoryLinkError points at the store itself.
_CALLER_ERRORS = (ValidationError, NotFoundError, StoreClosedError)


def describe(error: MemoryLinkError) -> str:
    """``"<code>: <message>"``, then the details as JSON (field, limit, maximum ...) if any."""
    text = f"{error.code}: {error.message}"
    if error.details:
        text += " " + json.dumps(error.details, sort_keys=True, default=str)
    return text


@contextmanager
def tool_errors(tool: str) -> Iterator[None]:
    """Turn memorylink errors raised inside the block into tool errors."""
    try:
        yield
    except _CALLER_ERRORS as error:
        logger.debug("tool %s rejected the call: %s", tool, error.code)
        raise ToolError(describe(error)) from error
    except MemoryLinkError as error:
        logger.exception("tool %s failed on a store error", tool)
        raise ToolError(describe(error)) from error


@contextmanager
def resource_errors(uri: str) -> Iterator[None]:
    """Turn memorylink errors raised inside the block into resource errors."""
    try:
        yield
    except (NotFoundError, ValidationError) as error:  # a malformed id names no memory either
        logger.debug("resource %s not found: %s", uri, error.code)
        raise ResourceNotFoundError(describe(error)) from error
    except StoreClosedError as error:
        raise ResourceError(describe(error)) from error
    except MemoryLinkError as error:
        logger.exception("resource %s failed on a store error", uri)
        raise ResourceError(describe(error)) from error


@contextmanager
def prompt_errors(prompt: str) -> Iterator[None]:
    """Turn memorylink errors raised inside the block into JSON-RPC invalid-params errors."""
    try:
        yield
    except _CALLER_ERRORS as error:
        logger.debug("prompt %s rejected the call: %s", prompt, error.code)
        raise MCPError(code=INVALID_PARAMS, message=describe(error), data=error.to_dict()) from error
    except MemoryLinkError as error:
        logger.exception("prompt %s failed on a store error", prompt)
        raise MCPError(code=INTERNAL_ERROR, message=describe(error), data=error.to_dict()) from error
