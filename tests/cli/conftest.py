"""Fixtures for the CLI tests: runners over temporary stores (helpers in cli_helpers.py)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import SCRIPT, Cli, base_env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner whose store does not exist yet."""
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    return Cli(store=tmp_path / "store", env=base_env(tmp_path))


@pytest.fixture
def store_cli(cli: Cli) -> Cli:
    """A CLI runner over a fresh store on the hashing embedder (no model needed)."""
    cli.ok("init", "--embedder", "hashing")
    return cli


@pytest.fixture
def tree_digest() -> Callable[[Path], dict[str, str]]:
    """SHA-256 of every file under a directory."""

    def digest(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    return digest
