"""``create_app``: the REST server as a FastAPI app over one open MemoryStore (no module-level app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

from memorylink._version import __version__
from memorylink.server import health
from memorylink.server._openapi import build_openapi
from memorylink.server.auth import build_guard
from memorylink.server.auth.routes import auth_router
from memorylink.server.errors import install_error_handlers
from memorylink.server.metrics import ServerMetrics, metrics_router
from memorylink.server.middleware import BodyLimitMiddleware, CorsMiddleware, RequestContextMiddleware
from memorylink.server.principal import Guard, NoAuthGuard
from memorylink.server.ratelimit import RateLimitHeadersMiddleware
from memorylink.server.routes import admin, memories, webhooks
from memorylink.server.routes._common import refuse_repeated_query
from memorylink.server.settings import ServerSettings
from memorylink.server.streams import router as streams_router

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["create_app"]

DESCRIPTION = """\
The memorylink REST API: an encrypted, local-first memory store for AI agents, searched by meaning.

Send an API key as `X-API-Key` (or `Authorization: Bearer <key>`), or a JWT access token from
`POST /api/v1/auth/token`. Every error answers the same body:
`{"error": {"code", "message", "details", "request_id", "timestamp"}}`, and every response carries
`X-Request-ID`.
"""

TAGS = [
    {"name": "memories", "description": "Add, list, get, update, delete and search memories."},
    {"name": "webhooks", "description": "Webhook endpoints that receive signed events."},
    {"name": "events", "description": "The live event stream: Server-Sent Events and a WebSocket."},
    {"name": "auth", "description": "Access tokens (OAuth2 password flow) and who is calling."},
    {"name": "users", "description": "Login accounts, for admins."},
    {"name": "keys", "description": "API keys: shown once at creation, stored hashed, revocable."},
    {"name": "admin", "description": "Store-wide figures and the audit log, for admins."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(store: MemoryStore, settings: ServerSettings | None = None, *, guard: Guard | None = None) -> FastAPI:
    """The REST API over ``store`` (which the caller opens and closes).

    Args:
        store: An open store; routes call it from FastAPI's thread pool.
        settings: Server settings; defaults are safe (auth on, CORS off, 1 MiB bodies).
        guard: Who is let in (tests and embedding applications); by default
            :class:`NoAuthGuard` when ``settings.no_auth``, else the API-key / JWT guard
            built by :func:`memorylink.server.auth.build_guard`.
    """
    settings = settings or ServerSettings()
    app = FastAPI(
        title="memorylink",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.guard = guard if guard is not None else _default_guard(store, settings)
    app.state.metrics = ServerMetrics(store)

    install_error_handlers(app)
    once = [Depends(refuse_repeated_query)]
    app.include_router(memories.router, dependencies=once)
    app.include_router(webhooks.router, dependencies=once)
    app.include_router(admin.router, dependencies=once)
    app.include_router(auth_router, dependencies=once)
    app.include_router(streams_router)
    app.include_router(health.router)
    app.include_router(metrics_router(public=settings.metrics_public))

    # Added innermost first: CORS answers preflights outside everything, every response gets a request id.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, observe=app.state.metrics.observe)
    if settings.cors_origins:
        app.add_middleware(
            CorsMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Last-Event-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
        )

    def openapi() -> dict[str, object]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _default_guard(store: MemoryStore, settings: ServerSettings) -> Guard:
    if settings.no_auth:
        return NoAuthGuard(settings.no_auth_user_id)
    return build_guard(store, settings)
