"""The OpenAPI document: published file in sync, every route documented, examples valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from memorylink.events import Delivery, NewWebhook, SendResult, WebhookEndpoint
from memorylink.models import BatchResult, Memory, MemoryVersion, Page, SearchResult, StoreStats
from memorylink.server.openapi import PUBLIC_PATHS, schema_text
from memorylink.server.routes._examples import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "openapi.json"
REGENERATE = "python -m memorylink.server.openapi > docs/openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_text())
    return document


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_published_schema_matches_the_app() -> None:
    assert PUBLISHED.read_text() == schema_text(), f"docs/openapi.json is out of date; regenerate it: {REGENERATE}"


def test_the_module_prints_the_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memorylink.server.openapi"], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout)["openapi"].startswith("3.")
    assert result.stderr == ""


def test_security_schemes(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert schemes["OAuth2"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    for path, _, operation in operations(schema):
        if path in PUBLIC_PATHS:
            assert "security" not in operation, path
        else:
            assert {name for entry in operation["security"] for name in entry} == {"ApiKey", "Bearer", "OAuth2"}


def test_every_operation_is_documented(schema: dict[str, Any]) -> None:
    memory_paths = [p for p in schema["paths"] if p.startswith(("/api/v1/memories", "/api/v1/webhooks"))]
    assert len(memory_paths) >= 14
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert len(operation.get("description", "")) > 20, where
        responses = operation["responses"]
        success = [status for status in responses if status.startswith("2")]
        assert success, where
        for status, response in responses.items():
            assert "X-Request-ID" in response.get("headers", {}), (where, status)
            if status.startswith("2") and status != "204":
                content = response.get("content", {})
                assert any("example" in media or "examples" in media for media in content.values()), (where, status)
            if status[0] in "45":
                body = response["content"]["application/json"]
                assert body["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, (where, status)
                assert body["example"]["error"]["code"], (where, status)
        if path not in PUBLIC_PATHS:
            assert "401" in responses, where
        assert "500" in responses, where
        if "requestBody" in operation:
            assert "422" in responses, where


def test_every_request_body_has_examples(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for path, method, operation in operations(schema):
        body = operation.get("requestBody")
        if body is None:
            continue
        for media in body["content"].values():
            ref = media["schema"].get("$ref")
            assert ref is not None, (method, path)
            component = components[ref.rsplit("/", 1)[1]]
            assert component.get("examples") or "example" in media, (method, path)


def test_fastapi_validation_schemas_are_replaced_by_the_error_body(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(schema["paths"])


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("Memory", Memory),
        ("Page[Memory]", Page[Memory]),
        ("list[MemoryVersion]", list[MemoryVersion]),
        ("SearchResult", SearchResult),
        ("BatchResult", BatchResult),
        ("StoreStats", StoreStats),
        ("WebhookEndpoint", WebhookEndpoint),
        ("list[WebhookEndpoint]", list[WebhookEndpoint]),
        ("NewWebhook", NewWebhook),
        ("Delivery", Delivery),
        ("list[Delivery]", list[Delivery]),
        ("SendResult", SendResult),
    ],
)
def test_response_examples_are_valid_models(name: str, model: Any) -> None:
    TypeAdapter(model).validate_python(EXAMPLES[name])


def test_request_examples_are_valid_bodies(schema: dict[str, Any]) -> None:
    from memorylink.server import schemas

    for name in schemas.__all__:
        model = getattr(schemas, name)
        for example in model.model_config.get("json_schema_extra", {}).get("examples", []):
            model.model_validate(example)
