"""docs/cli.md documents every command, and its example session runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from memorylink.cli import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def command_paths() -> list[str]:
    root = typer.main.get_command(create_app())
    paths: list[str] = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        children = getattr(command, "commands", None)
        if children:
            paths.extend(f"{name} {child}" for child in children)
        else:
            paths.append(name)
    return paths


def test_every_command_is_documented() -> None:
    text = DOC.read_text()
    documented = re.findall(r"^### `memorylink ([a-z -]+)`$", text, re.MULTILINE)
    assert sorted(documented) == sorted(command_paths())


def test_every_exit_code_is_documented() -> None:
    from memorylink.cli._errors import ExitCode

    table = DOC.read_text().split("## Exit codes", 1)[1]
    for code in ExitCode:
        assert f"\n| {int(code)} |" in table, code


@pytest.mark.model
def test_the_example_session_runs(tmp_path: Path) -> None:
    session = DOC.read_text().split("## A session", 1)[1]
    script = re.search(r"```bash\n(.*?)```", session, re.DOTALL)
    assert script is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Alice prefers window seats" in result.stdout
    assert "Bob is allergic to peanuts" in result.stdout


@pytest.mark.model
def test_the_readme_shell_example_runs(tmp_path: Path) -> None:
    readme = (DOC.parents[1] / "README.md").read_text()
    section = readme.split("## From the shell", 1)[1]
    script = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert script is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env["HOME"] = str(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.group(1)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Alice prefers window seats") == 2
    assert (tmp_path / "notes-store" / "memorylink.db").is_file()
