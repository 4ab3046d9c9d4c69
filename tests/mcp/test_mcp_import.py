"""memorylink.mcp is opt-in: `import memorylink` does not load the SDK, and a missing SDK names the extra."""

from __future__ import annotations

import json
import subprocess
import sys

import memorylink
import memorylink.mcp


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_memorylink_does_not_import_mcp() -> None:
    loaded = json.loads(_run("import sys, json, memorylink; print(json.dumps(sorted(sys.modules)))"))
    assert not [name for name in loaded if name == "mcp" or name.startswith(("mcp.", "memorylink.mcp"))]
    assert "mcp" not in memorylink.__all__


def test_without_the_sdk_the_error_names_the_extra() -> None:
    code = """
import sys
sys.modules["mcp"] = None  # as if the SDK were not installed
try:
    import memorylink.mcp
except ImportError as error:
    from memorylink.errors import MissingDependencyError
    print(type(error).__name__, isinstance(error, MissingDependencyError), error)
"""
    out = _run(code)
    assert out.startswith("MissingDependencyError True")
    assert 'pip install "memorylink[mcp]"' in out


def test_public_names() -> None:
    assert memorylink.mcp.__all__ == ["DeleteResult", "create_server", "run_server"]
