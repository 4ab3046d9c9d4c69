"""Quick start: a dozen memories, stored encrypted with the real embedder, found by meaning.

Run it with `python3 -m nox -s demo` (installs everything), or `python examples/quickstart.py`
once `pip install "memorylink[embed]"` is done. It needs no server, account or network.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from memorylink import MemoryStore, SearchResult

MEMORIES = [
    ("Alice prefers window seats on long flights", ["travel", "preference"], {"person": "alice"}),
    ("Alice is vegetarian and avoids mushrooms", ["food", "preference"], {"person": "alice"}),
    ("Bob's daughter starts school in September", ["family"], {"person": "bob"}),
    ("The Q4 planning meeting moved to Thursday at 3pm", ["meeting", "q4"], {"source": "calendar"}),
    ("Budget review with finance is every first Monday", ["meeting", "finance"], {"source": "calendar"}),
    (
        "Deploy the payments service only after the load test passes",
        ["work", "release"],
        {"priority": "high"},
    ),
    ("The staging database password rotates every 30 days", ["work", "security"], {"priority": "high"}),
    ("Carol recommended the book 'Thinking in Systems'", ["books"], {"person": "carol"}),
    (
        "Our team's retro is on Fridays and runs 45 minutes",
        ["meeting"],
        {"source": "zoom", "duration_minutes": 45},
    ),
    ("The office is closed on December 24th", ["office"], {"source": "email"}),
    ("Dan is allergic to peanuts; keep snacks nut-free", ["food", "health"], {"person": "dan"}),
    ("Migrate the analytics jobs to the new cluster in January", ["work"], {"priority": "low"}),
]


def show(title: str, result: SearchResult) -> None:
    print(f"\n{title}  ({len(result.hits)} of {result.total} candidates, {result.query_time_ms:.1f} ms)")
    for hit in result.hits:
        print(f"  {hit.similarity:.2f}  {hit.memory.text}   tags={hit.memory.tags}")


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="memorylink-demo-")) / "store"
    # A real application reads the passphrase from its user or a secret manager.
    with MemoryStore.open(directory, passphrase="correct horse battery staple") as store:
        started = time.perf_counter()
        batch = store.add_many(
            [{"text": text, "tags": tags, "metadata": meta, "user_id": "demo"} for text, tags, meta in MEMORIES]
        )
        print(
            f"stored {batch.succeeded} memories in {time.perf_counter() - started:.1f} s "
            f"(includes loading the model) at {directory}"
        )

        show(
            "What does Alice like when travelling?",
            store.search("what seat does Alice like on planes", top_k=3),
        )
        show(
            "Meetings only (tags filter):",
            store.search("when do we meet", tags=["meeting"], top_k=3),
        )
        show(
            "High-priority work (metadata filter):",
            store.search("what must happen before a release", filter={"metadata.priority": "high"}, top_k=2),
        )
        show(
            "Long meetings (filter language):",
            store.search(
                "team meeting",
                filter={"tags": {"any": ["meeting"]}, "metadata.duration_minutes": {"gt": 30}},
            ),
        )
        show(
            "Food constraints, not about Alice:",
            store.search("dietary restrictions", filter={"not": {"metadata.person": "alice"}}, tags=["food"], top_k=3),
        )
        stats = store.stats()
        print(
            f"\n{stats.memories} memories, {stats.disk_bytes / 1024:.0f} KiB on disk, all encrypted "
            f"(key id {stats.key_id}, embedder {stats.embedder})"
        )


if __name__ == "__main__":
    main()
