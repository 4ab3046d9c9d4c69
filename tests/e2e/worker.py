"""A subprocess that drives a store and reports each call that returned (one JSON line each).

Used by the crash and multi-process tests: the parent kills it at random moments, or
runs it beside its own store, and then checks what the store holds.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from memorylink import EventSettings, IndexSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

KEYS = [bytes([n]) * 32 for n in range(1, 4)]


def token(n: int, kind: str = "worker") -> str:
    """Two words unique to memory ``n``: templated texts alone are near-ties that HNSW handles poorly."""
    digest = hashlib.sha256(f"{kind}{n}".encode()).hexdigest()
    return f"w{digest[:8]} w{digest[8:16]}"


def assert_indexed(store: MemoryStore, memory_id: str) -> None:
    """The indexes hold this memory under its id, with the embedding and the terms of its current text.

    (A search by the text is not a sound check here: the hashing embedder's sparse vectors
    of templated texts are full of exact distance ties, on which HNSW recall is poor.)
    """
    import numpy as np

    from memorylink.ids import decode_id

    memory = store.get(memory_id)
    assert memory is not None, memory_id
    stored = store._state.index.get_vectors(np.array([decode_id(memory_id)], dtype=np.int64))[0]
    expected = store.embedder.embed([memory.text])[0]
    assert float(stored @ expected) > 0.999, (memory_id, memory.text)
    # The keyword index holds the terms of the current text, too.
    from memorylink.index._tokenize import tokenize

    assert store._state.keywords.terms_of(decode_id(memory_id)) == sorted(set(tokenize(memory.text))), memory_id


def report(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main() -> None:
    directory, mode = Path(sys.argv[1]), sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    key_index = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    settings = Settings(
        index=IndexSettings(checkpoint_after_changes=150),
        write_chunk_size=16,
        events=EventSettings(delivery_poll_interval_s=0.05),  # webhook mode: deliver while adding
    )
    store = MemoryStore.open(directory, key=KEYS[key_index], embedder=HashingEmbedder(), settings=settings)
    report(ready=True)
    if mode == "add_many":
        for batch in range(count):
            result = store.add_many([f"batch {batch} item {i}" for i in range(40)])
            report(op="add_many", ids=result.ids, batch=batch)
    elif mode == "add":
        for n in range(count):
            memory = store.add(f"worker memory {n} {token(n)}", tags=["worker"])
            report(op="add", id=memory.id, n=n)
    elif mode == "update":
        ids = [m.id for m in store.list(limit=1000).items]
        for n in range(count):
            target = ids[n % len(ids)]
            memory = store.update(target, text=f"version {n} of {target}", metadata={"n": n})
            report(op="update", id=target, n=n, version=memory.version)
    elif mode == "delete":
        ids = [m.id for m in store.list(limit=1000).items]
        for target in ids[:count]:
            store.delete(target)
            report(op="delete", id=target)
    elif mode == "rotate":
        current = key_index
        for n in range(count):
            current = (current + 1) % len(KEYS)
            store.rotate_key(key=KEYS[current])
            report(op="rotate", key=current, n=n)
    elif mode == "search":
        query = sys.argv[5]
        hits = store.search(query, top_k=5).hits
        report(op="search", ids=[h.memory.id for h in hits])
    store.close()
    report(closed=True)


if __name__ == "__main__":
    main()
