"""Every python snippet in docs/keys-and-encryption.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "keys-and-encryption.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_snippets() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_snippet_runs(number: int) -> None:
    code = compile(BLOCKS[number], f"{DOCS.name}[python block {number}]", "exec", dont_inherit=True)
    exec(code, {"__name__": "__main__"})
