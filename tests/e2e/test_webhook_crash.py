"""SIGKILL a process while it writes and delivers webhooks; after a reopen every committed event arrives.

The worker adds memories one by one while its delivery thread sends their events to a
real receiver that answers slowly (so requests are in flight when the kill lands).
After the kill a fresh store delivers the rest: every event in the outbox reaches the
receiver at least once, verified with the standardwebhooks package, in commit order
once duplicates (same ``webhook-id``) are dropped.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("worker.py")
ROUNDS = int(os.environ.get("MEMORYLINK_CRASH_ROUNDS", "3"))
KEY = bytes([1]) * 32


def add_until_killed(directory: Path, seconds: float) -> list[str]:
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(directory), "add", "1000000", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ids: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            report = json.loads(line)
            if report.get("ready"):
                ready.set()
            if report.get("op") == "add":
                ids.append(report["id"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(timeout=60), process.stderr.read() if process.stderr else "worker never became ready"
    threading.Event().wait(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=10)
    return ids


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_every_committed_event_is_delivered_after_a_kill(tmp_path: Path, receiver: Any, round_number: int) -> None:
    directory = tmp_path / "store"
    receiver.delay_s = 0.02
    receiver.script = [500] * (round_number % 3)  # some rounds start with a failing receiver
    quiet = Settings(events=EventSettings(deliver=False))
    with MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder(), settings=quiet) as store:
        hook = store.webhooks.add(receiver.url, retry={"initial_delay_s": 0.02, "max_delay_s": 0.1, "jitter": 0})

    returned = add_until_killed(directory, random.Random(round_number).uniform(0.5, 1.5))
    assert returned, "the worker added nothing before it was killed"
    # The delay only serves to have requests in flight at the kill; the catch-up after the
    # reopen (thousands of events) would otherwise take longer than the bounded wait below.
    receiver.delay_s = 0.0

    settings = Settings(events=EventSettings(delivery_poll_interval_s=0.05))
    with MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder(), settings=settings) as store:
        outbox = [stored.event for stored in store._outbox.read(0, 100_000)]
        created = [e.data["id"] for e in outbox if e.type == "memory.created"]
        # Every add that returned committed its event; an add cut off by the kill may have too.
        assert created[: len(returned)] == returned
        assert len(created) - len(returned) <= 1
        distinct: dict[str, Any] = {}
        for _ in range(600):  # bounded: at most 60 s
            distinct = {}
            for request in list(receiver.requests):
                distinct.setdefault(request.headers["webhook-id"], request)
            if len(distinct) >= len(outbox):
                break
            threading.Event().wait(0.1)
        assert list(distinct) == [e.id for e in outbox]  # all of them, in commit order
        webhook = Webhook(hook.secret)
        for request in distinct.values():
            assert webhook.verify(request.body, request.headers)["type"] == "memory.created"
