"""``AuthService``: logins, credential checks, the events and audit entries they produce.

Blocking (scrypt, SQLite): async callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from memorylink.errors import AuthenticationError
from memorylink.events import request_id as request_id_context
from memorylink.server.auth.accounts import Accounts, role_scopes
from memorylink.server.auth.audit import AuditLog
from memorylink.server.auth.models import ApiKeyRecord, AuditEntry
from memorylink.server.auth.settings import AuthSettings
from memorylink.server.auth.tokens import IssuedToken, TokenService
from memorylink.server.principal import Principal
from memorylink.store import MemoryStore

__all__ = ["AuthService", "actor_of"]

logger = logging.getLogger(__name__)


def actor_of(principal: Principal) -> str:
    """How the audit log names a caller: ``user:<name>``, ``key:<id>`` or ``anonymous``."""
    if principal.username is not None:
        return f"user:{principal.username}"
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    return "anonymous"


class AuthService:
    """The server's accounts, tokens and audit log over one store.

    Args:
        store: The open store (its ``app_data`` keeps the accounts; events go through ``emit``).
        settings: Token lifetime, password rules, last-used bookkeeping.
        clock: Seconds since the epoch (tests move it to expire tokens and keys).
    """

    def __init__(
        self, store: MemoryStore, settings: AuthSettings | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.settings = settings or AuthSettings()
        self.clock = clock
        self.accounts = Accounts(
            store.app_data,
            limits=store.settings.limits,
            min_password_length=self.settings.min_password_length,
            clock=clock,
        )
        self.audit = AuditLog(store.app_data, clock=clock, retention_days=self.settings.audit_retention_days)
        self.tokens = TokenService(self.accounts.secret("jwt"), ttl_s=self.settings.token_ttl_s, clock=clock)

    # -- logins ----------------------------------------------------------------------------

    def login(self, username: str, password: str, *, request_id: str | None = None) -> IssuedToken:
        """A token for a good username and password; emits ``auth.login`` and audits it either way.

        Raises:
            AuthenticationError: Unknown user or wrong password (the two are not told apart).
        """
        account = self.accounts.check_password(username, password) if username and password else None
        outcome: Literal["success", "failure"] = "success" if account is not None else "failure"
        known = account or self.accounts.get_user(username)
        with request_id_context(request_id):
            self.store.emit(
                "auth.login",
                {"username": username[:64], "outcome": outcome, "method": "password"},
                user_id=known.user_id if known is not None else None,
            )
        if self.settings.audit_logins:
            self.audit.record(
                actor=f"user:{username}",
                action="auth.login",
                target=f"user:{username}",
                outcome=outcome,
                request_id=request_id,
            )
        if account is None:
            logger.info("login refused for a username of %d characters", len(username))
            raise AuthenticationError("wrong username or password", details={"reason": "bad_credentials"})
        return self.tokens.issue(
            username=account.username,
            user_id=account.user_id,
            scopes=role_scopes(account.role),
            version=account.token_version,
        )

    # -- credentials -----------------------------------------------------------------------

    def authenticate_key(self, value: str, *, request_id: str | None = None) -> Principal:
        """The caller an API key stands for; records its use (and emits ``api_key.used``) at most once a minute.

        Raises:
            AuthenticationError: Malformed, unknown, revoked, expired, or its user is gone.
        """
        record = self.accounts.verify_key(value)
        scopes = frozenset(record.scopes)
        if record.username is not None:
            account = self.accounts.get_user(record.username)
            if account is None:
                raise AuthenticationError("the key's user is gone", details={"reason": "user_removed"})
            scopes &= role_scopes(account.role)
        self._note_use(record, request_id)
        return Principal(
            user_id=record.user_id, scopes=scopes, kind="api_key", key_id=record.id, username=record.username
        )

    def _note_use(self, record: ApiKeyRecord, request_id: str | None) -> None:
        interval = self.settings.key_used_interval_s
        last = record.last_used_at
        if last is not None and (self.clock() - last.timestamp()) < interval:
            return  # the common case: no write at all
        if self.accounts.touch_key(record.id, interval_s=interval):
            with request_id_context(request_id):
                self.store.emit(
                    "api_key.used",
                    {"key_id": record.id, "name": record.name, "username": record.username},
                    user_id=record.user_id,
                )

    def authenticate_token(self, token: str) -> Principal:
        """The caller a JWT stands for, if its account still exists with the same password.

        Raises:
            AuthenticationError: Invalid, tampered, expired, or its user was removed or changed password.
        """
        claims = self.tokens.verify(token)
        account = self.accounts.get_user(claims.username)
        if account is None:
            raise AuthenticationError("the token's user is gone", details={"reason": "user_removed"})
        if account.token_version != claims.version:
            raise AuthenticationError("the token was revoked", details={"reason": "revoked"})
        return Principal(
            user_id=account.user_id,
            scopes=claims.scopes & role_scopes(account.role),
            kind="jwt",
            username=account.username,
        )

    # -- audit -----------------------------------------------------------------------------

    def record(
        self,
        principal: Principal | str,
        action: str,
        target: str | None = None,
        *,
        outcome: Literal["success", "failure"] = "success",
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an audit entry for ``principal`` (or a named actor such as ``"cli"``)."""
        actor = principal if isinstance(principal, str) else actor_of(principal)
        return self.audit.record(
            actor=actor, action=action, target=target, outcome=outcome, request_id=request_id, details=details
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)
