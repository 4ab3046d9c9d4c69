"""``AuthSettings``: token lifetime, password rules and API-key bookkeeping of the REST server."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuthSettings"]


class AuthSettings(BaseModel):
    """How the server authenticates callers. Every default is the documented one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_ttl_s: int = Field(3600, ge=60, le=30 * 86_400, description="lifetime of a JWT from /api/v1/auth/token")
    min_password_length: int = Field(8, ge=1, le=1024, description="shortest password `users add` accepts")
    key_used_interval_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="an API key's last-used time is written (and api_key.used emitted) at most this often",
    )
    audit_logins: bool = Field(True, description="record every login, good or bad, in the audit log")
    audit_retention_days: float = Field(
        365.0, gt=0, le=36_500, description="audit entries older than this are pruned as new ones arrive"
    )
