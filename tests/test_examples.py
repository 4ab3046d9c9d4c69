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
