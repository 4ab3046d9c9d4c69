"""Review finding: routes FastAPI adds itself (/openapi.json, /docs) are labelled by their path, not as unknown."""

from __future__ import annotations

import re

from server_helpers import Api


def _count(text: str, route: str, status: str) -> float:
    pattern = rf'^memorylink_http_requests_total\{{method="GET",route="{re.escape(route)}",status="{status}"\}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_the_documentation_routes_have_their_own_labels(api: Api) -> None:
    for path in ("/openapi.json", "/docs", "/docs", "/no/such/route/123"):
        api.as_(None).get(path)
    text = api.get("/metrics").text
    assert _count(text, "/openapi.json", "200") == 1
    assert _count(text, "/docs", "200") == 2
    # Only a path no route knows is <unmatched>, and never under its raw path.
    assert _count(text, "<unmatched>", "200") == 0
    assert _count(text, "<unmatched>", "404") == 1
    assert "/no/such/route" not in text
