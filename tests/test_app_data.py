"""store.app_data: front-end state sealed in the store, under blind-indexed names."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink import AsyncMemoryStore, InvalidKeyError, LimitExceededError, MemoryStore, ValidationError
from memorylink.app_data import MAX_VALUE_BYTES
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.errors import StoreClosedError, StoreCorruptedError

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))
NAMESPACE_CANARY = "canaryspace.alpha"
KEY_CANARY = "canarykeybravo"
VALUE_CANARY = "canaryvaluecharlie"


def open_store(path: Path, key: bytes = KEY) -> MemoryStore:
    return MemoryStore.open(path, key=key, embedder=HashingEmbedder())


def _disk_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_round_trip_bytes_and_json(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        assert store.app_data.get("app.x", "missing") is None
        assert store.app_data.put("app.x", "raw", b"\x00\x01bytes") is True
        assert store.app_data.get("app.x", "raw") == b"\x00\x01bytes"
        store.app_data.put_json("app.x", "doc", {"a": [1, 2], "b": "é"})
        assert store.app_data.get_json("app.x", "doc") == {"a": [1, 2], "b": "é"}
        store.app_data.put_json("app.x", "doc", {"a": 3})
        assert store.app_data.get_json("app.x", "doc") == {"a": 3}
        assert store.app_data.count("app.x") == 2
        # The same key in another namespace is another value.
        assert store.app_data.get("app.y", "doc") is None
        assert store.app_data.delete("app.x", "raw") is True
        assert store.app_data.delete("app.x", "raw") is False
        assert [e.key for e in store.app_data.entries("app.x")] == ["doc"]
    with open_store(tmp_path / "s") as store:
        assert store.app_data.get_json("app.x", "doc") == {"a": 3}


def test_only_new_keeps_the_existing_value(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        assert store.app_data.put_json("app.users", "alice", 1, only_new=True) is True
        assert store.app_data.put_json("app.users", "alice", 2, only_new=True) is False
        assert store.app_data.get_json("app.users", "alice") == 1


def test_entries_page_in_insertion_order_and_newest_first(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        for number in range(7):
            store.app_data.put_json("app.log", f"k{number}", number)
        store.app_data.put_json("app.log", "k2", "rewritten")  # keeps its position
        oldest_first = store.app_data.entries("app.log")
        assert [e.key for e in oldest_first] == [f"k{n}" for n in range(7)]
        assert oldest_first[2].json() == "rewritten"
        newest = store.app_data.entries("app.log", newest_first=True, limit=3)
        assert [e.key for e in newest] == ["k6", "k5", "k4"]
        older = store.app_data.entries("app.log", newest_first=True, limit=3, before_seq=newest[-1].seq)
        assert [e.key for e in older] == ["k3", "k2", "k1"]
        after = store.app_data.entries("app.log", after_seq=oldest_first[4].seq)
        assert [e.key for e in after] == ["k5", "k6"]


def test_update_json_is_atomic_across_threads(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        store.app_data.put_json("app.counter", "n", 0)

        def bump() -> None:
            for _ in range(25):
                store.app_data.update_json("app.counter", "n", lambda value: value + 1)

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert store.app_data.get_json("app.counter", "n") == 100
        assert store.app_data.update_json("app.counter", "n", lambda value: None) is None
        assert store.app_data.get("app.counter", "n") is None
        assert store.app_data.update_json("app.counter", "fresh", lambda value: {"was": value}) == {"was": None}


def test_a_failing_update_changes_nothing(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        store.app_data.put_json("app.x", "k", {"v": 1})

        def boom(value: object) -> object:
            raise RuntimeError("no")

        with pytest.raises(RuntimeError):
            store.app_data.update_json("app.x", "k", boom)
        assert store.app_data.get_json("app.x", "k") == {"v": 1}


def test_nothing_plaintext_at_rest(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    store.app_data.put_json(NAMESPACE_CANARY, KEY_CANARY, {"secret": VALUE_CANARY})
    store.app_data.put(NAMESPACE_CANARY, KEY_CANARY + "2", VALUE_CANARY.encode())
    needles = [c.encode() for c in (NAMESPACE_CANARY, KEY_CANARY, VALUE_CANARY)]
    for name, data in _disk_bytes(tmp_path / "s").items():
        for needle in needles:
            assert needle not in data, (needle, name)
    store.close()
    for name, data in _disk_bytes(tmp_path / "s").items():
        for needle in needles:
            assert needle not in data, (needle, name)


def test_survives_rotate_key_and_names_are_reindexed(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        for number in range(5):
            store.app_data.put_json("app.keys", f"key{number}", {"n": number})
        connection = sqlite3.connect(tmp_path / "s" / "memorylink.db")
        before = {row[0]: bytes(row[1]) for row in connection.execute("SELECT seq, key_bi FROM app_data")}
        connection.close()
        store.rotate_key(key=OTHER_KEY)
        assert store.app_data.get_json("app.keys", "key3") == {"n": 3}
        assert [e.key for e in store.app_data.entries("app.keys")] == [f"key{n}" for n in range(5)]
    connection = sqlite3.connect(tmp_path / "s" / "memorylink.db")
    after = {row[0]: bytes(row[1]) for row in connection.execute("SELECT seq, key_bi FROM app_data")}
    connection.close()
    assert set(after) == set(before)
    assert all(after[seq] != before[seq] for seq in before)  # the blind indexes follow the key
    with pytest.raises(InvalidKeyError):
        open_store(tmp_path / "s", key=KEY)
    with open_store(tmp_path / "s", key=OTHER_KEY) as store:
        assert store.app_data.get_json("app.keys", "key0") == {"n": 0}
        store.app_data.put_json("app.keys", "key5", {"n": 5})
        assert store.app_data.count("app.keys") == 6


def test_a_row_moved_to_another_key_fails_its_integrity_check(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        store.app_data.put_json("app.keys", "victim", {"role": "user"})
        store.app_data.put_json("app.keys", "attacker", {"role": "admin"})
    connection = sqlite3.connect(tmp_path / "s" / "memorylink.db")
    rows = dict(connection.execute("SELECT seq, body FROM app_data ORDER BY seq").fetchall())
    first, second = sorted(rows)
    connection.execute("UPDATE app_data SET body = ? WHERE seq = ?", (rows[second], first))
    connection.commit()
    connection.close()
    with open_store(tmp_path / "s") as store, pytest.raises(StoreCorruptedError):
        store.app_data.get("app.keys", "victim")


def test_bad_arguments_name_the_field(tmp_path: Path) -> None:
    with open_store(tmp_path / "s") as store:
        for namespace in ("", "Upper", "1digit", "x" * 65, "spa ce"):
            with pytest.raises(ValidationError) as caught:
                store.app_data.put(namespace, "k", b"v")
            assert caught.value.details["field"] == "namespace"
        with pytest.raises(ValidationError) as caught:
            store.app_data.get("app.x", "")
        assert caught.value.details["field"] == "key"
        with pytest.raises(LimitExceededError):
            store.app_data.put("app.x", "k" * 257, b"v")
        with pytest.raises(ValidationError) as caught:
            store.app_data.put("app.x", "k", "text")  # type: ignore[arg-type]
        assert caught.value.details["field"] == "value"
        with pytest.raises(LimitExceededError) as limit:
            store.app_data.put("app.x", "k", b"x" * (MAX_VALUE_BYTES + 1))
        assert limit.value.maximum == MAX_VALUE_BYTES
        with pytest.raises(ValidationError):
            store.app_data.put_json("app.x", "k", {"not": {1, 2}})
        with pytest.raises(ValidationError):
            store.app_data.entries("app.x", limit=0)
    with pytest.raises(StoreClosedError):
        store.app_data.get("app.x", "k")


@settings(max_examples=40, deadline=None)
@given(
    key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=256),
    value=st.binary(max_size=2048),
)
def test_any_key_and_value_round_trip(key: str, value: bytes) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        store.app_data.put("app.prop", key, value)
        assert store.app_data.get("app.prop", key) == value
        assert [e.key for e in store.app_data.entries("app.prop")] == [key]


def test_async_twin(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncMemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder()) as store:
            await store.app_data.put_json("app.x", "k", [1])
            assert await store.app_data.get_json("app.x", "k") == [1]
            assert await store.app_data.update_json("app.x", "k", lambda v: [*v, 2]) == [1, 2]
            assert [e.key for e in await store.app_data.entries("app.x")] == ["k"]

    asyncio.run(main())


def test_async_app_data_mirrors_the_sync_methods() -> None:
    import inspect

    from memorylink.app_data import AppData
    from memorylink.async_store import AsyncAppData

    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}

    assert public(AsyncAppData) == public(AppData)
    for name in public(AppData):
        assert inspect.signature(getattr(AsyncAppData, name)) == inspect.signature(getattr(AppData, name))
