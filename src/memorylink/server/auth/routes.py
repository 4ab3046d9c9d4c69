"""``auth_router``: the token endpoint, users, API keys and the audit log.

Admins manage every user and key and read the audit log; other callers see and manage
only their own keys, with scopes no larger than their own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from memorylink.errors import AuthenticationError, NotFoundError
from memorylink.server._constraints import KEY_ID, states
from memorylink.server.auth._examples import auth_example
from memorylink.server.auth.accounts import AlreadyExistsError
from memorylink.server.auth.guard import AuthGuard, unauthenticated
from memorylink.server.auth.models import (
    USERNAME_PATTERN,
    ApiKey,
    AuditPage,
    CreateKeyRequest,
    CreateUserRequest,
    NewApiKey,
    PasswordChangeRequest,
    TokenResponse,
    User,
    Whoami,
)
from memorylink.server.auth.service import AuthService, actor_of
from memorylink.server.auth.settings import AuthSettings
from memorylink.server.errors import ApiError
from memorylink.server.openapi import error_responses
from memorylink.server.principal import AdminReader, AdminWriter, Principal, Reader, Writer

__all__ = ["audit_admin_action", "auth_router", "auth_service"]

auth_router = APIRouter()
"""Mounted by ``create_app``; every path is under ``/api/v1``."""

_TAG_AUTH = "auth"
_TAG_USERS = "users"
_TAG_KEYS = "keys"

Username = Annotated[str, Path(description="the login name", json_schema_extra=states(pattern=USERNAME_PATTERN))]
KeyId = Annotated[str, Path(description="the key's id (the 8 characters after mlk_)", json_schema_extra=KEY_ID)]


def auth_service(request: Request) -> AuthService:
    """The app's :class:`AuthService`: the guard's, or (``--no-auth`` servers) one made on first use."""
    guard = request.app.state.guard
    if isinstance(guard, AuthGuard):
        return guard.service
    service: AuthService | None = getattr(request.app.state, "auth_service", None)
    if service is None:
        settings = getattr(request.app.state, "settings", None)
        auth_settings = getattr(settings, "auth", None) or AuthSettings()
        service = AuthService(request.app.state.store, auth_settings)
        request.app.state.auth_service = service
    return service


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


async def _audit(
    request: Request,
    principal: Principal | str,
    action: str,
    target: str | None,
    *,
    outcome: Literal["success", "failure"] = "success",
    **details: Any,
) -> None:
    await run_in_threadpool(
        auth_service(request).record,
        principal,
        action,
        target,
        outcome=outcome,
        request_id=_request_id(request),
        details=details,
    )


def audit_admin_action(request: Request, principal: Principal, action: str, target: str, **details: Any) -> None:
    """Record an admin's action of another part of the server (a webhook created or removed) in the audit log.

    Blocking: call it from a plain ``def`` route (FastAPI runs those in its thread pool).
    Callers that are not admins manage only their own things and are not recorded.
    """
    if principal.is_admin:
        auth_service(request).record(principal, action, target, request_id=_request_id(request), details=details)


def _spend_login_budget(request: Request) -> None:
    """Count one password check against the client address's ``logins`` budget (429 once spent)."""
    guard = request.app.state.guard
    limiter = guard.limiter if isinstance(guard, AuthGuard) else None
    if limiter is not None and limiter.settings.enabled:
        client = request.client.host if request.client is not None else "unknown"
        state = limiter.check("logins", f"ip:{client}")
        request.state.rate_limit_headers = state.headers()


Service = Annotated[AuthService, Depends(auth_service)]


# -- token -------------------------------------------------------------------------------------


@auth_router.post(
    "/api/v1/auth/token",
    tags=[_TAG_AUTH],
    summary="Log in (OAuth2 password flow)",
    description="Trade a username and password (form fields, as OAuth2's password flow sends them) for a "
    "JWT access token. Send it as `Authorization: Bearer <token>` until `expires_in` seconds pass. Every "
    "attempt emits an `auth.login` event and goes to the audit log; attempts per client address are "
    "rate-limited (the `logins` budget).",
    response_model=TokenResponse,
    responses={200: auth_example("TokenResponse"), **error_responses(401, 422, 429)},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {"grant_type": "password", "username": "alice", "password": "a long passphrase"}
                }
            }
        }
    },
)
async def token(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    service: Service,
) -> TokenResponse:
    _spend_login_budget(request)
    try:
        issued = await run_in_threadpool(service.login, form.username, form.password, request_id=_request_id(request))
    except AuthenticationError:
        raise unauthenticated("wrong username or password") from None
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(access_token=issued.token, expires_in=issued.expires_in)


@auth_router.get(
    "/api/v1/auth/me",
    tags=[_TAG_AUTH],
    summary="Who am I",
    description="The caller as the server sees it: the user_id it acts as, its scopes and how it authenticated.",
    response_model=Whoami,
    responses={200: auth_example("Whoami"), **error_responses(401, 429)},
)
async def whoami(principal: Reader) -> Whoami:
    return Whoami(
        user_id=principal.user_id,
        username=principal.username,
        scopes=sorted(principal.scopes),
        kind=principal.kind,
        key_id=principal.key_id,
    )


# -- users -------------------------------------------------------------------------------------


@auth_router.get(
    "/api/v1/users",
    tags=[_TAG_USERS],
    summary="List users (admin)",
    description="Every login account, oldest first, without password hashes.",
    response_model=list[User],
    responses={200: auth_example("list[User]"), **error_responses(401, 403, 429)},
)
async def list_users(service: Service, principal: AdminReader) -> list[User]:
    return await run_in_threadpool(service.accounts.users)


@auth_router.post(
    "/api/v1/users",
    tags=[_TAG_USERS],
    summary="Create a user (admin)",
    description="A login account for the password flow, acting as `user_id` (default: the username). "
    "Role `admin` may manage everyone; `user` sees only its own memories, webhooks and keys.",
    status_code=201,
    response_model=User,
    responses={201: auth_example("User"), **error_responses(401, 403, 409, 422, 429)},
)
async def create_user(
    request: Request,
    body: CreateUserRequest,
    service: Service,
    principal: AdminWriter,
) -> User:
    try:
        user = await run_in_threadpool(
            service.accounts.add_user, body.username, body.password, role=body.role, user_id=body.user_id
        )
    except AlreadyExistsError as error:
        raise ApiError(409, "conflict", error.message, {"field": "username"}) from None
    await _audit(request, principal, "user.added", f"user:{user.username}", role=user.role, user_id=user.user_id)
    return user


def _visible_user(principal: Principal, username: str) -> None:
    if not principal.is_admin and principal.username != username:
        raise ApiError(403, "forbidden", "only admins may see or change other users", {"field": "username"})


@auth_router.get(
    "/api/v1/users/{username}",
    tags=[_TAG_USERS],
    summary="Get a user",
    description="One account. Admins may read any; others only their own.",
    response_model=User,
    responses={200: auth_example("User"), **error_responses(401, 403, 404, 429)},
)
async def get_user(username: Username, service: Service, principal: Reader) -> User:
    _visible_user(principal, username)
    return await run_in_threadpool(service.accounts.user, username)


@auth_router.delete(
    "/api/v1/users/{username}",
    tags=[_TAG_USERS],
    summary="Remove a user (admin)",
    description="Delete the account: its tokens stop working at once and its API keys are revoked. "
    "Its memories stay (they belong to its user_id).",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 429),
)
async def remove_user(
    request: Request,
    username: Username,
    service: Service,
    principal: AdminWriter,
) -> Response:
    revoked = await run_in_threadpool(service.accounts.remove_user, username)
    await _audit(request, principal, "user.removed", f"user:{username}", revoked_keys=revoked)
    return Response(status_code=204)


@auth_router.post(
    "/api/v1/users/{username}/password",
    tags=[_TAG_USERS],
    summary="Change a password",
    description="Admins may set anyone's password; users change their own and give `current_password` "
    "(each such check spends the client address's `logins` budget, like a login). "
    "Tokens issued before stop working.",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 429),
)
async def change_password(
    request: Request,
    username: Username,
    body: PasswordChangeRequest,
    service: Service,
    principal: Writer,
) -> Response:
    _visible_user(principal, username)
    if not principal.is_admin:
        # The current-password check is a password guess like a login: it spends the same budget.
        _spend_login_budget(request)
        current = body.current_password or ""
        if await run_in_threadpool(service.accounts.check_password, username, current) is None:
            await _audit(request, principal, "user.password_changed", f"user:{username}", outcome="failure")
            raise ApiError(403, "forbidden", "current_password is wrong", {"field": "current_password"})
    await run_in_threadpool(service.accounts.set_password, username, body.password)
    await _audit(request, principal, "user.password_changed", f"user:{username}")
    return Response(status_code=204)


# -- API keys ----------------------------------------------------------------------------------


def _own_key(service: AuthService, principal: Principal, key_id: str) -> ApiKey:
    key = service.accounts.key(key_id)
    if not principal.is_admin and key.user_id != principal.user_id:
        raise NotFoundError(key_id, kind="api_key")  # never reveal another user's key
    return key


@auth_router.get(
    "/api/v1/keys",
    tags=[_TAG_KEYS],
    summary="List API keys",
    description="Keys without their secrets, oldest first. Admins see every key (or one user's with "
    "`user_id` / `username`); others see only keys acting as their own user_id.",
    response_model=list[ApiKey],
    responses={200: auth_example("list[ApiKey]"), **error_responses(401, 403, 429)},
)
async def list_keys(
    service: Service,
    principal: Reader,
    user_id: Annotated[str | None, Query(max_length=128, description="(admins) only keys acting as this user")] = None,
    username: Annotated[str | None, Query(max_length=64, description="(admins) only this account's keys")] = None,
    include_revoked: Annotated[bool, Query(description="also list revoked keys")] = True,
) -> list[ApiKey]:
    if not principal.is_admin:
        if user_id not in (None, principal.user_id) or username not in (None, principal.username):
            raise ApiError(403, "forbidden", "this credential may only list its own user's keys", {"field": "user_id"})
        user_id = principal.user_id
    return await run_in_threadpool(
        service.accounts.keys, user_id=user_id, username=username, include_revoked=include_revoked
    )


@auth_router.post(
    "/api/v1/keys",
    tags=[_TAG_KEYS],
    summary="Create an API key",
    description="A new key; the full key is in this response only (it is stored hashed). Admins may make "
    "a key for any account (`username`) or bare `user_id`; others make keys for themselves with at most "
    "their own scopes, and a key that expires makes keys that expire no later (by default, when it does).",
    status_code=201,
    response_model=NewApiKey,
    responses={201: auth_example("NewApiKey"), **error_responses(401, 403, 404, 422, 429)},
)
async def create_key(
    request: Request,
    response: Response,
    body: CreateKeyRequest,
    service: Service,
    principal: Writer,
) -> NewApiKey:
    username, user_id = body.username, body.user_id
    if not principal.is_admin:
        if username not in (None, principal.username) or user_id not in (None, principal.user_id):
            raise ApiError(403, "forbidden", "only admins may make keys for other users", {"field": "username"})
        beyond = set(body.scopes) - set(principal.scopes)
        if beyond:
            raise ApiError(
                403,
                "forbidden",
                f"a key may not have scope {sorted(beyond)[0]!r}: this credential lacks it",
                {"field": "scopes"},
            )
        username, user_id = principal.username, principal.user_id
    elif username is None and user_id is None:
        username, user_id = principal.username, principal.user_id
    expires_by = None
    if not principal.is_admin and principal.key_id is not None:
        # A key with an expiry must not be able to mint itself a longer-lived (or endless) successor.
        maker = await run_in_threadpool(service.accounts.get_key, principal.key_id)
        expires_by = maker.expires_at if maker is not None else None
    created = await run_in_threadpool(
        service.accounts.create_key,
        scopes=body.scopes,
        username=username,
        user_id=user_id,
        name=body.name,
        expires_days=body.expires_days,
        created_by=actor_of(principal),
        expires_by=expires_by,
    )
    await _audit(request, principal, "key.created", f"key:{created.id}", scopes=created.scopes, user_id=created.user_id)
    response.headers["Cache-Control"] = "no-store"  # the secret: no cache may keep it (as for a token)
    return created


@auth_router.get(
    "/api/v1/keys/{key_id}",
    tags=[_TAG_KEYS],
    summary="Get an API key",
    description="One key without its secret (404 for another user's key, unless the caller is an admin).",
    response_model=ApiKey,
    responses={200: auth_example("ApiKey"), **error_responses(401, 403, 404, 429)},
)
async def get_key(key_id: KeyId, service: Service, principal: Reader) -> ApiKey:
    return await run_in_threadpool(_own_key, service, principal, key_id)


@auth_router.delete(
    "/api/v1/keys/{key_id}",
    tags=[_TAG_KEYS],
    summary="Revoke an API key",
    description="The key stops working at once; it stays listed as revoked.",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 429),
)
async def revoke_key(
    request: Request,
    key_id: KeyId,
    service: Service,
    principal: Writer,
) -> Response:
    await run_in_threadpool(_own_key, service, principal, key_id)
    await run_in_threadpool(service.accounts.revoke_key, key_id)
    await _audit(request, principal, "key.revoked", f"key:{key_id}")
    return Response(status_code=204)


# -- audit -------------------------------------------------------------------------------------


@auth_router.get(
    "/api/v1/audit",
    tags=[_TAG_AUTH],
    summary="Read the audit log (admin)",
    description="Admin and authentication actions, newest first: logins (good and bad), users added or "
    "removed, passwords changed, keys created or revoked. Page with `cursor` = the last page's `next_cursor`.",
    response_model=AuditPage,
    responses={200: auth_example("AuditPage"), **error_responses(401, 403, 422, 429)},
)
async def read_audit(
    service: Service,
    principal: AdminReader,
    limit: Annotated[int, Query(ge=1, le=500, description="entries per page")] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}$", description="the previous page's next_cursor")
    ] = None,
) -> AuditPage:
    return await run_in_threadpool(service.audit.page, limit=limit, cursor=cursor)
