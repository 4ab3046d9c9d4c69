"""The ``memorylink`` command line (``pip install "memorylink[cli]"``).

A thin layer over :class:`memorylink.MemoryStore`: every command opens the store, calls one
or two of its public methods and prints the result (a rich table, or ``--json``).
"""

from __future__ import annotations

try:
    import rich  # noqa: F401
    import typer  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    from memorylink.errors import MissingDependencyError

    raise MissingDependencyError(error.name or "typer", "cli") from error

from memorylink.cli.app import create_app, main

__all__ = ["create_app", "main"]
