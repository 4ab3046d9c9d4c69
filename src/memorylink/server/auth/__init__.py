"""Authentication for the REST server: users, API keys, JWTs, roles, the audit log.

``create_app`` installs ``build_guard(store, settings)`` as ``app.state.guard`` and mounts
``auth_router`` (also exported as ``router``). Users, keys and the audit log live sealed in
the store (``store.app_data``), so ``memorylink users`` / ``keys`` manage them with the
server stopped or running.

The web parts (``build_guard``, ``AuthGuard``, ``AuthService``, ``auth_router``) load on
first use, so the CLI can use :class:`Accounts` without the server's dependencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memorylink.server.auth.accounts import Accounts, AlreadyExistsError, parse_api_key, role_scopes
from memorylink.server.auth.audit import AuditLog
from memorylink.server.auth.models import (
    ApiKey,
    AuditEntry,
    AuditPage,
    NewApiKey,
    Role,
    TokenResponse,
    User,
    Whoami,
)
from memorylink.server.auth.settings import AuthSettings

if TYPE_CHECKING:
    from memorylink.server.auth.guard import AuthGuard
    from memorylink.server.auth.service import AuthService
    from memorylink.server.settings import ServerSettings
    from memorylink.store import MemoryStore

__all__ = [
    "Accounts",
    "AlreadyExistsError",
    "ApiKey",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuthGuard",
    "AuthService",
    "AuthSettings",
    "NewApiKey",
    "Role",
    "TokenResponse",
    "User",
    "Whoami",
    "auth_router",
    "build_guard",
    "router",
    "parse_api_key",
    "role_scopes",
]


def build_guard(
    store: MemoryStore, settings: ServerSettings | None = None, *, clock: Callable[[], float] = time.time
) -> AuthGuard:
    """The guard of a server with authentication on, over ``store``.

    Args:
        store: The open store the server serves (its app data holds the accounts).
        settings: The server's settings; its ``auth`` (:class:`AuthSettings`) and
            ``rate_limits`` (:class:`~memorylink.server.ratelimit.RateLimitSettings`) are used
            (defaults when None).
        clock: Seconds since the epoch, for token and key expiry (tests move it).
    """
    from memorylink.server.auth.guard import AuthGuard
    from memorylink.server.auth.service import AuthService
    from memorylink.server.ratelimit import RateLimiter, RateLimitSettings

    auth_settings = settings.auth if settings is not None else AuthSettings()
    limit_settings = settings.rate_limits if settings is not None else RateLimitSettings()
    limiter = RateLimiter(limit_settings) if limit_settings.enabled else None
    return AuthGuard(AuthService(store, auth_settings, clock=clock), limiter)


def __getattr__(name: str) -> Any:
    if name in ("auth_router", "router"):
        from memorylink.server.auth.routes import auth_router

        return auth_router
    if name == "AuthGuard":
        from memorylink.server.auth.guard import AuthGuard

        return AuthGuard
    if name == "AuthService":
        from memorylink.server.auth.service import AuthService

        return AuthService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
