"""A deterministic, dependency-free feature-hashing embedder (the test and reference embedder).

It knows nothing about meaning: texts that share words (and word pairs) get similar
vectors, texts that share none get nearly orthogonal ones. That is enough for tests,
examples and offline demos, and it is fast and stable: the same text gives the same
vector in every process, on every platform and in every release of this name.

Algorithm (``memorylink/hashing-v1``):

1. Lowercase the text and take its word tokens (regex ``\\w+``).
2. Features are the unigrams plus the bigrams of adjacent tokens.
3. Each unigram is hashed to 64 bits with BLAKE2b (personalised, so the hash is
   specific to this embedder); a bigram's hash is a fixed 64-bit mix of its two
   unigram hashes (order-sensitive). Python's ``hash()`` is never used: it is salted
   per process.
4. The top 32 bits of a feature hash pick its bucket (``% dimension``) and its sign
   (top bit); each distinct feature of a text adds ``sign * (1 + ln(tf))``.
5. Rows are L2-normalised; a text with no tokens (or whose features cancel out) maps
   to the fixed unit vector ``[1/sqrt(d)] * d``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memorylink.errors import ValidationError

__all__ = ["HashingEmbedder"]

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"\w+")
# BLAKE2b personalisation (at most 16 bytes): makes the hashes specific to this embedder.
_PERSON = b"memorylink-hv1"
# Texts per vectorised block: bounds the temporary (block x dimension) float64 buffer.
_BLOCK = 4096

# splitmix64 constants; the bigram mix must be order-sensitive so "a b" != "b a".
_MIX_MUL_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_MUL_B = np.uint64(0xBF58476D1CE4E5B9)
_MIX_MUL_C = np.uint64(0x94D049BB133111EB)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_32 = np.uint64(32)
_ROT = np.uint64(23)
_ROT_BACK = np.uint64(64 - 23)


def _hash_tokens(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    """64-bit BLAKE2b hashes of ``tokens`` (little-endian, stable everywhere)."""
    digest = b"".join(
        hashlib.blake2b(token.encode("utf-8"), digest_size=8, person=_PERSON).digest() for token in tokens
    )
    return np.frombuffer(digest, dtype="<u8").astype(np.uint64)


def _mix_pairs(left: npt.NDArray[np.uint64], right: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Order-sensitive 64-bit mix of two hash arrays (splitmix64 finaliser)."""
    # Integer array arithmetic in numpy wraps modulo 2**64 without warnings, which is what we want.
    x = left * _MIX_MUL_A
    x ^= (right << _ROT) | (right >> _ROT_BACK)
    x ^= x >> _SHIFT_30
    x *= _MIX_MUL_B
    x ^= x >> _SHIFT_27
    x *= _MIX_MUL_C
    x ^= x >> _SHIFT_31
    return x


class HashingEmbedder:
    """Feature-hashing embedder: deterministic, dependency-free (numpy + hashlib) and stateless.

    Meant for tests, examples and as the reference :class:`~memorylink.embedders.Embedder`;
    it matches shared words, not meaning. Safe to use from several threads (it holds no
    mutable state).

    Args:
        dimension: Length of the output vectors (>= 1). Changing it changes every vector;
            the store records the dimension beside the name and refuses a mismatch.

    Raises:
        ValidationError: If ``dimension`` is not a positive integer.

    Example:
        >>> emb = HashingEmbedder(dimension=64)
        >>> emb.embed(["hello world"]).shape
        (1, 64)
    """

    def __init__(self, dimension: int = 384) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ValidationError(f"dimension must be a positive integer, got {dimension!r}", field="dimension")
        self._dimension = dimension
        empty_row = np.full(dimension, 1.0 / math.sqrt(dimension), dtype=np.float32)
        self._empty_row = empty_row / np.float32(np.linalg.norm(empty_row))

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimension={self._dimension})"

    @property
    def name(self) -> str:
        """The embedder's stable identifier, ``"memorylink/hashing-v1"``."""
        return "memorylink/hashing-v1"

    @property
    def dimension(self) -> int:
        """Length of the vectors :meth:`embed` returns."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` into unit-norm vectors.

        Args:
            texts: The texts to embed (a sequence of ``str``, not a bare ``str``).

        Returns:
            A C-contiguous ``float32`` array of shape ``(len(texts), dimension)`` whose rows
            have unit L2 norm.

        Raises:
            ValidationError: If ``texts`` is a bare string or holds a non-string.
        """
        if isinstance(texts, str):
            raise ValidationError("embed() takes a sequence of texts, not a single string", field="texts")
        n = len(texts)
        out = np.empty((n, self._dimension), dtype=np.float32)
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            out[start:stop] = self._embed_block(texts, start, stop)
        return out

    def _embed_block(self, texts: Sequence[str], start: int, stop: int) -> npt.NDArray[np.float32]:
        """Embed ``texts[start:stop]`` (vectorised over the whole block)."""
        dim = self._dimension
        count = stop - start
        token_ids: list[int] = []
        lengths = np.zeros(count, dtype=np.int64)
        vocab: dict[str, int] = {}
        for row in range(count):
            text = texts[start + row]
            if not isinstance(text, str):
                raise ValidationError(
                    f"texts[{start + row}] must be a str, got {type(text).__name__}",
                    field=f"texts[{start + row}]",
                )
            tokens = _TOKEN_RE.findall(text.lower())
            lengths[row] = len(tokens)
            # setdefault hashes each distinct token of the block once, however often it occurs.
            token_ids.extend(vocab.setdefault(token, len(vocab)) for token in tokens)

        block = np.zeros((count, dim), dtype=np.float32)
        if token_ids:
            unigram = _hash_tokens(list(vocab))[np.asarray(token_ids, dtype=np.int64)]
            rows = np.repeat(np.arange(count, dtype=np.int64), lengths)
            # A bigram joins token i and i + 1 only when both belong to the same text.
            same_text = rows[:-1] == rows[1:]
            bigram = _mix_pairs(unigram[:-1][same_text], unigram[1:][same_text])
            feature = np.concatenate([unigram, bigram]) >> _SHIFT_32
            feature_rows = np.concatenate([rows, rows[:-1][same_text]])

            # One key per (text, feature): counting keys gives each feature's term frequency.
            keys, tf = np.unique((feature_rows.astype(np.uint64) << _SHIFT_32) | feature, return_counts=True)
            key_rows = (keys >> _SHIFT_32).astype(np.int64)
            key_feature = keys & np.uint64(0xFFFFFFFF)
            bucket = ((key_feature & np.uint64(0x7FFFFFFF)) % np.uint64(dim)).astype(np.int64)
            sign = np.where((key_feature >> _SHIFT_31) == 0, 1.0, -1.0)
            weight = sign * (1.0 + np.log(tf))
            flat = np.bincount(key_rows * dim + bucket, weights=weight, minlength=count * dim)
            block[:] = flat.reshape(count, dim)

        norms = np.linalg.norm(block, axis=1)
        # Exact zero happens for token-less texts and, rarely, when signed features cancel.
        empty = norms == 0.0
        norms[empty] = 1.0
        block /= norms[:, None]
        block[empty] = self._empty_row
        return block
