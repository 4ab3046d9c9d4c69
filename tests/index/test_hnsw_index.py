"""HnswIndex specifics: slots and tombstones, strategies, snapshots, parameters."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memorylink.config import IndexSettings
from memorylink.errors import StoreCorruptedError, ValidationError
from memorylink.index import ExactIndex, HnswIndex
from memorylink.index import hnsw as hnsw_module

DIM = 12


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def build(n: int = 100, seed: int = 0, **kwargs: Any) -> HnswIndex:
    kwargs.setdefault("initial_capacity", 16)
    index = HnswIndex(DIM, **kwargs)
    index.add(np.arange(n), vectors(n, seed))
    return index


def slots(index: HnswIndex) -> int:
    """Slots hnswlib has handed out (live + deleted)."""
    return int(index._graph.element_count)


# -- slots, deletes, revival ---------------------------------------------------------------


def test_new_labels_reuse_deleted_slots() -> None:
    index = build(50)
    index.remove(range(10))
    index.add(np.arange(100, 110), vectors(10, seed=1))
    assert slots(index) == 50
    assert len(index) == 50
    index.add(np.array([200]), vectors(1, seed=2))
    assert slots(index) == 51


def test_deleted_label_is_revived_in_its_own_slot() -> None:
    index = build(30)
    index.remove([4, 5])
    fresh = vectors(3, seed=3)
    index.add(np.array([4]), fresh[0])  # one-row path
    index.add(np.array([5, 6]), fresh[1:])  # batch path (6 is live: an update)
    assert slots(index) == 30
    assert not index._tombstones
    for label, vector in zip([4, 5, 6], fresh, strict=True):
        labels, sims = index.search(vector, 1)
        assert labels.tolist() == [label]
        assert sims[0] == pytest.approx(1.0, abs=1e-6)


def test_double_round_trip_answers_the_same() -> None:
    index = build(300)
    index.remove(range(0, 300, 3))
    twice = HnswIndex.from_bytes(HnswIndex.from_bytes(index.to_bytes()).to_bytes())
    for query in vectors(20, seed=20):
        for allowed in (None, np.arange(0, 300, 2)):
            a = index.search(query, 10, allowed=allowed)
            b = twice.search(query, 10, allowed=allowed)
            assert a[0].tolist() == b[0].tolist()
            np.testing.assert_array_equal(a[1], b[1])


def test_re_adding_a_label_whose_slot_was_taken() -> None:
    index = build(20)
    index.remove([3])
    index.add(np.array([99]), vectors(1, seed=4))  # takes label 3's slot
    assert slots(index) == 20
    fresh = vectors(1, seed=5)[0]
    index.add(np.array([3]), fresh)  # hnswlib no longer knows 3: a fresh slot
    assert slots(index) == 21
    assert index.search(fresh, 1)[0].tolist() == [3]
    assert 3 not in index._tombstones


def test_batch_re_add_of_labels_whose_slots_were_taken() -> None:
    index = build(20)
    index.remove([1, 2])
    index.add(np.array([50, 51]), vectors(2, seed=6))
    fresh = vectors(3, seed=7)
    index.add(np.array([1, 2, 3]), fresh)
    assert index.labels().tolist() == sorted([*range(20), 50, 51])
    for label, vector in zip([1, 2, 3], fresh, strict=True):
        assert index.search(vector, 1)[0].tolist() == [label]


def test_growth_doubles_or_jumps_to_the_needed_size() -> None:
    index = HnswIndex(DIM, initial_capacity=16)
    data = vectors(200, seed=21)
    index.add(np.arange(16), data[:16])
    assert index.capacity == 16
    index.add(np.array([16]), data[16])
    assert index.capacity == 32
    index.add(np.arange(17, 33), data[17:33])
    assert index.capacity == 64
    index.add(np.arange(33, 200), data[33:])
    assert index.capacity == 200
    index.remove(range(50))
    index.add(np.arange(1000, 1050), vectors(50, seed=22))
    assert index.capacity == 200  # the deleted slots were reused


def test_many_remove_add_cycles_keep_memory_and_answers_bounded() -> None:
    index = build(64, initial_capacity=64)
    oracle = ExactIndex(DIM)
    oracle.add(np.arange(64), vectors(64))
    rng = np.random.default_rng(8)
    for cycle in range(60):
        gone = rng.choice(index.labels(), 16, replace=False)
        index.remove(gone)
        oracle.remove(gone)
        labels = np.concatenate([gone[:8], np.arange(1000 + 8 * cycle, 1008 + 8 * cycle)])
        fresh = vectors(16, seed=100 + cycle)
        index.add(labels, fresh)
        oracle.add(labels, fresh)
    assert index.labels().tolist() == oracle.labels().tolist()
    assert index.capacity == 64
    assert len(index._tombstones) <= 2 * (slots(index) - len(index)) + 1024
    for query in vectors(20, seed=9):
        assert index.search(query, 10)[0].tolist() == oracle.search(query, 10)[0].tolist()


def test_tombstones_are_pruned() -> None:
    index = HnswIndex(DIM, initial_capacity=16)
    for round_ in range(12):
        labels = np.arange(round_ * 200, round_ * 200 + 200)
        index.add(labels, vectors(200, seed=round_))
        index.remove(labels)
    # 2400 labels were deleted, but at most 200 slots exist: stale tombstones were dropped.
    assert len(index._tombstones) <= 2 * slots(index) + 1024
    index.add(np.array([0]), vectors(1)[0])
    assert index.labels().tolist() == [0]


# -- strategies ----------------------------------------------------------------------------


def test_unfiltered_search_uses_the_graph() -> None:
    index = build(200)
    assert index.last_strategy is None
    index.search(vectors(1, seed=10)[0], 5)
    assert index.last_strategy == "hnsw"


def test_selective_filter_is_answered_exactly() -> None:
    index = build(200, exact_search_max_candidates=10, exact_search_max_fraction=0.0)
    index.search(vectors(1, seed=11)[0], 5, allowed=np.arange(10))
    assert index.last_strategy == "exact"
    index.search(vectors(1, seed=11)[0], 5, allowed=np.arange(11))
    assert index.last_strategy == "filtered_hnsw"


def test_fraction_threshold_counts_live_allowed_labels() -> None:
    index = build(200, exact_search_max_candidates=0, exact_search_max_fraction=0.1)
    query = vectors(1, seed=12)[0]
    index.search(query, 5, allowed=np.arange(20))  # 20 <= 0.1 * 200
    assert index.last_strategy == "exact"
    index.search(query, 5, allowed=np.arange(21))
    assert index.last_strategy == "filtered_hnsw"
    # Dead and unknown labels do not count as candidates.
    index.remove(range(5))
    index.search(query, 5, allowed=np.concatenate([np.arange(24), np.arange(500, 600)]))
    assert index.last_strategy == "exact"


def test_filtered_search_with_sparse_labels_uses_a_set() -> None:
    huge = 2**60
    index = HnswIndex(DIM, initial_capacity=16, exact_search_max_candidates=0, exact_search_max_fraction=0.0)
    data = vectors(300, seed=13)
    labels = huge + np.arange(300) * 1_000_003
    index.add(labels, data)
    assert not index._mirror._dense_labels()
    oracle = ExactIndex(DIM)
    oracle.add(labels, data)
    allowed = labels[::3]
    for query in vectors(10, seed=14):
        got = index.search(query, 5, allowed=allowed)
        assert index.last_strategy == "filtered_hnsw"
        assert got[0].tolist() == oracle.search(query, 5, allowed=allowed)[0].tolist()


class _FailingGraph:
    """Wraps an hnswlib index; knn_query fails like hnswlib does when it cannot fill k."""

    def __init__(self, graph: Any) -> None:
        self._graph = graph

    def knn_query(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Cannot return the results in a contiguous 2D array. Probably ef or M is too small")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@pytest.mark.parametrize("allowed", [None, np.arange(0, 300, 2)], ids=["unfiltered", "filtered"])
def test_graph_failure_falls_back_to_exact(allowed: np.ndarray | None) -> None:
    index = build(300, exact_search_max_candidates=0, exact_search_max_fraction=0.0)
    oracle = ExactIndex(DIM)
    oracle.add(np.arange(300), vectors(300))
    index._graph = _FailingGraph(index._graph)
    query = vectors(1, seed=15)[0]
    labels, _ = index.search(query, 7, allowed=allowed)
    assert index.last_strategy == "exact"
    assert labels.tolist() == oracle.search(query, 7, allowed=allowed)[0].tolist()


def test_k_larger_than_live_count_with_deletions() -> None:
    index = build(40)
    index.remove(range(0, 40, 2))
    labels, _ = index.search(vectors(1, seed=16)[0], 40)
    assert sorted(labels.tolist()) == list(range(1, 40, 2))


def test_ef_is_raised_for_large_k() -> None:
    index = build(300, ef_search=8)
    labels, _ = index.search(vectors(1, seed=17)[0], 50)
    assert len(labels) == 50
    assert index._current_ef >= 50


# -- snapshots -----------------------------------------------------------------------------


def test_snapshot_records_structure_and_parameters() -> None:
    index = build(50, m=8, ef_construction=40, ef_search=33, exact_search_max_candidates=7)
    restored = HnswIndex.from_bytes(index.to_bytes())
    assert (restored.dimension, restored.m, restored.ef_construction, restored.ef_search) == (DIM, 8, 40, 33)
    assert restored._exact_max_candidates == 7
    overridden = HnswIndex.from_bytes(index.to_bytes(), ef_search=70, exact_search_max_fraction=0.5)
    assert overridden.ef_search == 70
    assert overridden._exact_max_fraction == 0.5
    assert overridden.capacity == index.capacity


def test_snapshot_header_layout() -> None:
    data = build(10, m=8, ef_construction=40).to_bytes()
    magic, version, dimension, m, ef_construction, meta_length = struct.unpack_from("<8sIIIIQ", data)
    assert (magic, version, dimension, m, ef_construction) == (b"MLKHNSW\x00", 2, DIM, 8, 40)
    meta = json.loads(data[32 : 32 + meta_length])
    assert set(meta["sections"]) >= {"element_headers", "element_labels", "vectors", "level0_links"}
    assert meta["layout"] == {"link_width": 2, "max_M0": 16, "live": 10}
    assert meta["hnswlib"]["space"] == "ip"


def version_one_bytes(index: HnswIndex, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A snapshot as the code before the compact format wrote it (hnswlib's arrays whole)."""
    with monkeypatch.context() as patch:
        patch.setattr(hnsw_module, "_compact_sections", lambda state, dimension: None)
        data = index.to_bytes()
    assert struct.unpack_from("<I", data, 8)[0] == 1
    return data


def test_version_one_snapshots_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    index = build(200)
    index.remove([3, 4, 5])
    index.add(np.array([500, 501]), vectors(2, seed=3))
    old = version_one_bytes(index, monkeypatch)
    restored = HnswIndex.from_bytes(old)
    assert restored.labels().tolist() == index.labels().tolist()
    for seed in range(5):
        query = vectors(1, seed=40 + seed)[0]
        assert restored.search(query, 10)[0].tolist() == index.search(query, 10)[0].tolist()
    assert len(restored.to_bytes()) < len(old)  # rewritten compact on the next snapshot


def test_the_compact_format_rebuilds_hnswlibs_state_exactly() -> None:
    # Deletions, replaced slots and revived labels: the label lookup version 2 leaves out must
    # come back as hnswlib had it, and every element's used links with it.
    index = build(300, m=6)
    index.remove(list(range(0, 300, 7)))
    index.add(np.arange(1000, 1020), vectors(20, seed=8))  # takes deleted slots
    index.add(np.array([14, 21]), vectors(2, seed=9))  # revives or re-adds
    before = index._graph.__getstate__()[0]
    after = HnswIndex.from_bytes(index.to_bytes())._graph.__getstate__()[0]
    lookup = dict(zip(before["label_lookup_external"].tolist(), before["label_lookup_internal"].tolist(), strict=True))
    assert dict(zip(after["label_lookup_external"].tolist(), after["label_lookup_internal"].tolist(), strict=True)) == (
        lookup
    )
    np.testing.assert_array_equal(after["element_levels"], before["element_levels"])
    np.testing.assert_array_equal(after["link_lists"], before["link_lists"])
    size, count = before["size_data_per_element"], before["cur_element_count"]
    old = before["data_level0"].view(np.uint8).reshape(count, size)
    new = after["data_level0"].view(np.uint8).reshape(count, size)
    links = np.frombuffer(old[:, 4 : before["offset_data"]].tobytes(), dtype=np.uint32).reshape(count, -1)
    for slot in range(count):
        used = int(old[slot, 0]) + 256 * int(old[slot, 1])
        assert new[slot, : 4 + 4 * used].tobytes() == old[slot, : 4 + 4 * used].tobytes()
        assert not links.size or used <= links.shape[1]
    np.testing.assert_array_equal(new[:, before["offset_data"] :], old[:, before["offset_data"] :])


def test_links_take_the_fewest_bytes_that_fit() -> None:
    meta = split(build(70).to_bytes())[1]
    assert meta["layout"]["link_width"] == 2
    assert meta["sections"]["level0_links"][2] % 2 == 0


def split(data: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    """(fixed prefix, JSON metadata, section area) of a snapshot."""
    meta_length = struct.unpack_from("<Q", data, 24)[0]
    end = 32 + meta_length
    return data[:24], json.loads(data[32:end]), data[end + (-end % 8) :]


def corrupt_meta(data: bytes, change: Any) -> bytes:
    prefix, meta, sections = split(data)
    change(meta)
    encoded = json.dumps(meta).encode()
    end = 32 + len(encoded)
    return prefix + struct.pack("<Q", len(encoded)) + encoded + b"\x00" * (-end % 8) + sections


def _drop_a_link(meta: dict[str, Any]) -> None:
    meta["sections"]["level0_links"][2] -= 2


def _wrong_live_count(meta: dict[str, Any]) -> None:
    meta["layout"]["live"] += 1


def _no_layout(meta: dict[str, Any]) -> None:
    del meta["layout"]


def _other_space(meta: dict[str, Any]) -> None:
    meta["hnswlib"]["space"] = "cosine"


def _other_byteorder(meta: dict[str, Any]) -> None:
    meta["byteorder"] = "big" if sys.byteorder == "little" else "little"


def _bad_dtype(meta: dict[str, Any]) -> None:
    meta["sections"]["vectors"][1] = "<f8"


def _huge_section(meta: dict[str, Any]) -> None:
    meta["sections"]["vectors"][2] = 10**12


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:20],
        lambda d: b"NOTHNSW\x00" + d[8:],
        lambda d: d[:8] + struct.pack("<I", 99) + d[12:],
        lambda d: d[:32] + b"[" + d[33:],
        lambda d: d[: len(d) - 100],
        lambda d: corrupt_meta(d, _drop_a_link),
        lambda d: corrupt_meta(d, _wrong_live_count),
        lambda d: corrupt_meta(d, _no_layout),
        lambda d: corrupt_meta(d, _other_space),
        lambda d: corrupt_meta(d, _other_byteorder),
        lambda d: corrupt_meta(d, _bad_dtype),
        lambda d: corrupt_meta(d, _huge_section),
        lambda d: ExactIndex(DIM).to_bytes(),
    ],
    ids=[
        "truncated-header",
        "magic",
        "version",
        "json",
        "truncated-data",
        "links",
        "live-count",
        "layout",
        "space",
        "byteorder",
        "dtype",
        "section-size",
        "exact-snapshot",
    ],
)
def test_damaged_snapshots_are_rejected(damage: Any) -> None:
    index = build(60)
    index.remove([1, 2, 3])
    with pytest.raises(StoreCorruptedError):
        HnswIndex.from_bytes(damage(index.to_bytes()))


def test_flipped_delete_flag_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    index = build(30)
    index.remove([7])
    for data in (bytearray(index.to_bytes()), bytearray(version_one_bytes(index, monkeypatch))):
        meta_length = struct.unpack_from("<Q", data, 24)[0]
        _, meta, _ = split(bytes(data))
        state, sections = meta["hnswlib"], meta["sections"]
        base = 32 + meta_length + (-(32 + meta_length) % 8)
        # Clear the delete flag of every element: the graph now disagrees with the live labels.
        if "data_level0" in sections:
            level0 = base + sections["data_level0"][0]
            for slot in range(state["cur_element_count"]):
                data[level0 + slot * state["size_data_per_element"] + state["offset_level0"] + 2] = 0
        else:
            headers = base + sections["element_headers"][0]
            for slot in range(state["cur_element_count"]):
                data[headers + 4 * slot + 2] = 0
        with pytest.raises(StoreCorruptedError):
            HnswIndex.from_bytes(data)


def test_from_bytes_does_not_keep_the_input() -> None:
    index = build(80)
    data = bytearray(index.to_bytes())
    restored = HnswIndex.from_bytes(data)
    data[:] = b"\x00" * len(data)  # would fail if numpy views still pinned the buffer
    del data
    query = vectors(1, seed=18)[0]
    assert restored.search(query, 5)[0].tolist() == index.search(query, 5)[0].tolist()


@pytest.fixture
def file_opens() -> Iterator[list[str]]:
    """Record every file Python code opens (including os.open and io.open)."""
    seen: list[str] = []
    active = True

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if active and event in {"open", "os.open", "tempfile.mkstemp", "tempfile.mkdtemp"}:
            seen.append(f"{event}: {args[0]!r}")

    sys.addaudithook(hook)
    yield seen
    active = False


def test_snapshots_never_touch_a_file(file_opens: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = build(500)
    index.remove(range(0, 500, 4))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    file_opens.clear()
    data = index.to_bytes()
    restored = HnswIndex.from_bytes(data)
    restored.add(np.arange(1000, 1100), vectors(100, seed=19))
    assert file_opens == []
    assert list(tmp_path.iterdir()) == []


def test_snapshot_code_has_no_file_based_hnswlib_calls() -> None:
    # hnswlib's save_index/load_index open files from C++, out of reach of audit hooks.
    import memorylink.index._hnsw_snapshot as snapshot_module
    import memorylink.index.hnsw as hnsw_module

    for module in (hnsw_module, snapshot_module):
        source = Path(str(module.__file__)).read_text()
        for name in ("save_index(", "load_index(", "tempfile", "memfd"):
            assert name not in source, f"{module.__name__} uses {name}"


# -- parameters ----------------------------------------------------------------------------


def test_from_settings() -> None:
    settings = IndexSettings(m=12, ef_construction=64, ef_search=40, initial_capacity=32)
    index = HnswIndex.from_settings(DIM, settings)
    assert (index.m, index.ef_construction, index.ef_search, index.capacity) == (12, 64, 40, 32)
    assert index._exact_max_candidates == settings.exact_search_max_candidates
    assert index._exact_max_fraction == settings.exact_search_max_fraction


@pytest.mark.parametrize(
    "kwargs",
    [
        {"m": 1},
        {"ef_search": 0},
        {"ef_construction": 0},
        {"initial_capacity": 0},
        {"exact_search_max_candidates": -1},
        {"exact_search_max_fraction": 1.5},
        {"num_threads": 0},
        {"num_threads": -2},
        {"m": 16.0},
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HnswIndex(DIM, **kwargs)


def test_bad_dimension_is_rejected() -> None:
    with pytest.raises(ValidationError):
        HnswIndex(0)
    with pytest.raises(ValidationError):
        ExactIndex(-3)


def test_single_threaded_bulk_add() -> None:
    index = build(200, num_threads=1)
    assert len(index) == 200


def test_importing_the_package_does_not_import_hnswlib() -> None:
    code = (
        "import sys, memorylink.index as index\n"
        "assert 'hnswlib' not in sys.modules, 'hnswlib imported eagerly'\n"
        "assert index.HnswIndex.__name__ == 'HnswIndex'\n"
        "assert 'hnswlib' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_repeated_allowed_array_sees_later_adds_and_removes() -> None:
    """The per-``allowed`` cache must never outlive a change to the index."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    index = HnswIndex(16, exact_search_max_candidates=0, exact_search_max_fraction=0.0)
    index.add(np.arange(3000, dtype=np.int64), vectors)
    allowed = np.arange(0, 3000, 2, dtype=np.int64)
    labels, _ = index.search(vectors[10], 5, allowed=allowed)
    assert labels[0] == 10
    index.remove([10])
    labels, _ = index.search(vectors[10], 5, allowed=allowed)
    assert 10 not in labels
    index.add(np.array([10], dtype=np.int64), vectors[10:11])
    labels, _ = index.search(vectors[10], 5, allowed=allowed)
    assert labels[0] == 10
    assert index.last_strategy == "filtered_hnsw"


def test_keep_input_borrows_vectors_until_the_first_write() -> None:
    index = build(300)
    data = bytes(index.to_bytes())
    original = bytes(data)
    restored = HnswIndex.from_bytes(data, keep_input=True, exact_search_max_candidates=10_000)
    oracle = ExactIndex(DIM)
    oracle.add(np.arange(300), vectors(300))
    assert restored._mirror._borrowed
    query = vectors(1, seed=5)[0]
    # Exact search (every candidate allowed through the mirror) reads the borrowed vectors.
    allowed = np.arange(0, 300, 3)
    expected = oracle.search(query, 7, allowed=allowed)[0].tolist()
    assert restored.search(query, 7, allowed=allowed)[0].tolist() == expected
    # Writes of every kind: a replace, a removal that moves the last row, a new label.
    restored.add(np.array([5]), vectors(1, seed=9))
    oracle.add(np.array([5]), vectors(1, seed=9))
    assert not restored._mirror._borrowed
    restored.remove([0])
    oracle.remove([0])
    restored.add(np.array([1000, 1001]), vectors(2, seed=10))
    oracle.add(np.array([1000, 1001]), vectors(2, seed=10))
    assert data == original  # the input was never written
    for seed in range(5):
        query = vectors(1, seed=100 + seed)[0]
        got = restored.search(query, 10, allowed=np.concatenate([allowed, [1000, 1001]]))
        want = oracle.search(query, 10, allowed=np.concatenate([allowed, [1000, 1001]]))
        assert got[0].tolist() == want[0].tolist()
    both = np.array([5, 299])
    np.testing.assert_allclose(restored.get_vectors(both), oracle.get_vectors(both), atol=1e-6)


@pytest.mark.parametrize("write", ["remove", "add"])
def test_each_first_write_takes_ownership(write: str) -> None:
    restored = HnswIndex.from_bytes(bytes(build(50).to_bytes()), keep_input=True)
    if write == "remove":
        restored.remove([3])
        assert 3 not in restored and len(restored) == 49
    else:
        restored.add(np.array([49]), vectors(1, seed=77))
        new = vectors(1, seed=77)[0]
        np.testing.assert_allclose(restored.get_vectors(np.array([49]))[0], new / np.linalg.norm(new), atol=1e-6)
    assert not restored._mirror._borrowed


def test_a_label_live_in_two_slots_is_detected() -> None:
    data = bytearray(build(10).to_bytes())
    meta_length = struct.unpack_from("<Q", data, 24)[0]
    _, meta, _ = split(bytes(data))
    base = 32 + meta_length + (-(32 + meta_length) % 8)
    labels = base + meta["sections"]["element_labels"][0]
    data[labels + 8 : labels + 16] = data[labels : labels + 8]  # slot 1 now claims slot 0's label
    with pytest.raises(StoreCorruptedError, match="two slots"):
        HnswIndex.from_bytes(data)
