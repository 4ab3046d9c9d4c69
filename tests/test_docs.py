"""Every ```python block in README.md and the docs pages runs (the real model, so marked)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memorylink.config import EventSettings, IndexSettings, Limits, SearchSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
# filters.md and keys-and-encryption.md have their own runners beside their modules' tests.
PAGES = ["README.md", "docs/concepts.md", "docs/events.md", "docs/limits.md", "docs/search.md"]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer((ROOT / page).read_text()), start=1):
            found.append((page, number, match.group(1)))
    return found


@pytest.mark.model
@pytest.mark.parametrize(("page", "number", "code"), blocks(), ids=lambda v: str(v)[:30])
def test_doc_block_runs(page: str, number: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}#block{number}", "exec"), {"__name__": "__docs__"})


def test_every_page_has_examples() -> None:
    pages_with_blocks = {page for page, _, _ in blocks()}
    assert pages_with_blocks == set(PAGES)


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs/limits.md").read_text()
    for model in (Limits, IndexSettings, SearchSettings, EventSettings, Settings):
        for name in model.model_fields:
            if name not in ("limits", "index", "search", "events"):
                assert f"`{name}`" in text, name


def test_readme_has_exactly_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick_start, re.DOTALL)
    assert [c.strip() for c in commands] == [
        "python3 -m pip install nox && python3 -m nox -s demo",
        "python3 -m pip install nox && python3 -m nox",
    ]
    ci = (ROOT / ".ci/run").read_text()
    assert "python3 -m nox" in ci and "-s demo" not in ci
