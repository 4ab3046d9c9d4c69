"""Users and API keys of a server, sealed in the store's app data (``store.app_data``).

Shared by the REST server and the ``memorylink users`` / ``keys`` commands; needs no
web framework. API keys look like ``mlk_<id>_<secret>``: the 8-character id is public
(it names the key in lists and logs), the secret is 43 random URL-safe characters shown
once at creation and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from memorylink.app_data import AppData
from memorylink.config import Limits
from memorylink.errors import AuthenticationError, NotFoundError, ValidationError
from memorylink.models import check_scope_id
from memorylink.server.auth.models import (
    MIN_EXPIRES_DAYS,
    USERNAME_PATTERN,
    ApiKey,
    ApiKeyRecord,
    NewApiKey,
    Role,
    Scope,
    User,
    UserRecord,
)
from memorylink.server.auth.passwords import hash_password, verify_nothing, verify_password

__all__ = [
    "KEYS_NAMESPACE",
    "SECRETS_NAMESPACE",
    "USERS_NAMESPACE",
    "Accounts",
    "AlreadyExistsError",
    "parse_api_key",
    "role_scopes",
]

USERS_NAMESPACE = "server.auth.users"
KEYS_NAMESPACE = "server.auth.keys"
SECRETS_NAMESPACE = "server.auth.secrets"

KEY_PREFIX = "mlk_"
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_ID_LENGTH = 8
_KEY = re.compile(r"^mlk_([a-z0-9]{8})_([A-Za-z0-9_-]{20,128})$")
_USERNAME = re.compile(USERNAME_PATTERN)
_SCOPE_ORDER: tuple[Scope, ...] = ("read", "write", "admin")


class AlreadyExistsError(ValidationError):
    """A user with that name exists already."""

    code = "already_exists"


def role_scopes(role: Role) -> frozenset[Scope]:
    """What an account of ``role`` may do: users read and write, admins also administer."""
    return frozenset(_SCOPE_ORDER) if role == "admin" else frozenset(("read", "write"))


def parse_api_key(value: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed ``mlk_<id>_<secret>`` key, else None."""
    match = _KEY.match(value)
    return None if match is None else (match.group(1), match.group(2))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _sorted_scopes(scopes: Iterable[str]) -> list[Scope]:
    wanted = set(scopes)
    unknown = wanted - set(_SCOPE_ORDER)
    if unknown:
        raise ValidationError(f"unknown scope {sorted(unknown)[0]!r}; scopes are read, write and admin", field="scopes")
    if not wanted:
        raise ValidationError("give at least one scope", field="scopes")
    return [scope for scope in _SCOPE_ORDER if scope in wanted]


class Accounts:
    """Users and API keys in ``app_data``. Thread-safe and safe across processes (the CLI and a server).

    Args:
        app_data: The store's :class:`~memorylink.app_data.AppData`.
        limits: The store's limits (a ``user_id`` obeys ``max_scope_id_length``).
        min_password_length: The shortest password accepted.
        clock: Seconds since the epoch (tests move it).
    """

    def __init__(
        self,
        app_data: AppData,
        *,
        limits: Limits | None = None,
        min_password_length: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._data = app_data
        self._limits = limits or Limits()
        self._min_password_length = min_password_length
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # -- users -----------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, role: Role = "user", user_id: str | None = None) -> User:
        """Create a login account acting as ``user_id`` (default: the username).

        Raises:
            ValidationError: A bad username, role, user_id or a too-short password.
            AlreadyExistsError: The username is taken.
        """
        self._check_username(username)
        if role not in ("admin", "user"):
            raise ValidationError("role must be admin or user", field="role")
        acting_as = check_scope_id("user_id", username if user_id is None else user_id, self._limits) or username
        self._check_password(password)
        now = self.now()
        record = UserRecord(
            username=username,
            user_id=acting_as,
            role=role,
            created_at=now,
            password_changed_at=now,
            password_hash=hash_password(password),
            token_version=secrets.token_urlsafe(12),
        )
        if not self._data.put_json(USERS_NAMESPACE, username, record.model_dump(mode="json"), only_new=True):
            raise AlreadyExistsError(f"a user named {username!r} exists already", field="username")
        return record.public()

    def get_user(self, username: str) -> UserRecord | None:
        """The stored account, or None."""
        if not isinstance(username, str) or not _USERNAME.match(username):
            return None
        raw = self._data.get_json(USERS_NAMESPACE, username)
        return None if raw is None else UserRecord.model_validate(raw)

    def user(self, username: str) -> User:
        """The account (without its hash). Raises NotFoundError."""
        record = self.get_user(username)
        if record is None:
            raise NotFoundError(username, kind="user")
        return record.public()

    def users(self) -> list[User]:
        """Every account, oldest first."""
        return [UserRecord.model_validate(entry.json()).public() for entry in self._data.entries(USERS_NAMESPACE)]

    def remove_user(self, username: str) -> list[str]:
        """Delete an account and revoke its API keys; its tokens stop working. Returns the revoked key ids.

        Raises:
            NotFoundError: No such user.
        """
        if self.get_user(username) is None or not self._data.delete(USERS_NAMESPACE, username):
            raise NotFoundError(username, kind="user")
        revoked: list[str] = []
        for key in self.keys(include_revoked=False):
            if key.username == username:
                self.revoke_key(key.id)
                revoked.append(key.id)
        return revoked

    def set_password(self, username: str, password: str) -> User:
        """Change a password; tokens issued before stop working. Raises NotFoundError, ValidationError."""
        self._check_password(password)
        new_hash = hash_password(password)
        now = self.now()

        def change(raw: Any) -> Any:
            if raw is None:
                return None
            record = UserRecord.model_validate(raw)
            return record.model_copy(
                update={
                    "password_hash": new_hash,
                    "password_changed_at": now,
                    "token_version": secrets.token_urlsafe(12),
                }
            ).model_dump(mode="json")

        if self.get_user(username) is None:
            raise NotFoundError(username, kind="user")
        changed = self._data.update_json(USERS_NAMESPACE, username, change)
        if changed is None:
            raise NotFoundError(username, kind="user")
        return UserRecord.model_validate(changed).public()

    def check_password(self, username: str, password: str) -> UserRecord | None:
        """The account if ``password`` is its password, else None (unknown names take as long)."""
        record = self.get_user(username)
        if record is None:
            verify_nothing(password)
            return None
        return record if verify_password(password, record.password_hash) else None

    def _check_username(self, username: object) -> None:
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise ValidationError(
                "username must be 1 to 64 characters: letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit",
                field="username",
            )

    def _check_password(self, password: object) -> None:
        if not isinstance(password, str) or len(password) < self._min_password_length:
            raise ValidationError(f"password must be at least {self._min_password_length} characters", field="password")
        if len(password) > 1024:
            raise ValidationError("password must be at most 1024 characters", field="password")

    # -- API keys --------------------------------------------------------------------------

    def create_key(
        self,
        *,
        scopes: Iterable[str] = ("read", "write"),
        username: str | None = None,
        user_id: str | None = None,
        name: str | None = None,
        expires_days: float | None = None,
        created_by: str | None = None,
        expires_by: datetime | None = None,
    ) -> NewApiKey:
        """A new key bound to the account ``username`` or, for a key with no account, to ``user_id``.

        A key for an account acts as that account's user_id and may not exceed its role's
        scopes. The returned :attr:`NewApiKey.key` is the only time the secret is shown.
        ``expires_by`` is the latest the key may expire (the expiry of the key that makes it):
        without ``expires_days`` the key expires then, and a later expiry is refused.

        Raises:
            ValidationError: Neither or a mismatching username / user_id, unknown scopes,
                scopes beyond the account's role, a bad expiry or name, an expiry after ``expires_by``.
            NotFoundError: No account ``username``.
        """
        wanted = _sorted_scopes(scopes)
        if username is not None:
            account = self.get_user(username)
            if account is None:
                raise NotFoundError(username, kind="user")
            if user_id is not None and user_id != account.user_id:
                raise ValidationError(
                    f"user {username!r} acts as user_id {account.user_id!r}, not {user_id!r}", field="user_id"
                )
            beyond = set(wanted) - role_scopes(account.role)
            if beyond:
                raise ValidationError(
                    f"user {username!r} is not an admin, so its keys may not have scope {sorted(beyond)[0]!r}",
                    field="scopes",
                )
            acting_as = account.user_id
        elif user_id is not None:
            acting_as = check_scope_id("user_id", user_id, self._limits) or user_id
        else:
            raise ValidationError("a key belongs to a user: give a username or a user_id", field="user_id")
        if name is not None and (not isinstance(name, str) or len(name) > 128 or not name.isprintable()):
            raise ValidationError("name must be at most 128 printable characters", field="name")
        now = self.now()
        expires_at = None
        if expires_days is not None:
            if isinstance(expires_days, bool) or not isinstance(expires_days, (int, float)) or not expires_days > 0:
                raise ValidationError("expires_days must be a positive number of days", field="expires_days")
            if expires_days > 3650:
                raise ValidationError("expires_days must be at most 3650 (ten years)", field="expires_days")
            if expires_days < MIN_EXPIRES_DAYS:
                # A shorter lifetime rounds to a key that is expired before it is handed out.
                raise ValidationError(
                    f"expires_days must be at least {MIN_EXPIRES_DAYS:.6f} (one minute)", field="expires_days"
                )
            expires_at = now + timedelta(days=expires_days)
        if expires_by is not None:
            if expires_at is None:
                expires_at = expires_by
            elif expires_at > expires_by:
                raise ValidationError(
                    f"a key may not outlive the credential that makes it, which expires at {expires_by.isoformat()}",
                    field="expires_days",
                )
        secret = secrets.token_urlsafe(32)
        while True:
            key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH))
            record = ApiKeyRecord(
                id=key_id,
                name=name,
                username=username,
                user_id=acting_as,
                scopes=wanted,
                created_at=now,
                created_by=created_by,
                expires_at=expires_at,
                revoked_at=None,
                last_used_at=None,
                secret_sha256=_sha256(secret),
            )
            if self._data.put_json(KEYS_NAMESPACE, key_id, record.model_dump(mode="json"), only_new=True):
                break
        return NewApiKey(**record.public().model_dump(), key=f"{KEY_PREFIX}{key_id}_{secret}")

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        """The stored key, or None."""
        if not isinstance(key_id, str) or not key_id or len(key_id) > 64:
            return None
        raw = self._data.get_json(KEYS_NAMESPACE, key_id)
        return None if raw is None else ApiKeyRecord.model_validate(raw)

    def key(self, key_id: str) -> ApiKey:
        """One key as listed. Raises NotFoundError."""
        record = self.get_key(key_id)
        if record is None:
            raise NotFoundError(key_id, kind="api_key")
        return record.public()

    def keys(
        self, *, user_id: str | None = None, username: str | None = None, include_revoked: bool = True
    ) -> list[ApiKey]:
        """Keys, oldest first, optionally only those acting as ``user_id`` / belonging to ``username``."""
        found: list[ApiKey] = []
        for entry in self._data.entries(KEYS_NAMESPACE):
            key = ApiKeyRecord.model_validate(entry.json()).public()
            if user_id is not None and key.user_id != user_id:
                continue
            if username is not None and key.username != username:
                continue
            if not include_revoked and key.revoked_at is not None:
                continue
            found.append(key)
        return found

    def revoke_key(self, key_id: str) -> ApiKey:
        """Stop a key from working at once (it stays listed, marked revoked). Raises NotFoundError."""
        now = self.now()

        def change(raw: Any) -> Any:
            if raw is None:
                return None
            if raw.get("revoked_at") is None:
                raw["revoked_at"] = now.isoformat()
            return raw

        if self.get_key(key_id) is None:
            raise NotFoundError(key_id, kind="api_key")
        changed = self._data.update_json(KEYS_NAMESPACE, key_id, change)
        if changed is None:
            raise NotFoundError(key_id, kind="api_key")
        return ApiKeyRecord.model_validate(changed).public()

    def verify_key(self, value: str) -> ApiKeyRecord:
        """The key ``value`` names, if it is genuine and in force (the caller checks its account, if any).

        Raises:
            AuthenticationError: Malformed, unknown, wrong secret, revoked or expired;
                ``details["reason"]`` says which (for logs, not for the caller).
        """
        parsed = parse_api_key(value)
        if parsed is None:
            raise AuthenticationError("malformed API key", details={"reason": "malformed"})
        key_id, secret = parsed
        record = self.get_key(key_id)
        digest = _sha256(secret)
        if record is None or not hmac.compare_digest(digest, record.secret_sha256):
            raise AuthenticationError("unknown API key", details={"reason": "unknown", "key_id": key_id})
        if record.revoked_at is not None:
            raise AuthenticationError("revoked API key", details={"reason": "revoked", "key_id": key_id})
        if record.expires_at is not None and record.expires_at <= self.now():
            raise AuthenticationError("expired API key", details={"reason": "expired", "key_id": key_id})
        return record

    def touch_key(self, key_id: str, *, interval_s: float) -> bool:
        """Record that a key was used, unless that was recorded less than ``interval_s`` ago.

        Returns True when it wrote (the moment to emit ``api_key.used``).
        """
        now = self.now()
        wrote = False

        def change(raw: Any) -> Any:
            nonlocal wrote
            if raw is None:
                return None
            last = raw.get("last_used_at")
            if last is not None and (now - datetime.fromisoformat(last)).total_seconds() < interval_s:
                return raw
            raw["last_used_at"] = now.isoformat()
            wrote = True
            return raw

        self._data.update_json(KEYS_NAMESPACE, key_id, change)
        return wrote

    # -- server secrets --------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A random 32-byte secret made once per store and kept sealed in it (e.g. the JWT signing key)."""
        self._data.put(SECRETS_NAMESPACE, name, secrets.token_bytes(32), only_new=True)
        value = self._data.get(SECRETS_NAMESPACE, name)
        if value is None:  # removed by another process between the two calls: make it again
            return self.secret(name)
        return value
