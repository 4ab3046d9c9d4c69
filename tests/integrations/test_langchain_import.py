"""memorylink.integrations.langchain loads only on request, and says what to install without langchain-core."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_memorylink_does_not_import_langchain() -> None:
    completed = run(
        "import sys, memorylink, memorylink.integrations\n"
        "assert not [m for m in sys.modules if m.startswith(('langchain', 'langsmith'))], 'langchain imported'\n"
    )
    assert completed.returncode == 0, completed.stderr


def test_without_langchain_core_the_error_names_the_extra() -> None:
    completed = run(
        "import sys\n"
        "sys.modules['langchain_core'] = None  # as if it were not installed\n"
        "from memorylink.errors import MissingDependencyError\n"
        "try:\n"
        "    import memorylink.integrations.langchain\n"
        "except MissingDependencyError as error:\n"
        "    assert isinstance(error, ImportError)\n"
        "    print(error)\n"
        "else:\n"
        "    raise SystemExit('imported without langchain-core')\n"
    )
    assert completed.returncode == 0, completed.stderr
    assert 'pip install "memorylink[langchain]"' in completed.stdout
