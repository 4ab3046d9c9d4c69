"""``AuthGuard``: the :class:`~memorylink.server.principal.Guard` of a server with authentication on.

Credentials: ``X-API-Key: mlk_...``, or ``Authorization: Bearer <credential>`` where the
credential is an API key (``mlk_...``) or a JWT from ``/api/v1/auth/token``.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from memorylink.errors import AuthenticationError
from memorylink.server.auth.accounts import KEY_PREFIX
from memorylink.server.auth.service import AuthService
from memorylink.server.auth.tokens import looks_like_jwt
from memorylink.server.errors import ApiError
from memorylink.server.principal import Budget, Principal, Scope
from memorylink.server.ratelimit import RateLimiter

__all__ = ["WWW_AUTHENTICATE", "AuthGuard", "credential_of", "unauthenticated"]

logger = logging.getLogger(__name__)

WWW_AUTHENTICATE = 'Bearer realm="memorylink"'


def unauthenticated(message: str) -> ApiError:
    """The 401 answer, with the ``WWW-Authenticate`` challenge."""
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def credential_of(connection: HTTPConnection) -> str | None:
    """The credential a request carries (``X-API-Key``, else a bearer value), or None.

    Raises:
        ApiError: 401 for an ``Authorization`` header of another scheme.
    """
    api_key = connection.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    authorization = connection.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthenticated("send credentials as 'Authorization: Bearer <key or token>' or X-API-Key")
    return value.strip()


class AuthGuard:
    """Authenticates each request, checks its scope, then spends its rate-limit budget.

    Args:
        service: Accounts, tokens and audit over the store.
        limiter: Per-caller budgets; None counts nothing.
    """

    def __init__(self, service: AuthService, limiter: RateLimiter | None) -> None:
        self.service = service
        self.limiter = limiter

    async def __call__(self, request: HTTPConnection, scope: Scope, budget: Budget | None) -> Principal:
        credential = credential_of(request)
        if credential is None:
            raise unauthenticated("this endpoint needs credentials: an API key (X-API-Key) or a bearer token")
        principal = await self.authenticate(credential, request_id=getattr(request.state, "request_id", None))
        if not principal.allows(scope):
            raise ApiError(
                403,
                "forbidden",
                f"this credential lacks the {scope} scope",
                {"scope": scope, "has": sorted(principal.scopes)},
            )
        if budget is not None and self.limiter is not None and self.limiter.settings.enabled:
            state = self.limiter.check(budget, principal.rate_key)
            request.state.rate_limit_headers = state.headers()
        return principal

    async def authenticate(self, credential: str, *, request_id: str | None = None) -> Principal:
        """The caller ``credential`` (an API key or a JWT) stands for.

        For connections that bring their credential another way (a WebSocket's ``?token=``
        or first message). Spends no rate-limit budget and checks no scope.

        Raises:
            ApiError: 401 ``unauthenticated`` for anything but a valid, unrevoked, unexpired credential.
        """
        try:
            if credential.startswith(KEY_PREFIX):
                return await run_in_threadpool(self.service.authenticate_key, credential, request_id=request_id)
            if looks_like_jwt(credential):
                return await run_in_threadpool(self.service.authenticate_token, credential)
        except AuthenticationError as error:
            logger.info("credentials refused: %s", error.details.get("reason", "invalid"))
            raise unauthenticated(_public_message(error)) from None
        raise unauthenticated("the credential is neither an API key (mlk_...) nor a token")


def _public_message(error: AuthenticationError) -> str:
    reason = error.details.get("reason")
    if reason == "expired":
        return "the credential has expired"
    if reason == "revoked":
        return "the credential was revoked"
    return "the credential is not valid"
