"""memorylink.integrations.llamaindex is opt-in: `import memorylink` never loads LlamaIndex."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_memorylink_does_not_import_llama_index() -> None:
    loaded = json.loads(_run("import sys, json, memorylink; print(json.dumps(sorted(sys.modules)))"))
    assert not [name for name in loaded if name.startswith(("llama_index", "memorylink.integrations"))]


def test_without_llama_index_the_error_names_the_extra() -> None:
    code = """
import sys
sys.modules["llama_index"] = None  # as if llama-index-core were not installed
sys.modules["llama_index.core"] = None
try:
    import memorylink.integrations.llamaindex
except ImportError as error:
    from memorylink.errors import MissingDependencyError
    print(type(error).__name__, isinstance(error, MissingDependencyError), error)
"""
    out = _run(code)
    assert out.startswith("MissingDependencyError True")
    assert 'pip install "memorylink[llamaindex]"' in out


def test_public_names() -> None:
    import pytest

    pytest.importorskip("llama_index.core")
    import memorylink.integrations.llamaindex as adapter

    assert set(adapter.__all__) == {
        "SUPPORTED_OPERATORS",
        "MemoryLinkEmbedding",
        "MemoryLinkMemoryBlock",
        "MemoryLinkVectorStore",
        "to_memorylink_filter",
    }
