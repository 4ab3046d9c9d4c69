"""The python blocks of docs/ingest.md run as written (with the real model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_examples() -> None:
    assert BLOCKS


@pytest.mark.model
@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_doc_block_runs(number: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[number], f"docs/ingest.md#block{number + 1}", "exec"), {"__name__": "__docs__"})
