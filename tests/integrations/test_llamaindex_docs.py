"""Every ```python block of docs/integrations-llamaindex.md runs, and so does examples/llamaindex_rag.py (offline)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llamaindex_helpers import block_network, close_memory

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations-llamaindex.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("number", range(1, len(BLOCKS) + 1))
def test_doc_block_runs(number: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[number - 1]
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, f"{PAGE.name}#block{number}", "exec"), namespace)
    if "memory" in namespace:
        close_memory(namespace["memory"])


def test_the_rag_example_runs_offline(tmp_path: Path) -> None:
    # Networking is blocked in the child too: a sitecustomize on its path patches socket first.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import pytest\n"
        "from llamaindex_helpers import block_network, close_memory\n"
        "block_network(pytest.MonkeyPatch())\n"
    )
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llamaindex_rag.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "indexed 5 documents" in out
    first = out.split("When do deploys to production happen?")[1].splitlines()
    assert "source deploys" in first[2]
    console = out.split("What do I need before opening the admin console?")[1].splitlines()
    assert "source vpn" in console[2] and "source passwords" in console[3]  # only topic == security
    recent = out.split("What changed recently?")[1].split("\n\n")[0]
    assert "source vpn" not in recent and "source passwords" not in recent
    assert "deleted 'passwords'; 4 documents remain" in out
