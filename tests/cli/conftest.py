"""Run the installed ``memorylink`` console script in subprocesses against temporary stores."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("memorylink")
PASSPHRASE = "correct horse battery staple"


@dataclass
class Cli:
    """Runs ``memorylink`` with a store under tmp_path and the passphrase in the environment."""

    store: Path
    env: dict[str, str]

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        merged = dict(self.env)
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return subprocess.run(
            [str(SCRIPT), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=merged,
            timeout=timeout,
        )

    def ok(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run and require exit code 0."""
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env.update(
        {
            "MEMORYLINK_STORE": str(tmp_path / "store"),
            "MEMORYLINK_PASSPHRASE": PASSPHRASE,
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "home" / "data"),
            "COLUMNS": "160",
        }
    )
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner whose store does not exist yet."""
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    return Cli(store=tmp_path / "store", env=_base_env(tmp_path))


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
