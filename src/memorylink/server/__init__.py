"""The REST server (``pip install "memorylink[server]"``): ``create_app(store)`` and its settings.

Run it with ``memorylink serve``, or embed the app::

    from memorylink.server import create_app, ServerSettings
    app = create_app(store, ServerSettings(cors_origins=["https://app.example.com"]))
"""

from __future__ import annotations

from memorylink.errors import MissingDependencyError

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as error:  # the extra is missing: say which pip install fixes it
    raise MissingDependencyError(error.name or "fastapi", "server") from error

from memorylink.server.app import create_app
from memorylink.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
