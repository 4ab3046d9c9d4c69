"""The FastAPI and Flask receivers in docs/events.md accept signed deliveries and refuse forged ones."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from memorylink.events.signing import webhook_headers

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def block(marker: str) -> dict[str, Any]:
    text = (ROOT / "docs" / "events.md").read_text()
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if marker in b]
    namespace: dict[str, Any] = {"__name__": "docs_receiver"}
    exec(compile(code, f"docs/events.md:{marker}", "exec"), namespace)
    return namespace


def signed(event_id: str = "evt_0123456789ABC") -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"type": "memory.created", "data": {"id": "0123456789ABC"}}).encode()
    return body, webhook_headers([SECRET], event_id, int(time.time()), body)


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_documented_receiver(framework: str, capsys: pytest.CaptureFixture[str]) -> None:
    if framework == "fastapi":
        from fastapi.testclient import TestClient

        namespace = block("FastAPI()")
        client: Any = TestClient(namespace["app"])
    else:
        namespace = block("Flask(__name__)")
        client = namespace["app"].test_client()

    def post(body: bytes, headers: dict[str, str]) -> int:
        payload = {"content": body} if framework == "fastapi" else {"data": body}
        return int(client.post("/hooks/memories", headers=headers, **payload).status_code)

    body, headers = signed()
    assert post(body, headers) == 204
    assert post(body, headers) == 204  # a redelivery: accepted, handled once
    assert namespace["seen_ids"] == {"evt_0123456789ABC"}
    assert capsys.readouterr().out.count("memory.created") == 1
    assert post(body.replace(b"created", b"deleted"), headers) == 400
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    assert post(body, stale) == 400
