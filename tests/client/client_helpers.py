"""The remote client's unit-test helpers: an httpx.MockTransport that records and scripts answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from memorylink.models import Memory

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Answers requests from a script (then ``default``) and keeps every request it saw."""

    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=lambda: httpx.Response(200, json={}))
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.script.pop(0) if self.script else self.default
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self.handle(request)

        return httpx.MockTransport(handle)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def memory_json(memory_id: str = "0d2jq3m5k8t9v", text: str = "hello", **fields: Any) -> dict[str, Any]:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    memory = Memory(id=memory_id, text=text, user_id="default", created_at=now, updated_at=now, **fields)
    data: dict[str, Any] = memory.model_dump(mode="json")
    return data


def error_json(
    status: int, code: str, message: str = "it failed", details: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": "req-123",
            "timestamp": "2026-01-02T03:04:05Z",
        }
    }
    return httpx.Response(status, json=body, headers={"X-Request-ID": "req-123", **headers})
