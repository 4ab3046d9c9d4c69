"""``memorylink demo``: the main job end to end, in a throwaway store that is removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from memorylink import MemoryStore
from memorylink.cli._output import Output
from memorylink.embedders.known import embedder_named

__all__ = ["run_demo"]

# (text, tags, metadata, user): two users, so the scoped searches show isolation too.
_MEMORIES: list[tuple[str, list[str], dict[str, Any], str]] = [
    ("Maya prefers aisle seats and always flies out of Lisbon", ["travel", "preference"], {"source": "chat"}, "maya"),
    ("Maya is lactose intolerant; order oat milk for her", ["food", "health"], {"source": "chat"}, "maya"),
    ("Maya's sprint demo is every second Wednesday at 10:00", ["meeting"], {"duration_minutes": 30}, "maya"),
    ("The design review with the platform team runs 90 minutes", ["meeting"], {"duration_minutes": 90}, "maya"),
    ("Ship the billing migration only after the dry run on staging", ["work", "release"], {"priority": "high"}, "maya"),
    (
        "Rotate the API tokens for the payment provider every quarter",
        ["work", "security"],
        {"priority": "high"},
        "maya",
    ),
    ("Maya's daughter has violin lessons on Thursday evenings", ["family"], {"source": "calendar"}, "maya"),
    ("Archive last year's analytics dashboards in January", ["work"], {"priority": "low"}, "maya"),
    ("Theo books window seats and hates red-eye flights", ["travel", "preference"], {"source": "email"}, "theo"),
    ("Theo is allergic to shellfish", ["food", "health"], {"source": "chat"}, "theo"),
    ("Theo's weekly one-on-one moved to Monday mornings", ["meeting"], {"duration_minutes": 45}, "theo"),
    ("Theo wants the quarterly report as a PDF, not slides", ["work"], {"priority": "medium"}, "theo"),
]

_SEARCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("Maya: how does she like to fly?", "seat preference on planes", {"user_id": "maya", "top_k": 2}),
    ("Theo: the same question, his memories only", "seat preference on planes", {"user_id": "theo", "top_k": 2}),
    (
        "Maya: meetings longer than 45 minutes (filter language)",
        "meetings",
        {"user_id": "maya", "filter": {"tags": {"any": ["meeting"]}, "metadata.duration_minutes": {"gt": 45}}},
    ),
    (
        "Maya: high-priority work (metadata shortcut)",
        "what must happen before we release",
        {"user_id": "maya", "metadata": {"priority": "high"}, "top_k": 2},
    ),
    ("Everyone: dietary constraints (tags shortcut)", "what can't they eat", {"tags": ["food"], "top_k": 4}),
]


def run_demo(out: Output, embedder: str) -> None:
    """Add the demo memories, run the demo searches, print each as a table, then clean up."""
    directory = Path(tempfile.mkdtemp(prefix="memorylink-demo-"))
    try:
        started = time.perf_counter()
        with MemoryStore.open(directory / "store", key=os.urandom(32), embedder=embedder_named(embedder)) as store:
            batch = store.add_many(
                [{"text": t, "tags": tags, "metadata": m, "user_id": u} for t, tags, m, u in _MEMORIES]
            )
            out.line(
                f"stored {batch.succeeded} memories for 2 users in {time.perf_counter() - started:.1f} s "
                f"(model load included), encrypted under a random key, in {directory / 'store'}"
            )
            for title, query, arguments in _SEARCHES:
                out.line(f"\n{title}\n  search {query!r}")
                out.search(store.search(query, **arguments))
            stats = store.stats()
            out.line(
                f"\n{stats.memories} memories, {stats.disk_bytes / 1024:.0f} KiB on disk, all of it encrypted "
                f"(embedder {stats.embedder}); the demo store is removed now"
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
