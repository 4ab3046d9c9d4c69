"""Helpers for the CLI tests: run the installed ``memorylink`` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


def base_env(tmp_path: Path) -> dict[str, str]:
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
