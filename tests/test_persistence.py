"""What lands on disk: encryption at rest, wrong keys, reopening, snapshots, key rotation."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from memorylink import (
    EmbedderMismatchError,
    IndexSettings,
    InvalidKeyError,
    MemoryStore,
    Settings,
    ValidationError,
)
from memorylink.embedders.hashing import HashingEmbedder

# The same keys as tests/conftest.py (not imported: every test directory has a module named conftest).
KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))

CANARIES = [
    "zebracanaryalpha",
    "CanaryTagBravo",
    "canarymetakeycharlie",
    "canarymetavaluedelta",
    "canaryuserecho",
]


def _disk(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _assert_no_plaintext(directory: Path, needles: list[bytes]) -> None:
    for name, data in _disk(directory).items():
        for needle in needles:
            assert needle not in data, f"{needle[:24]!r} found in {name}"


def _canary_store(store: MemoryStore) -> list[bytes]:
    text = f"the secret word is {CANARIES[0]} and nothing else"
    store.add(
        text,
        tags=[CANARIES[1]],
        metadata={CANARIES[2]: CANARIES[3], "nested": {"deep": CANARIES[3]}},
        user_id=CANARIES[4],
        agent_id=CANARIES[4] + "agent",
        run_id=CANARIES[4] + "run",
    )
    updated = store.add("to be updated " + CANARIES[0])
    store.update(updated.id, text="changed " + CANARIES[0])
    vector = store.embedder.embed([text])[0]
    needles = [c.encode() for c in CANARIES] + [c.encode("utf-16-le") for c in CANARIES]
    raw = vector.astype(np.float32)
    # The hashing embedder's vectors are sparse: look for 8-byte windows that start at a non-zero value.
    windows = [i for i in range(len(raw) - 1) if raw[i] != 0]
    assert windows, "the canary vector has no non-zero component"
    needles.extend(raw[i : i + 2].tobytes() for i in windows[:8])
    return needles


def test_nothing_plaintext_at_rest_while_open_and_after_close(
    open_store: Callable[..., MemoryStore], tmp_path: Path
) -> None:
    store = open_store()
    needles = _canary_store(store)
    _assert_no_plaintext(tmp_path / "store", needles)
    store.checkpoint()
    _assert_no_plaintext(tmp_path / "store", needles)
    store.close()
    _assert_no_plaintext(tmp_path / "store", needles)
    assert any(p.name.startswith("index-") for p in (tmp_path / "store").iterdir())
    # the keyword index (its vocabulary holds the canary words) is on disk too, encrypted
    assert any(p.name.startswith("keywords-") for p in (tmp_path / "store").iterdir())


def test_store_directory_is_private(store: MemoryStore) -> None:
    assert store.path is not None
    assert store.path.stat().st_mode & 0o077 == 0


def test_wrong_key_raises_and_changes_no_byte(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    store.add("keep me safe")
    store.close()
    before = _disk(tmp_path / "store")
    with pytest.raises(InvalidKeyError):
        MemoryStore.open(tmp_path / "store", key=OTHER_KEY, embedder=embedder)
    with pytest.raises(InvalidKeyError):
        MemoryStore.open(tmp_path / "store", passphrase="not the key", embedder=embedder)
    assert _disk(tmp_path / "store") == before
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert reopened.search("keep me safe").hits[0].memory.text == "keep me safe"


def test_wrong_passphrase(open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder) -> None:
    store = open_store("pp", passphrase="correct horse battery staple")
    store.add("protected")
    store.close()
    before = _disk(tmp_path / "pp")
    with pytest.raises(InvalidKeyError):
        MemoryStore.open(tmp_path / "pp", passphrase="wrong horse", embedder=embedder)
    assert _disk(tmp_path / "pp") == before
    with MemoryStore.open(tmp_path / "pp", passphrase="correct horse battery staple", embedder=embedder) as again:
        assert again.list().items[0].text == "protected"


def test_open_argument_errors(tmp_path: Path, embedder: HashingEmbedder) -> None:
    with pytest.raises(ValidationError):
        MemoryStore.open(tmp_path / "x", embedder=embedder)
    with pytest.raises(ValidationError):
        MemoryStore.open(tmp_path / "x", key=KEY, passphrase="p", embedder=embedder)
    with pytest.raises(ValidationError):
        MemoryStore.open(tmp_path / "missing", key=KEY, embedder=embedder, create=False)
    (tmp_path / "file").write_text("not a dir")
    with pytest.raises(ValidationError):
        MemoryStore.open(tmp_path / "file", key=KEY, embedder=embedder)


def test_reopen_keeps_everything(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    ids = store.add_many([f"fact number {i} about topic {i % 7}" for i in range(300)]).ids
    store.update(ids[5], text="a rewritten fact")
    store.delete(ids[6])
    store.close()
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert reopened.stats().memories == 299
        assert reopened.search("a rewritten fact", top_k=1).hits[0].memory.id == ids[5]
        assert reopened.get(ids[6]) is None
        assert all(h.memory.id != ids[6] for h in reopened.search("fact number 6", top_k=50).hits)
        assert reopened.stats().journal_entries == 0


def test_index_rebuilt_when_snapshot_lost(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    ids = store.add_many([f"memory {i}" for i in range(50)]).ids
    store.close()
    for snapshot in (tmp_path / "store").glob("index-*"):
        snapshot.unlink()
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert reopened.stats().index_entries == 50
        assert reopened.search("memory 7", top_k=1).hits[0].memory.id == ids[7]


def test_tampered_snapshot_is_rebuilt(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    store.add_many([f"memory {i}" for i in range(20)])
    store.close()
    (snapshot,) = (tmp_path / "store").glob("index-*")
    data = bytearray(snapshot.read_bytes())
    data[-5] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert reopened.stats().index_entries == 20


def test_journal_checkpoints_and_prunes(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    settings = Settings(index=IndexSettings(checkpoint_after_changes=10))
    store = open_store(settings=settings)
    ids = [store.add(f"entry {i}").id for i in range(25)]
    # Snapshots come once the journal is as long as the index (10 entries, then 20, ...),
    # so after 25 writes the journal holds only what the last snapshot does not cover.
    stats = store.stats()
    assert stats.journal_entries == 15
    assert stats.index_entries == 25
    store.close()
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder, settings=settings) as reopened:
        assert {h.memory.id for h in reopened.search("entry", top_k=25).hits} == set(ids)


def test_embedder_mismatch_and_reembed(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    store = open_store()
    memory = store.add("needs re-embedding")
    store.close()
    other = HashingEmbedder(dimension=128)
    with pytest.raises(EmbedderMismatchError) as caught:
        MemoryStore.open(tmp_path / "store", key=KEY, embedder=other)
    assert "reembed=True" in str(caught.value)
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=other, reembed=True) as reembedded:
        assert reembedded.stats().dimension == 128
        assert reembedded.search("needs re-embedding").hits[0].memory.id == memory.id
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=other) as again:
        assert again.search("needs re-embedding").hits[0].memory.id == memory.id


def test_rotate_key(open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder) -> None:
    store = open_store()
    memory = store.add("rotate me", tags=["t"], metadata={"k": "v"}, user_id="u")
    store.update(memory.id, text="rotated text")
    old_id = store.stats().key_id
    new_id = store.rotate_key(passphrase="a brand new passphrase")
    assert new_id != old_id
    assert store.search("rotated text", user_id="u").hits[0].memory.id == memory.id
    store.close()
    with pytest.raises(InvalidKeyError):
        MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder)
    with MemoryStore.open(tmp_path / "store", passphrase="a brand new passphrase", embedder=embedder) as reopened:
        assert reopened.get(memory.id, user_id="u") is not None
        assert [v.text for v in reopened.history(memory.id)] == ["rotate me", "rotated text"]
        assert reopened.search("rotated", user_id="u").hits[0].memory.id == memory.id
        assert len(list((tmp_path / "store").glob("index-*"))) == 1


def test_export_import_encrypted_and_plaintext(open_store: Callable[..., MemoryStore]) -> None:
    source = open_store("source")
    a = source.add("alpha memory", tags=["x"], metadata={"n": 1}, user_id="u1")
    source.add("beta memory", user_id="u2")
    sealed = io.StringIO()
    assert source.export(sealed) == 2
    assert "alpha memory" not in sealed.getvalue()
    plain = io.StringIO()
    source.export(plain, plaintext=True, user_id="u1")
    assert "alpha memory" in plain.getvalue() and "beta" not in plain.getvalue()

    target = open_store("target", key=OTHER_KEY)
    with pytest.raises(InvalidKeyError):
        target.import_(io.StringIO(sealed.getvalue()))
    result = target.import_(io.StringIO(sealed.getvalue()), key=KEY)
    assert result.imported == 2 and result.failed == 0
    copied = target.get(a.id)
    assert copied is not None and copied.text == "alpha memory" and copied.created_at == a.created_at
    again = target.import_(io.StringIO(sealed.getvalue()), key=KEY)
    assert again.imported == 0 and again.skipped == 2
    fresh = target.import_(io.StringIO(plain.getvalue()), on_conflict="new_id")
    assert fresh.imported == 1 and fresh.ids[0] != a.id


def test_import_bad_lines_fail_alone(store: MemoryStore) -> None:
    good = store.add("good line")
    buffer = io.StringIO()
    store.export(buffer, plaintext=True)
    lines = buffer.getvalue().splitlines()
    store.delete(good.id)
    lines.insert(1, "{not json")
    lines.append('{"id": "0000000000000", "text": ""}')
    result = store.import_(io.StringIO("\n".join(lines) + "\n"))
    assert result.imported == 1
    assert result.failed == 2
    assert [e.line for e in result.errors] == [2, 4]
    assert "line 2" in result.errors[0].error.message
    with pytest.raises(ValidationError):
        store.import_(io.StringIO("just text\n"))


def test_index_shape_is_recorded(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store(settings=Settings(index=IndexSettings(m=8, ef_construction=40)))
    store.add_many([f"memory {i}" for i in range(10)])
    store.close()
    for snapshot in (tmp_path / "store").glob("index-*"):
        snapshot.unlink()
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        index = reopened._state.index
        assert (index.m, index.ef_construction) == (8, 40)  # type: ignore[attr-defined]


def test_pruned_journal_space_is_returned(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    store = open_store()
    store.add_many([f"memory number {i} about something" for i in range(2000)])
    store.close()
    database = (tmp_path / "store" / "memorylink.db").stat().st_size
    # 2,000 short texts need far less than their 2,000 journal vectors (about 3 MB) took.
    assert database < 1_000_000


@pytest.mark.parametrize("keep", [0, 5, 100])
def test_truncated_snapshot_is_rebuilt(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder, keep: int
) -> None:
    store = open_store()
    store.add_many([f"memory {i}" for i in range(20)])
    store.close()
    (snapshot,) = (tmp_path / "store").glob("index-*")
    snapshot.write_bytes(snapshot.read_bytes()[:keep])
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert reopened.stats().index_entries == 20


def test_key_and_passphrase_never_reach_the_directory(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    passphrase = "canary passphrase never stored"
    store = open_store("pp", passphrase=passphrase)
    store.add("something")
    store.close()
    raw = open_store("raw", key=KEY)
    raw.add("something")
    raw.close()
    needles = [passphrase.encode(), KEY, KEY.hex().encode()]
    _assert_no_plaintext(tmp_path / "pp", needles)
    _assert_no_plaintext(tmp_path / "raw", needles)
