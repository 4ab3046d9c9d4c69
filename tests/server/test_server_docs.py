"""docs/server.md: its Python examples run, and it names every setting and route it should."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memorylink.server import ServerSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[int, str]]:
    return list(enumerate((m.group(1) for m in BLOCK.finditer(DOC.read_text())), start=1))


def test_the_page_has_examples() -> None:
    assert blocks()


@pytest.mark.parametrize(("number", "code"), blocks(), ids=lambda v: str(v)[:20])
def test_python_example_runs(number: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/server.md#block{number}", "exec"), {"__name__": "__docs__"})


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    for name in ServerSettings.model_fields:
        assert f"`{name}`" in text, name


def test_the_sections_other_pages_link_to_exist() -> None:
    headings = re.findall(r"^## (.+)$", DOC.read_text(), re.MULTILINE)
    sections = ("Start", "Configure", "Authentication and API keys", "Rate limits", "Errors")
    assert "Events: SSE and WebSocket" in headings
    for wanted in sections:
        assert wanted in headings


def test_every_error_code_of_the_status_table_is_one_the_server_uses() -> None:
    table = DOC.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    statuses = {int(s) for s in re.findall(r"^\| (\d{3}) \|", table, re.MULTILINE)}
    assert statuses == {401, 403, 404, 405, 413, 422, 429, 500, 503}


def test_the_routes_table_names_every_memory_and_webhook_route() -> None:
    from memorylink.server.openapi import schema_text

    table = DOC.read_text().split("## Routes", 1)[1].split("\n## ", 1)[0]
    paths = json.loads(schema_text())["paths"]
    for path in paths:
        if path.startswith(("/api/v1/memories", "/api/v1/webhooks", "/api/v1/stats")):
            last = path.removeprefix("/api/v1").replace("{memory_id}", "{id}").replace("{webhook_id}", "{id}")
            assert last.rsplit("/", 1)[-1] in table, path
            assert last in table or path.startswith("/api/v1/webhooks/"), path


def test_a_missing_server_extra_names_the_pip_install() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "try:\n    import memorylink.server\n"
        "except ImportError as error:\n    print(type(error).__name__, error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("MissingDependencyError")
    assert 'pip install "memorylink[server]"' in result.stdout
