"""The directory walk: nested .gitignore files, hidden files, include / exclude, symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from memorylink.ingest import walk


def make(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def found(root: Path, **kwargs: object) -> list[str]:
    return [e.relative for e in walk(root, **kwargs) if e.skipped is None]  # type: ignore[arg-type]


def test_nested_gitignore_files_apply_like_git(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n",
            "keep.py": "",
            "debug.log": "",
            "build/out.py": "",
            "src/.gitignore": "!important.log\ngenerated_*.py\n",
            "src/important.log": "",
            "src/other.log": "",
            "src/generated_api.py": "",
            "src/app.py": "",
            "docs/generated_api.py": "",  # the src/.gitignore does not reach here
        },
    )
    assert found(tmp_path) == ["docs/generated_api.py", "keep.py", "src/app.py", "src/important.log"]
    everything = found(tmp_path, respect_gitignore=False)
    assert "build/out.py" in everything and "debug.log" in everything
    assert ".gitignore" not in everything  # hidden


def test_gitignore_of_parent_directories_up_to_the_work_tree(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "secret*\n", "pkg/secret.txt": "", "pkg/public.txt": ""})
    (tmp_path / ".git").mkdir()
    assert found(tmp_path / "pkg") == ["public.txt"]


def test_an_ignored_directory_asked_for_by_name_is_read(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "build/\n", "build/report.txt": "", "build/.gitignore": "*.tmp\n", "build/x.tmp": ""})
    (tmp_path / ".git").mkdir()
    assert found(tmp_path) == []
    assert found(tmp_path / "build") == ["report.txt"]  # its own .gitignore still applies


def test_git_and_hidden_entries_are_skipped_unless_asked(tmp_path: Path) -> None:
    make(tmp_path, {".git/config": "", ".env": "", ".github/ci.yml": "", "a.txt": ""})
    assert found(tmp_path) == ["a.txt"]
    assert found(tmp_path, include_hidden=True) == [".env", ".github/ci.yml", "a.txt"]


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": "", "b.md": "", "tests/test_a.py": "", "vendor/lib.py": ""})
    assert found(tmp_path, include=["*.py"]) == ["a.py", "tests/test_a.py", "vendor/lib.py"]
    assert found(tmp_path, include=["*.py"], exclude=["vendor/", "test_*"]) == ["a.py"]


def test_symlinks_never_lead_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, {"secret.txt": "s"})
    root = tmp_path / "root"
    make(root, {"real/a.txt": "a"})
    try:
        (root / "escape.txt").symlink_to(outside / "secret.txt")
        (root / "escape_dir").symlink_to(outside, target_is_directory=True)
        (root / "alias.txt").symlink_to(root / "real" / "a.txt")
        (root / "loop").symlink_to(root, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks are not supported here")
    entries = list(walk(root))
    assert [(e.relative, e.skipped) for e in entries] == [
        ("alias.txt", None),  # a link to a file inside the root is read
        ("escape.txt", "symlink outside the root"),
        ("escape_dir", "symlink outside the root"),
        ("real/a.txt", None),  # the link "loop" to a directory is not entered
    ]
