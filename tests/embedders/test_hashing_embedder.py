"""HashingEmbedder: deterministic, dependency-free feature hashing."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.embedders import Embedder, HashingEmbedder
from memorylink.errors import ValidationError

TEXTS = [
    "The quick brown fox jumps over the lazy dog",
    "Meeting with Alice about the Q4 roadmap",
    "",
    "   !!! ...",
    "Ünïcödé wörds — naïve café",
    "x",
]

_SUBPROCESS = """
import sys
from memorylink.embedders.hashing import HashingEmbedder
texts = sys.stdin.read().split("\\x1e")
sys.stdout.write(HashingEmbedder(dimension=64).embed(texts).tobytes().hex())
"""


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_is_an_embedder() -> None:
    embedder = HashingEmbedder()
    assert isinstance(embedder, Embedder)
    assert embedder.name == "memorylink/hashing-v1"
    assert embedder.dimension == 384


def test_shape_dtype_and_unit_norms() -> None:
    vectors = HashingEmbedder(dimension=128).embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 128)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_sequence_gives_zero_rows() -> None:
    vectors = HashingEmbedder(dimension=32).embed([])
    assert vectors.shape == (0, 32)
    assert vectors.dtype == np.float32


def test_text_without_tokens_maps_to_one_fixed_unit_vector() -> None:
    embedder = HashingEmbedder(dimension=16)
    vectors = embedder.embed(["", "   ", "?!", "..."])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    for row in vectors[1:]:
        np.testing.assert_array_equal(row, vectors[0])


def test_deterministic_within_a_process_and_independent_of_batching() -> None:
    embedder = HashingEmbedder()
    together = embedder.embed(TEXTS)
    one_by_one = np.vstack([embedder.embed([text]) for text in TEXTS])
    np.testing.assert_array_equal(together, one_by_one)
    np.testing.assert_array_equal(together, HashingEmbedder().embed(TEXTS))


def test_deterministic_across_processes() -> None:
    """Two interpreters with different hash seeds give bit-identical vectors."""
    outputs = []
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS],
            input="\x1e".join(TEXTS),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    here = HashingEmbedder(dimension=64).embed(TEXTS).tobytes().hex()
    assert outputs[0] == here


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    base, similar, unrelated = HashingEmbedder().embed(
        [
            "the cat sat on the mat in the kitchen",
            "a cat sat on the kitchen mat",
            "quarterly revenue grew by five percent",
        ]
    )
    assert _cosine(base, similar) > _cosine(base, unrelated) + 0.3


def test_case_and_punctuation_do_not_matter() -> None:
    a, b = HashingEmbedder().embed(["Hello, World!", "hello world"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_word_order_matters_through_bigrams() -> None:
    forward, backward, same = HashingEmbedder().embed(["alice pays bob", "bob pays alice", "alice pays bob"])
    np.testing.assert_array_equal(forward, same)
    assert _cosine(forward, backward) < 0.99


def test_dimension_changes_vectors() -> None:
    assert HashingEmbedder(dimension=8).embed(["hello"]).shape == (1, 8)
    assert HashingEmbedder(dimension=1).embed(["hello", ""]).shape == (2, 1)


@pytest.mark.parametrize("dimension", [0, -1, 2.5, True, "384"])
def test_rejects_bad_dimension(dimension: object) -> None:
    with pytest.raises(ValidationError, match="dimension"):
        HashingEmbedder(dimension=dimension)  # type: ignore[arg-type]


def test_rejects_a_bare_string_and_non_strings() -> None:
    embedder = HashingEmbedder()
    with pytest.raises(ValidationError, match="sequence of texts"):
        embedder.embed("hello")
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]


def test_large_batch_spanning_several_blocks() -> None:
    texts = [f"note number {i} about topic {i % 7}" for i in range(10_000)]
    vectors = HashingEmbedder(dimension=64).embed(texts)
    assert vectors.shape == (10_000, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[9_999], HashingEmbedder(dimension=64).embed([texts[9_999]])[0])


def test_thread_safe() -> None:
    embedder = HashingEmbedder(dimension=64)
    expected = embedder.embed(TEXTS)
    failures: list[str] = []

    def worker() -> None:
        for _ in range(50):
            if not np.array_equal(embedder.embed(TEXTS), expected):
                failures.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=8))
def test_any_texts_give_unit_rows(texts: list[str]) -> None:
    vectors = HashingEmbedder(dimension=32).embed(texts)
    assert vectors.shape == (len(texts), 32)
    assert np.all(np.isfinite(vectors))
    if texts:
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
