"""One store shared by many threads: writers and readers at once, nothing lost or torn."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from memorylink import MemoryStore


def test_concurrent_writers_and_readers(store: MemoryStore) -> None:
    store.add_many([f"seed memory {i}" for i in range(50)])
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(worker: int) -> list[str]:
        start.wait(timeout=30)
        ids = []
        for n in range(40):
            ids.append(store.add(f"writer {worker} memory {n}", tags=[f"w{worker}"]).id)
            if n % 10 == 0:
                store.update(ids[-1], text=f"writer {worker} memory {n} updated")
        return ids

    def reader(worker: int) -> int:
        start.wait(timeout=30)
        seen = 0
        for n in range(60):
            result = store.search(f"memory {n}", top_k=5, filter={"tags": {"any": ["w0", "w1"]}} if n % 2 else None)
            seen += len(result.hits)
            store.list(limit=5)
        return seen

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(writer, w) for w in range(4)]
        reads = [pool.submit(reader, r) for r in range(4)]
        for future in writes + reads:
            try:
                future.result(timeout=300)
            except BaseException as error:  # collected so every failure is reported
                errors.append(error)
    assert errors == []
    written = [memory_id for future in writes for memory_id in future.result()]
    assert len(set(written)) == 160
    stats = store.stats()
    assert stats.memories == 210
    assert stats.index_entries == 210
    for worker in range(4):
        assert store.search("memory", top_k=100, tags=[f"w{worker}"]).total == 40
