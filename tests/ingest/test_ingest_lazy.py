"""``import memorylink`` does not import pathspec (a walk imports it when it meets a pattern)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_pathspec_is_imported_only_when_a_walk_needs_it(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / ".gitignore").write_text("*.log\n")  # the walk needs pathspec for it
    code = (
        "import sys, memorylink, memorylink.ingest\n"
        "assert 'pathspec' not in sys.modules, 'imported too early'\n"
        f"list(memorylink.ingest.walk(__import__('pathlib').Path({str(tmp_path)!r})))\n"
        "assert 'pathspec' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
