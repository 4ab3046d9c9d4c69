"""The REST server (``pip install "memorylink[server]"``): ``create_app(store)`` and its settings.

Run it with ``memorylink serve``, or embed the app::

    from memorylink.server import create_app, ServerSettings
    app = create_app(store, ServerSettings(cors_origins=["https://app.example.com"]))

The names load on first use, so ``python -m memorylink.server.openapi`` and the CLI's
account commands import only what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memorylink.errors import MissingDependencyError

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as error:  # the extra is missing: say which pip install fixes it
    raise MissingDependencyError(error.name or "fastapi", "server") from error

if TYPE_CHECKING:
    from memorylink.server.app import create_app
    from memorylink.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from memorylink.server.app import create_app

        return create_app
    if name == "ServerSettings":
        from memorylink.server.settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
