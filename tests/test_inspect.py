"""MemoryStore.describe (identity without the key) and open() choosing the recorded embedder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from memorylink import EmbedderMismatchError, MemoryStore, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.embedders.known import EMBEDDER_CHOICES, embedder_for, embedder_named

KEY = bytes(range(32))


def _digest(root: Path) -> dict[str, str]:
    # SQLite may create its empty -wal / -shm companions for any reader; stored bytes must not change.
    files = [p for p in sorted(root.iterdir()) if p.is_file() and not p.name.endswith(("-wal", "-shm"))]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_describe_reads_identity_without_the_key_and_changes_nothing(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "s", passphrase="pw", embedder=HashingEmbedder(64)) as store:
        store.add("hello")
        key_id = store.stats().key_id
    before = _digest(tmp_path / "s")
    info = MemoryStore.describe(tmp_path / "s")
    assert (info.embedder, info.dimension, info.key_kind, info.key_id) == (
        "memorylink/hashing-v1",
        64,
        "passphrase",
        key_id,
    )
    assert info.schema_version >= 2 and info.created_by and info.created_by.startswith("memorylink ")
    assert _digest(tmp_path / "s") == before
    with pytest.raises(ValidationError, match="no memorylink store"):
        MemoryStore.describe(tmp_path / "missing")


def test_open_without_an_embedder_uses_the_recorded_one(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(32)) as store:
        memory = store.add("reopened with the embedder the store records")
    with MemoryStore.open(tmp_path / "s", key=KEY) as store:
        assert store.embedder.name == "memorylink/hashing-v1" and store.embedder.dimension == 32
        assert store.search("reopened embedder", top_k=1).hits[0].memory.id == memory.id


def test_a_custom_embedder_must_be_passed_again(tmp_path: Path) -> None:
    class Custom(HashingEmbedder):
        @property
        def name(self) -> str:
            return "acme/custom-v3"

    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=Custom(16)):
        pass
    with pytest.raises(EmbedderMismatchError, match="acme/custom-v3"):
        MemoryStore.open(tmp_path / "s", key=KEY)
    assert embedder_for("memorylink/hashing-v1", 16, batch_size=8).dimension == 16
    with pytest.raises(EmbedderMismatchError, match="acme/x"):
        embedder_for("acme/x", 3)


def test_every_choice_builds_a_lazy_embedder_with_its_own_name() -> None:
    names = {choice: embedder_named(choice).name for choice in EMBEDDER_CHOICES}
    assert len(set(names.values())) == len(names)
    for choice, name in names.items():
        built = embedder_for(name, embedder_named(choice).dimension)
        assert built.name == name
    with pytest.raises(ValidationError, match="unknown embedder"):
        embedder_named("word2vec")
