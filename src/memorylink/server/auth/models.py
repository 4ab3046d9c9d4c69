"""The shapes of users, API keys, tokens and audit entries (request, response and stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memorylink.server._constraints import SCOPE_ID, limit, states

__all__ = [
    "MIN_EXPIRES_DAYS",
    "USERNAME_PATTERN",
    "ApiKey",
    "ApiKeyRecord",
    "AuditEntry",
    "AuditPage",
    "CreateKeyRequest",
    "CreateUserRequest",
    "NewApiKey",
    "PasswordChangeRequest",
    "Role",
    "Scope",
    "TokenResponse",
    "User",
    "UserRecord",
    "Whoami",
]

MIN_EXPIRES_DAYS = 1 / 1440
"""The shortest key lifetime, one minute: a shorter one would round to a key expired when made."""

Scope = Literal["read", "write", "admin"]
"""The same scopes as :data:`memorylink.server.principal.Scope` (kept here so the CLI needs no fastapi)."""

Role = Literal["admin", "user"]
"""``admin`` manages users, every key and every webhook and reads the audit log; ``user`` only its own."""

_DEFAULT_KEY_SCOPES: list[Scope] = ["read", "write"]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"

_EXAMPLE_TIME = "2026-01-02T03:04:05Z"
_PASSWORD = states(minLength=limit("min_password_length"))
"""The server's ``AuthSettings.min_password_length``, which ``Accounts`` enforces."""


class User(BaseModel):
    """A login account (never with its password hash)."""

    model_config = ConfigDict(frozen=True)

    username: str = Field(description="the login name", examples=["alice"])
    user_id: str = Field(description="the memorylink user_id this account acts as", examples=["alice"])
    role: Role = Field(description="admin or user", examples=["user"])
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    password_changed_at: datetime = Field(examples=[_EXAMPLE_TIME])


class UserRecord(User):
    """A user as stored (sealed in the store's app data)."""

    password_hash: str
    token_version: str = Field(description="changes with the password or the account: older tokens stop working")

    def public(self) -> User:
        return User.model_validate(self.model_dump(include=set(User.model_fields)))


class ApiKey(BaseModel):
    """An API key as listed: everything but the secret."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the key's public prefix (the 8 characters after mlk_)", examples=["k3y1d0ab"])
    name: str | None = Field(description="a note for people", examples=["ci pipeline"])
    username: str | None = Field(description="the account the key belongs to, if any", examples=["alice"])
    user_id: str = Field(description="the memorylink user_id the key acts as", examples=["alice"])
    scopes: list[Scope] = Field(description="what the key may do", examples=[["read", "write"]])
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    created_by: str | None = Field(description="who created it (a username, a key, or cli)", examples=["admin"])
    expires_at: datetime | None = Field(description="when it stops working; None: never", examples=[None])
    revoked_at: datetime | None = Field(description="when it was revoked; None: it was not", examples=[None])
    last_used_at: datetime | None = Field(
        description="when it last authenticated a request (updated at most once a minute)", examples=[None]
    )

    @property
    def hint(self) -> str:
        """How the key starts, for people to recognise it: ``mlk_<id>_...``."""
        return f"mlk_{self.id}_..."


class ApiKeyRecord(ApiKey):
    """A key as stored: the SHA-256 of its secret, never the secret."""

    secret_sha256: str

    def public(self) -> ApiKey:
        return ApiKey.model_validate(self.model_dump(include=set(ApiKey.model_fields)))


class NewApiKey(ApiKey):
    """A key just created: ``key`` is shown this once and cannot be read back."""

    key: str = Field(
        description="the full key; send it as X-API-Key or Authorization: Bearer",
        examples=["mlk_k3y1d0ab_9Qm1p0Zr3cKqk4xJv2hN8sYw7tLb6dEa5fUg1iOo3"],
    )


class CreateUserRequest(BaseModel):
    """A new login account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"username": "alice", "password": "a long passphrase"},
                {"username": "ops", "password": "another long passphrase", "role": "admin", "user_id": "team-ops"},
            ]
        },
    )

    username: str = Field(pattern=USERNAME_PATTERN, description="letters, digits, . _ @ -", examples=["alice"])
    password: str = Field(min_length=1, max_length=1024, examples=["a long passphrase"], json_schema_extra=_PASSWORD)
    role: Role = Field("user", examples=["user"])
    user_id: str | None = Field(
        None,
        description="the user_id to act as (default: the username)",
        examples=[None],
        json_schema_extra=SCOPE_ID,
    )


class PasswordChangeRequest(BaseModel):
    """A new password; users changing their own also give the current one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"password": "a new long passphrase", "current_password": "a long passphrase"}]
        },
    )

    password: str = Field(
        min_length=1, max_length=1024, examples=["a new long passphrase"], json_schema_extra=_PASSWORD
    )
    current_password: str | None = Field(None, max_length=1024, examples=["a long passphrase"])


class CreateKeyRequest(BaseModel):
    """A new API key. Non-admins make keys for themselves with at most their own scopes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "laptop", "scopes": ["read"]},
                {"name": "ingest bot", "scopes": ["write"], "user_id": "ingest-bot", "expires_days": 90},
            ]
        },
    )

    name: str | None = Field(None, max_length=128, examples=["ci pipeline"])
    scopes: list[Scope] = Field(default_factory=lambda: _DEFAULT_KEY_SCOPES.copy(), min_length=1, examples=[["read"]])
    expires_days: float | None = Field(
        None,
        ge=MIN_EXPIRES_DAYS,
        le=3650,
        strict=True,
        description="lifetime in days (a fraction is fine, down to one minute); None: no expiry",
    )
    username: str | None = Field(
        None,
        description="(admins) the account to bind the key to",
        examples=[None],
        json_schema_extra=states(pattern=USERNAME_PATTERN),
    )
    user_id: str | None = Field(
        None, description="(admins) the user_id to act as, for a key with no account", json_schema_extra=SCOPE_ID
    )


class TokenResponse(BaseModel):
    """The OAuth2 password-flow answer."""

    access_token: str = Field(description="a JWT (HS256); send it as Authorization: Bearer")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until it expires", examples=[3600])


class Whoami(BaseModel):
    """The caller, as the server sees it."""

    user_id: str = Field(examples=["alice"])
    username: str | None = Field(examples=["alice"])
    scopes: list[Scope] = Field(examples=[["read", "write"]])
    kind: Literal["api_key", "jwt", "anonymous"] = Field(examples=["jwt"])
    key_id: str | None = Field(examples=[None])


class AuditEntry(BaseModel):
    """One admin or authentication action."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="unique, sorts by time", examples=["aud_01HZY3"])
    time: datetime = Field(examples=[_EXAMPLE_TIME])
    actor: str = Field(
        description="who acted: user:<name>, key:<id>, cli, or the username tried", examples=["user:admin"]
    )
    action: str = Field(examples=["key.created"])
    target: str | None = Field(description="what it acted on", examples=["key:k3y1d0ab"])
    outcome: Literal["success", "failure"] = Field(examples=["success"])
    request_id: str | None = Field(examples=["4f1c2e"])
    details: dict[str, Any] = Field(default_factory=dict, examples=[{"scopes": ["read"]}])


class AuditPage(BaseModel):
    """A page of the audit log, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[AuditEntry]
    next_cursor: str | None = Field(description="None on the last page")
