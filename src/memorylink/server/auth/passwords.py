"""Password hashing with the standard library's scrypt (no extra dependency).

The stored form is ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised
later without breaking stored hashes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

__all__ = ["hash_password", "verify_nothing", "verify_password"]

_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` (n=2**14, r=8, p=1) in the stored form."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _N, _R, _P)
    return "$".join(
        ("scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(base64.b64encode(os.urandom(12)).decode())


def verify_nothing(password: str) -> None:
    """Spend the time of a verification, for logins that name no known user (no timing oracle)."""
    verify_password(password, _dummy_hash())
