"""Who is calling: the Principal every route receives, and how a route asks for one.

Routes declare what they need with ``Depends(requires("write", "writes"))``; the app's
guard (``app.state.guard``, a :class:`Guard`) authenticates the request, checks the
scope, spends the rate-limit budget and returns the :class:`Principal`. ``--no-auth``
servers use :class:`NoAuthGuard`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, get_args

from fastapi import Depends, Request

from memorylink.server.errors import ApiError

__all__ = [
    "AdminReader",
    "AdminWriter",
    "BatchWriter",
    "Budget",
    "Guard",
    "NoAuthGuard",
    "Principal",
    "Reader",
    "Scope",
    "Searcher",
    "Writer",
    "requires",
    "resolve_user",
]

Scope = Literal["read", "write", "admin"]
"""What a credential may do: ``read`` (get, list, search), ``write`` (add, update, delete), ``admin``."""

Budget = Literal["reads", "writes", "searches", "batches"]
"""The rate-limit budget a route spends from."""

SCOPES: tuple[Scope, ...] = get_args(Scope)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        user_id: The memorylink ``user_id`` whose memories and webhooks this caller owns.
        scopes: What the credential may do; ``admin`` implies ``read`` and ``write``.
        kind: How the caller proved who it is.
        key_id: The API key's public id (its prefix), for API-key callers.
        username: The user's login name, for JWT callers and API keys bound to a user.
    """

    user_id: str
    scopes: frozenset[Scope]
    kind: Literal["api_key", "jwt", "anonymous"]
    key_id: str | None = None
    username: str | None = None

    @property
    def is_admin(self) -> bool:
        """True for credentials with the ``admin`` scope."""
        return "admin" in self.scopes

    def allows(self, scope: Scope) -> bool:
        """Whether this caller may act with ``scope``."""
        return self.is_admin or scope in self.scopes

    @property
    def rate_key(self) -> str:
        """The identity rate limits are counted against: the ``user_id``, whatever the credential.

        Per user, not per key: a user may mint keys for itself, so a budget per key would let
        it multiply its budget by minting more.
        """
        return f"user:{self.user_id}"


class Guard(Protocol):
    """Authenticates a request and enforces its scope and rate limit.

    Raises :class:`ApiError` with status 401 (no or bad credentials), 403 (scope too
    small) or 429 (budget spent, with ``Retry-After``). May store rate-limit headers
    in ``request.state.rate_limit_headers`` for the response.
    """

    async def __call__(self, request: Request, scope: Scope, budget: Budget | None) -> Principal: ...


class NoAuthGuard:
    """Every caller is an admin acting as ``user_id``: only for ``--no-auth`` servers on loopback.

    A caller whose address is not loopback is refused (403) however the app is served: the
    ``host`` check of :class:`~memorylink.server.ServerSettings` only covers ``memorylink serve``,
    and an embedding application may bind the app anywhere.
    """

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id

    async def __call__(self, request: Request, scope: Scope, budget: Budget | None) -> Principal:
        client = request.client
        if client is not None and not _loopback_or_not_an_address(client.host):
            raise ApiError(
                403,
                "forbidden",
                "this server runs without authentication, so it answers only callers on this machine",
                {"reason": "no_auth_remote_client"},
            )
        return Principal(user_id=self.user_id, scopes=frozenset(SCOPES), kind="anonymous")


def _loopback_or_not_an_address(host: str) -> bool:
    # In-process transports name no address (Starlette's TestClient says "testclient"); sockets always do.
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # 127.0.0.1 on a dual-stack socket
    return address.is_loopback


def requires(scope: Scope, budget: Budget | None = None) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, once ``app.state.guard`` accepts it for ``scope``."""

    async def dependency(request: Request) -> Principal:
        guard: Guard = request.app.state.guard
        principal = await guard(request, scope, budget)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"requires_{scope}"
    return dependency


def resolve_user(principal: Principal, user_id: str | None) -> str | None:
    """The ``user_id`` a call acts on: a caller's own unless it is an admin.

    Non-admins who name no user act on their own memories; naming another user is a 403.
    Admins act on the user they name, or on every user when they name none.
    """
    if principal.is_admin:
        return user_id
    if user_id is None or user_id == principal.user_id:
        return principal.user_id
    raise ApiError(403, "forbidden", "this credential may only act on its own user's memories", {"field": "user_id"})


Reader = Annotated[Principal, Depends(requires("read", "reads"))]
"""A route parameter: the caller, with the read scope, spending the reads budget."""
Writer = Annotated[Principal, Depends(requires("write", "writes"))]
"""The caller, with the write scope, spending the writes budget."""
Searcher = Annotated[Principal, Depends(requires("read", "searches"))]
"""The caller, with the read scope, spending the searches budget."""
BatchWriter = Annotated[Principal, Depends(requires("write", "batches"))]
"""The caller, with the write scope, spending the batches budget."""
AdminReader = Annotated[Principal, Depends(requires("admin", "reads"))]
"""The caller, an admin, spending the reads budget."""
AdminWriter = Annotated[Principal, Depends(requires("admin", "writes"))]
"""The caller, an admin, spending the writes budget."""
