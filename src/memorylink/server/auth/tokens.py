"""JWT access tokens (HS256, PyJWT) for the OAuth2 password flow.

Claims: ``iss`` (memorylink), ``sub`` (username), ``uid`` (user_id), ``scopes``, ``ver``
(the account's token version: a new password or a re-created account voids older
tokens), ``iat``, ``exp`` and ``jti``. Expiry is checked against an injectable clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from memorylink.errors import AuthenticationError
from memorylink.server.auth.models import Scope

__all__ = ["ISSUER", "IssuedToken", "TokenClaims", "TokenService", "looks_like_jwt"]

ISSUER = "memorylink"
_ALGORITHM = "HS256"
_MAX_CLOCK_SKEW_S = 60


def looks_like_jwt(value: str) -> bool:
    """Whether ``value`` has a JWT's shape (three base64url parts), so it goes to the token path."""
    parts = value.split(".")
    return len(parts) == 3 and all(parts[:2]) and len(value) <= 8192


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token and its lifetime in seconds."""

    token: str
    expires_in: int
    jti: str


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says."""

    username: str
    user_id: str
    scopes: frozenset[Scope]
    version: str
    issued_at: int
    expires_at: int
    jti: str


class TokenService:
    """Issues and verifies HS256 tokens with one secret.

    Args:
        secret: The signing key (32 random bytes, kept sealed in the store).
        ttl_s: Lifetime of new tokens.
        clock: Seconds since the epoch (tests move it instead of sleeping).
    """

    def __init__(self, secret: bytes, *, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, *, username: str, user_id: str, scopes: Iterable[Scope], version: str) -> IssuedToken:
        """A signed token for ``username`` valid for ``ttl_s`` seconds."""
        import jwt

        now = int(self._clock())
        jti = secrets.token_urlsafe(12)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": username,
            "uid": user_id,
            "scopes": sorted(scopes),
            "ver": version,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": jti,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=_ALGORITHM), self.ttl_s, jti)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a genuine, unexpired token.

        Raises:
            AuthenticationError: Bad signature or shape, wrong issuer, missing claims, issued
                in the future or expired (``details["reason"]`` says which).
        """
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=ISSUER,
                # Expiry is checked below against the injected clock, not PyJWT's.
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat", "sub", "jti", "iss"]},
            )
        except jwt.InvalidTokenError as error:
            raise AuthenticationError("invalid token", details={"reason": type(error).__name__}) from None
        try:
            issued, expires = int(claims["iat"]), int(claims["exp"])
            scopes = frozenset(claims.get("scopes", ()))
            username, user_id, version = str(claims["sub"]), str(claims["uid"]), str(claims["ver"])
        except (KeyError, TypeError, ValueError):
            raise AuthenticationError("invalid token", details={"reason": "claims"}) from None
        if not scopes <= {"read", "write", "admin"}:
            raise AuthenticationError("invalid token", details={"reason": "scopes"})
        now = self._clock()
        if now >= expires:
            raise AuthenticationError("expired token", details={"reason": "expired"})
        if issued > now + _MAX_CLOCK_SKEW_S:
            raise AuthenticationError("invalid token", details={"reason": "issued_in_future"})
        return TokenClaims(
            username=username,
            user_id=user_id,
            scopes=scopes,
            version=version,
            issued_at=issued,
            expires_at=expires,
            jti=str(claims["jti"]),
        )
