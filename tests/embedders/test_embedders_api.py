"""The public surface of memorylink.embedders, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import memorylink.embedders


def test_all_is_pinned() -> None:
    assert memorylink.embedders.__all__ == [
        "Embedder",
        "HashingEmbedder",
        "LruCache",
        "OnnxMiniLMEmbedder",
        "SentenceTransformerEmbedder",
    ]
    for name in memorylink.embedders.__all__:
        assert getattr(memorylink.embedders, name).__doc__


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, memorylink.embedders, memorylink.crypto;"
        "print([m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime', 'tokenizers')"
        " if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
