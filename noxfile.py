"""Developer and CI sessions: `nox` runs lint, typecheck and tests (what CI runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "mcp_inspector", "langchain", "schemathesis"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
# The CPU build of torch must be installed before sentence-transformers, or pip resolves a
# multi-GB CUDA build. This pin belongs to the install step, not to the package's requirements.
TORCH = "torch==2.13.0"


def install_with_model(session: nox.Session, extras: str) -> None:
    session.install(TORCH)
    session.install("-e", f".[{extras}]")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src (the torch model is not needed for this; the light embedder is small)."""
    session.install("-e", ".[embed-light,cli,mcp,server,llamaindex,langchain,dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite, the real-model tests included: `nox -s tests -- -m "not model"` skips those."""
    install_with_model(session, "embed,embed-light,cli,mcp,server,llamaindex,dev")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def mcp_inspector(session: nox.Session) -> None:
    """The MCP server checked by the MCP Inspector CLI (a client nobody here wrote); needs npx (Node.js)."""
    if shutil.which("npx") is None:
        session.skip("npx (Node.js) is not installed; the MCP Inspector check needs it")
    session.install("-e", ".[cli,mcp,dev]")
    session.run("pytest", "-m", "inspector", "tests/mcp", *session.posargs)


@nox.session(python=PYTHON)
def langchain(session: nox.Session) -> None:
    """The LangChain adapter: langchain-tests' standard VectorStore suite, then the adapter's own tests.

    The standard suite wants asyncio_mode = auto and brings pytest plugins of its own, so it runs
    from tests_integrations/langchain with its own pytest.ini; the default `pytest` never collects it.
    """
    session.install("-e", ".[langchain,dev]", "langchain-tests>=1,<2")
    session.run("ruff", "check", "tests_integrations")  # the lint session covers src, tests, examples
    session.run("ruff", "format", "--check", "tests_integrations")
    session.run(
        "pytest", "-c", "tests_integrations/langchain/pytest.ini", "--rootdir", ".", "tests_integrations/langchain"
    )
    session.run(
        "pytest", *sorted(str(p) for p in Path("tests/integrations").glob("test_langchain_*.py")), *session.posargs
    )


@nox.session(python=PYTHON)
def schemathesis(session: nox.Session) -> None:
    """schemathesis against a live uvicorn server (positive and negative cases, a fixed seed).

    Runs from tests_integrations/schemathesis with its own pytest.ini: schemathesis brings a pytest
    plugin of its own, and a few minutes of fuzzing do not belong in the default `pytest` run.
    """
    session.install("-e", ".[server]", "pytest>=8", "schemathesis>=4.3,<5")
    session.run(
        "pytest",
        "-c",
        "tests_integrations/schemathesis/pytest.ini",
        "--rootdir",
        ".",
        "tests_integrations/schemathesis",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The quick start, through the CLI: a dozen memories stored with the real embedder, then filtered searches."""
    install_with_model(session, "embed,cli")
    session.run("memorylink", "demo")


@nox.session(python=PYTHON)
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark script; each prints a table and writes benchmarks/results/<name>.json."""
    install_with_model(session, "embed,embed-light,cli,dev")
    scripts = session.posargs or ["ingest", "single_add", "search", "scale_100k", "embedders", "cli"]
    for script in scripts:
        session.run("python", f"benchmarks/bench_{script}.py")
