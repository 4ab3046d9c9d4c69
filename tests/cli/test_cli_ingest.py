"""``memorylink ingest`` in a subprocess: the report, re-runs, options, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def greet(name):\n    return name\n\n\ndef part():\n    return 2\n")
    (root / "README.md").write_text("# Demo\n\nA demo project.\n")
    (root / "skip.log").write_text("noise\n")
    (root / ".gitignore").write_text("*.log\n")
    return root


def test_ingest_reports_and_a_second_run_changes_nothing(store_cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    first = store_cli.ok("ingest", str(root), "--tag", "demo", "--json")
    report = json.loads(first.stdout)
    assert (report["files_seen"], report["files_added"], report["chunks_added"]) == (2, 2, 3)
    again = json.loads(store_cli.ok("ingest", str(root), "--tag", "demo", "--json").stdout)
    assert (again["files_unchanged"], again["chunks_added"], again["chunks_deleted"]) == (2, 0, 0)
    listed = json.loads(store_cli.ok("list", "--tag", "demo", "--json").stdout)["items"]
    assert sorted(m["metadata"]["source"] for m in listed) == ["README.md", "src/app.py", "src/app.py"]
    assert all(m["tags"] == ["ingested", "demo"] for m in listed)


def test_ingest_human_output_options_and_removal(store_cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    (root / "photo.png").write_bytes(b"\x89PNG")
    result = store_cli.ok("ingest", str(root), "--include", "*.py", "--include", "*.png", "--no-progress")
    assert result.stdout.strip() == (
        "2 files: 1 added, 0 replaced, 0 unchanged, 0 removed, 1 skipped, 0 failed; 2 chunks added, 0 deleted"
    )
    assert "skipped" in result.stderr and "photo.png: not text" in result.stderr
    (root / "src" / "app.py").unlink()
    removed = json.loads(store_cli.ok("ingest", str(root), "--no-gitignore", "--json").stdout)
    assert (removed["files_removed"], removed["files_added"]) == (1, 2)  # README.md and skip.log now
    sources = {m["metadata"]["source"] for m in json.loads(store_cli.ok("list", "--json").stdout)["items"]}
    assert sources == {"README.md", "skip.log"}


def test_ingest_exit_codes(store_cli: Cli, tmp_path: Path) -> None:
    missing = store_cli("ingest", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    root = tmp_path / "proj"
    root.mkdir()
    (root / "deep.md").write_text("".join(f"{'#' * n} {'heading ' * 20}{n}\n\n" for n in range(1, 7)) + "text\n")
    (root / "fine.md").write_text("# Fine\n\nok\n")
    partial = store_cli("ingest", str(root), "--meta", f"note={'n' * 15_300}", "--json")
    assert partial.returncode == 5, partial.stderr  # deep.md's heading path overflows max_metadata_bytes
    report = json.loads(partial.stdout)
    assert [e["path"].rsplit("/", 1)[1] for e in report["errors"]] == ["deep.md"]
    assert report["files_added"] == 1
