"""The embedders memorylink ships, chosen by the name a store records.

A store remembers its embedder's ``name`` and ``dimension``; :func:`embedder_for` builds
the matching embedder again, so front-ends (and ``MemoryStore.open`` without an
``embedder``) reopen a store with the model it was built with. Building one is cheap:
no model is loaded until a text is embedded.
"""

from __future__ import annotations

from memorylink.embedders.base import Embedder
from memorylink.errors import EmbedderMismatchError, ValidationError

__all__ = ["EMBEDDER_CHOICES", "embedder_for", "embedder_named"]

EMBEDDER_CHOICES: dict[str, str] = {
    "minilm": "all-MiniLM-L6-v2 on sentence-transformers (torch): the default",
    "minilm-onnx": "all-MiniLM-L6-v2, int8, on onnxruntime: loads in well under a second, no torch",
    "hashing": "feature hashing: no model, matches shared words only (tests and demos)",
}
"""Short names accepted by :func:`embedder_named` (and the CLI's ``init --embedder``)."""


def embedder_named(choice: str, *, batch_size: int = 64) -> Embedder:
    """The embedder for a short name in :data:`EMBEDDER_CHOICES`.

    Raises:
        ValidationError: An unknown name (the error lists the choices).
    """
    if choice == "minilm":
        from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(batch_size=batch_size)
    if choice == "minilm-onnx":
        from memorylink.embedders.onnx import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(batch_size=batch_size)
    if choice == "hashing":
        from memorylink.embedders.hashing import HashingEmbedder

        return HashingEmbedder()
    raise ValidationError(
        f"unknown embedder {choice!r}; choose one of {', '.join(EMBEDDER_CHOICES)}",
        field="embedder",
        details={"choices": list(EMBEDDER_CHOICES)},
    )


def embedder_for(name: str, dimension: int, *, batch_size: int = 64) -> Embedder:
    """The shipped embedder whose ``name`` and ``dimension`` are these (as a store records them).

    Raises:
        EmbedderMismatchError: No shipped embedder has that name: the store was built with
            a custom embedder, which the caller must pass itself.
    """
    for choice in EMBEDDER_CHOICES:
        candidate = _candidate_name(choice)
        if candidate == name:
            embedder = _hashing(dimension) if choice == "hashing" else embedder_named(choice, batch_size=batch_size)
            if embedder.dimension == dimension:
                return embedder
    raise EmbedderMismatchError(
        f"this store was built with embedder {name!r} ({dimension} dimensions), which memorylink does not "
        "ship; open it with that embedder (MemoryStore.open(..., embedder=...))",
        details={"recorded": name},
    )


def _candidate_name(choice: str) -> str | None:
    if choice == "minilm":
        from memorylink.embedders.sentence_transformers import DEFAULT_MODEL_NAME

        return DEFAULT_MODEL_NAME
    if choice == "minilm-onnx":
        try:
            from memorylink.embedders import onnx
        except ImportError:  # pragma: no cover - the module ships with memorylink
            return None
        return str(onnx.MODEL_NAME)
    from memorylink.embedders.hashing import HashingEmbedder

    return HashingEmbedder().name


def _hashing(dimension: int) -> Embedder:
    from memorylink.embedders.hashing import HashingEmbedder

    return HashingEmbedder(dimension)
