"""Response examples of the auth routes for the OpenAPI document (built from the models, so they stay valid)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from memorylink.server.auth.models import ApiKey, AuditEntry, AuditPage, NewApiKey, TokenResponse, User, Whoami

__all__ = ["AUTH_EXAMPLES", "auth_example"]

_WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_USER = User(username="alice", user_id="alice", role="user", created_at=_WHEN, password_changed_at=_WHEN)
_KEY = ApiKey(
    id="k3y1d0ab",
    name="laptop",
    username="alice",
    user_id="alice",
    scopes=["read"],
    created_at=_WHEN,
    created_by="user:alice",
    expires_at=None,
    revoked_at=None,
    last_used_at=_WHEN,
)
_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJtZW1vcnlsaW5rIiwic3ViIjoiYWxpY2UifQ."
    "5mhBHqs5_DTLdINd9p5m7ZJ6XD0Xc55kIaCRY5r6HRA"
)

AUTH_EXAMPLES: dict[str, Any] = {
    "TokenResponse": TokenResponse(access_token=_TOKEN, expires_in=3600).model_dump(mode="json"),
    "Whoami": Whoami(user_id="alice", username="alice", scopes=["read", "write"], kind="jwt", key_id=None).model_dump(
        mode="json"
    ),
    "User": _USER.model_dump(mode="json"),
    "list[User]": [_USER.model_dump(mode="json")],
    "ApiKey": _KEY.model_dump(mode="json"),
    "list[ApiKey]": [_KEY.model_dump(mode="json")],
    "NewApiKey": NewApiKey(
        **_KEY.model_copy(update={"last_used_at": None}).model_dump(),
        key="mlk_k3y1d0ab_9Qm1p0Zr3cKqk4xJv2hN8sYw7tLb6dEa5fUg1iOo3Xy",
    ).model_dump(mode="json"),
    "AuditPage": AuditPage(
        items=[
            AuditEntry(
                id="aud_1M8SHTAZHFSVD",
                time=_WHEN,
                actor="user:admin",
                action="key.created",
                target="key:k3y1d0ab",
                outcome="success",
                request_id="9f1c2e7a5b3d4c8e",
                details={"scopes": ["read"], "user_id": "alice"},
            )
        ],
        next_cursor="41",
    ).model_dump(mode="json"),
}


def auth_example(name: str, description: str | None = None) -> dict[str, Any]:
    """A ``responses=`` entry whose JSON example is ``AUTH_EXAMPLES[name]``."""
    entry: dict[str, Any] = {"content": {"application/json": {"example": AUTH_EXAMPLES[name]}}}
    if description is not None:
        entry["description"] = description
    return entry
