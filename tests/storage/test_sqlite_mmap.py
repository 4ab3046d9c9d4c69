"""``Settings.sqlite_mmap_bytes``: SQLite reads through a memory map of the database file, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from memorylink import MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

KEY = bytes(range(32))
MAPS = Path("/proc/self/maps")


def mapped(path: Path) -> bool:
    """Whether this process maps ``path`` itself now (Linux; the WAL's ``-shm`` file is always mapped)."""
    return any(line.endswith(" " + str(path.resolve())) for line in MAPS.read_text().splitlines())


@pytest.mark.skipif(not MAPS.exists(), reason="needs /proc/self/maps (Linux)")
@pytest.mark.parametrize(("setting", "maps"), [({}, True), ({"sqlite_mmap_bytes": 0}, False)])
def test_reads_map_the_database_file_only_when_the_setting_allows(
    tmp_path: Path, setting: dict[str, int], maps: bool
) -> None:
    path = tmp_path / "store"
    with MemoryStore.open(path, key=KEY, embedder=HashingEmbedder(), settings=Settings(**setting)) as store:
        memory = store.add("read back through the map, or not", user_id="u")
        assert store.get(memory.id).text == "read back through the map, or not"
        assert mapped(path / "memorylink.db") is maps
    assert not mapped(path / "memorylink.db")  # closing unmaps it


def test_the_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="sqlite_mmap_bytes"):
        Settings(sqlite_mmap_bytes=-1)
