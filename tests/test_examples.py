"""The examples run as a new user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.model
def test_quickstart_runs() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "stored 12 memories" in out
    first_hit = out.split("What does Alice like when travelling?")[1].splitlines()[1]
    assert "Alice prefers window seats" in first_hit
    assert "Deploy the payments service" in out.split("High-priority work")[1]


def test_webhook_receiver_verifies_and_deduplicates(tmp_path: Path) -> None:
    import os

    import httpx

    from memorylink import EventSettings, MemoryStore, Settings
    from memorylink.embedders.hashing import HashingEmbedder
    from memorylink.events import generate_secret

    secret = generate_secret()
    receiver = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "webhook_receiver.py"), "0"],
        env={**os.environ, "MEMORYLINK_RECEIVER_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().split("listening on ")[1].strip()
        settings = Settings(events=EventSettings(deliver=False))
        with MemoryStore.open(tmp_path / "s", key=bytes(32), embedder=HashingEmbedder(), settings=settings) as store:
            hook = store.webhooks.add(url, secret=secret)
            memory = store.add("hello receiver")
            store._delivery.run_once()
            (delivery,) = store.webhooks.deliveries(hook.id)
            assert (delivery.state, delivery.last_status) == ("delivered", 204)
            assert delivery.event_id is not None
            store.webhooks.redeliver(hook.id, delivery.event_id)  # a duplicate: accepted, not handled twice
            store._delivery.run_once()
            store.add("second")
            store._delivery.run_once()
        forged = httpx.post(
            url,
            content=b'{"type": "memory.deleted"}',
            headers={"webhook-id": "evt_x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        )
        assert forged.status_code == 400
    finally:
        receiver.terminate()
        out, err = receiver.communicate(timeout=10)
    handled = [line for line in out.splitlines() if line.startswith("memory.")]
    assert handled[0].startswith("memory.created") and memory.id in handled[0]
    assert len(handled) == 2, (out, err)


@pytest.mark.model
def test_the_notebook_runs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "examples" / "walkthrough.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "\n".join(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", "")) for out in outputs)
    assert "3 stored, 1 failed" in text
    assert "'memory.created'" in text and "'memory.deleted'" in text


def test_remote_client_example_runs() -> None:
    pytest.importorskip("fastapi", reason='needs pip install "memorylink[server]"')
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "remote_client.py")], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "stored 2, failed 1: item 2: text must not be empty"
    assert lines[1].startswith("best hit: 'Alice prefers window seats on long flights' (user alice")
    assert lines[2].startswith("refused: limit max_top_k is 1000 (request ")
    alice_sees = ["Alice prefers window seats on long flights", "Alice's passport expires in March"]
    assert lines[3] == f"alice sees: {alice_sees}"  # only her own memories, the new one stored as hers
    assert lines[4] == "alice may not read bob's memories: forbidden"
