"""``store.ingest`` on a real codebase (memorylink's own src/, docs/ and tests/): first run, no-op re-run, one edit.

The tree is copied to a scratch directory first, so the run reads a fixed snapshot. For
each embedder: the chunker alone over every file (read, decode, ``chunk_text``), the
first ingest, a second ingest with nothing changed (reads and hashes every file, lists
the stored chunks, writes nothing), and a re-ingest after editing one file. The share of
the first ingest the embedder takes is the model's time on the same chunk texts, timed
alone right after.

    python benchmarks/bench_ingest_files.py [--quick] [--embedders hashing minilm]
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from common import KEY, parse_args, print_table, workdir, write_results
from memorylink import MemoryStore
from memorylink.embedders.known import embedder_named
from memorylink.ingest import INGEST_TAG, chunk_text, language_of, walk

ROOT = Path(__file__).resolve().parents[1]


def snapshot(destination: Path, quick: bool) -> Path:
    parts = ["src/memorylink"] if quick else ["src", "docs", "tests"]
    for part in parts:
        shutil.copytree(ROOT / part, destination / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def chunk_only(root: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    files = chunks = 0
    for entry in walk(root):
        data = entry.path.read_bytes()
        if b"\x00" in data:
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        files += 1
        chunks += len(chunk_text(text, language_of(entry.relative)))
    return time.perf_counter() - started, files, chunks


def main() -> None:
    def options(parser: Any) -> None:
        parser.add_argument("--embedders", nargs="+", default=["hashing", "minilm"], help="embedders to run with")

    args = parse_args(__doc__ or "", options)
    rows: list[list[Any]] = []

    def row(*cells: Any) -> None:
        rows.append(list(cells))
        print("  ".join(str(c) for c in cells), flush=True)  # as it goes: a full run takes minutes

    results: dict[str, Any] = {}
    with workdir(args, "ingest_files") as directory:
        tree = snapshot(directory / "tree", args.quick)
        chunk_s, chunk_files, chunk_count = chunk_only(tree)
        results["chunker"] = {"seconds": chunk_s, "files": chunk_files, "chunks": chunk_count}
        row("chunker alone", "-", chunk_files, chunk_count, chunk_s, chunk_files / chunk_s)
        for name in args.embedders:
            embedder = embedder_named(name)
            embedder.embed(["warm up"])
            with MemoryStore.open(directory / f"store-{name}", key=KEY, embedder=embedder) as store:
                started = time.perf_counter()
                first = store.ingest(tree)
                first_s = time.perf_counter() - started
                assert first.ok, first.errors
                texts = [m.text for m in _all_chunks(store)]
                started = time.perf_counter()
                for start in range(0, len(texts), 256):
                    embedder.embed(texts[start : start + 256])
                embed_s = time.perf_counter() - started
                started = time.perf_counter()
                again = store.ingest(tree)
                again_s = time.perf_counter() - started
                assert not again.changed
                edited = next(tree.rglob("*.py"))
                edited.write_text(edited.read_text() + "\n\ndef added_by_the_benchmark():\n    return 1\n")
                started = time.perf_counter()
                one = store.ingest(tree)
                one_s = time.perf_counter() - started
                assert one.files_replaced == 1
            results[name] = {
                "files": first.files_seen,
                "chunks": first.chunks_added,
                "first_ingest_s": first_s,
                "embedder_alone_s": embed_s,
                "unchanged_reingest_s": again_s,
                "one_edit_reingest_s": one_s,
            }
            row(
                f"first ingest ({name})", "-", first.files_seen, first.chunks_added, first_s, first.files_seen / first_s
            )
            row(f"  of which embedder alone ({name})", "-", "", "", embed_s, "")
            row(
                f"re-ingest, nothing changed ({name})", "none", first.files_seen, 0, again_s, first.files_seen / again_s
            )
            row(
                f"re-ingest, one file edited ({name})",
                f"{one.chunks_deleted} deleted",
                first.files_seen,
                one.chunks_added,
                one_s,
                "",
            )
    print_table(
        "store.ingest on memorylink's own tree", ["run", "writes", "files", "chunks", "seconds", "files/s"], rows
    )
    write_results("ingest_files", args, results)


def _all_chunks(store: MemoryStore) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        page = store.list(filter={"tags": {"any": [INGEST_TAG]}}, limit=1_000, cursor=cursor)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


if __name__ == "__main__":
    main()
