"""docs/integrations-langchain.md's examples and examples/langchain_agent_memory.py run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations-langchain.md"


def test_doc_examples_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, code in enumerate(blocks, start=1):
        exec(compile(code, f"{PAGE.name}#block{number}", "exec"), namespace)


def test_agent_memory_example_runs(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "langchain_agent_memory.py"), str(tmp_path / "memories")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    recalled = out.split("memories recalled into the prompt:")[1]
    assert "- Alice prefers an aisle seat on flights" in recalled  # the updated preference
    assert "window seat" not in recalled and "Bob" not in recalled  # replaced; another user's
    assert "alice's memories: 2" in out and "bob's memories: 1" in out
    assert "assistant: I booked you an aisle seat" in out
