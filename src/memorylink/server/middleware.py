"""ASGI middleware: the request id, the request log line, the last-resort 500, the body size limit, CORS.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so streamed responses (SSE) pass through
untouched and a failing route still answers with the one error body.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memorylink.events.context import request_id as events_request_id
from memorylink.server.errors import REQUEST_ID_HEADER, PayloadTooLargeError, error_body

__all__ = ["BodyLimitMiddleware", "CorsMiddleware", "RequestContextMiddleware", "route_template"]

logger = logging.getLogger(__name__)

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"
"""The route label of requests no route matched (raw paths are never logged or used as labels)."""

Observer = Callable[[str, str, int, float], None]
"""Called once per HTTP request with (method, route template, status, duration in seconds)."""


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/memories/{memory_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Starlette routes (FastAPI's own /openapi.json and /docs) leave only their endpoint in the scope.
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
            candidate_path = getattr(candidate, "path", None)
            if getattr(candidate, "endpoint", None) is endpoint and isinstance(candidate_path, str):
                return candidate_path
    return UNMATCHED_ROUTE


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_REQUEST_ID.fullmatch(text) else None
    return None


async def send_error(
    send: Send, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> None:
    """Send a complete JSON error response straight over ASGI."""
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Gives every request an id, answers unexpected errors with a 500 body, and logs one line per request.

    Events the store emits while serving the request carry the same id (``Event.request_id``).

    The id is the caller's ``X-Request-ID`` when it is sane (up to 128 of ``A-Za-z0-9._:-``),
    else a new one; it is in ``request.state.request_id`` and on every response. The log line
    (logger ``memorylink.server.middleware``, level INFO) carries method, route template,
    status, duration and request id as ``extra`` fields; never bodies, query strings or keys.
    """

    def __init__(self, app: ASGIApp, *, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            with events_request_id(request_id):
                await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            # Events the store emits for this request carry its id (the thread pool copies the context).
            with events_request_id(request_id):
                await self.app(scope, receive, send_with_id)
        except Exception as error:  # the last resort: whatever a route did not handle
            if isinstance(error, PayloadTooLargeError):
                status, code, message = 413, "payload_too_large", str(error.detail)
                details: dict[str, object] = {"limit": "max_body_bytes", "maximum": error.maximum}
            else:
                logger.exception("request %s failed with an unexpected error", request_id)
                status, code, message, details = 500, "internal_error", "the server met an unexpected error", {}
            if not response_started:
                await send_error(
                    send, status, error_body(code, message, details, request_id), {REQUEST_ID_HEADER: request_id}
                )
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method = scope.get("method", "")
            logger.info(
                "%s %s %d %.1fms request_id=%s",
                method,
                route,
                status,
                duration * 1000,
                request_id,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 3),
                    "request_id": request_id,
                },
            )
            if self.observe is not None:
                self.observe(method, route, status, duration)


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413 ``payload_too_large``.

    A ``Content-Length`` over the limit is answered before the body is read; a body sent
    without one (chunked) is counted as it arrives and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            error = PayloadTooLargeError(self.max_bytes, declared)
            request_id = str(scope.get("state", {}).get("request_id", "-"))
            details = {"limit": "max_body_bytes", "maximum": self.max_bytes, "actual": declared}
            await send_error(send, 413, error_body("payload_too_large", str(error.detail), details, request_id))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLargeError(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class CorsMiddleware(CORSMiddleware):
    """Starlette's CORS, whose preflight answers also carry ``X-Request-ID`` and refuse with the error body.

    It sits outside the request-context middleware (so the last-resort 500 gets CORS headers
    too), which means preflights, answered here, would otherwise have neither.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await super().__call__(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "origin" not in headers or "access-control-request-method" not in headers:
            await super().__call__(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        response = self.preflight_response(request_headers=headers)
        if response.status_code < 400:
            response.headers[REQUEST_ID_HEADER] = request_id
            await response(scope, receive, send)
            return
        # Starlette says "Disallowed CORS origin, method": keep the list, in the one error body.
        disallowed = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        kept = {name: value for name, value in response.headers.items() if not name.startswith("content-")}
        body = error_body(
            "bad_request",
            f"the CORS preflight is refused: this {', '.join(disallowed)} is not allowed",
            {"disallowed": disallowed},
            request_id,
        )
        await send_error(send, response.status_code, body, {**kept, REQUEST_ID_HEADER: request_id})
