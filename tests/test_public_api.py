"""The public surface: pinned names, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys

import memorylink

EXPECTED = [
    "AsyncMemoryStore",
    "AuthenticationError",
    "BatchItemResult",
    "BatchResult",
    "Check",
    "EmbedderMismatchError",
    "Event",
    "EventEmitter",
    "EventSettings",
    "Filter",
    "ImportResult",
    "IndexSettings",
    "InvalidKeyError",
    "LimitExceededError",
    "Limits",
    "Memory",
    "MemoryLinkError",
    "MemoryStore",
    "MemoryVersion",
    "Message",
    "MissingDependencyError",
    "NewMemory",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RemoteError",
    "SchemaVersionError",
    "SearchHit",
    "SearchResult",
    "SearchSettings",
    "Settings",
    "StoreCheck",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreInfo",
    "StoreStats",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
]

HEAVY = [
    "httpx",  # a core dependency, imported only when a webhook is sent or validated
    "torch",
    "sentence_transformers",
    "transformers",
    "fastapi",
    "mcp",
    "typer",
    "langchain_core",
    "llama_index",
]


def test_all_is_pinned_and_sorted() -> None:
    assert memorylink.__all__ == EXPECTED
    assert sorted(memorylink.__all__) == memorylink.__all__
    for name in memorylink.__all__:
        assert hasattr(memorylink, name)


def test_import_is_light() -> None:
    code = f"import sys, json, memorylink; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == []


def test_error_tree() -> None:
    for name in EXPECTED:
        value = getattr(memorylink, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, memorylink.MemoryLinkError)
    assert issubclass(memorylink.ValidationError, ValueError)
    assert issubclass(memorylink.MissingDependencyError, ImportError)
