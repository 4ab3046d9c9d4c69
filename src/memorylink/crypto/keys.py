"""Master keys: derive one from a passphrase (scrypt), generate one, or parse a raw one.

A store is opened either with a passphrase or with a raw 32-byte key. A passphrase goes
through scrypt with the store's :class:`KdfParams` (whose random salt is stored with the
store; the salt is not secret); a raw key is used as is. Either way the result is the
32-byte master key given to :class:`~memorylink.crypto.AesGcmCipher`. Keys and
passphrases are never logged nor put in error messages.
"""

from __future__ import annotations

import base64
import binascii
import os
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from memorylink.errors import ValidationError

__all__ = [
    "KEY_SIZE",
    "KdfParams",
    "coerce_raw_key",
    "derive_key",
    "encode_key",
    "generate_key",
    "new_kdf_params",
]

KEY_SIZE = 32
"""Length of a master key in bytes (AES-256)."""

SALT_SIZE = 16
DEFAULT_N = 2**15
DEFAULT_R = 8
DEFAULT_P = 1

# Bounds accepted when reading parameters back: wide enough for tuning (and fast tests),
# narrow enough that a damaged or hostile file cannot ask for absurd memory or time.
_MIN_N = 2**10
_MAX_N = 2**22
_MAX_R = 32
_MAX_P = 16
_MAX_MEMORY = 2**30  # 128 * n * r bytes
_MIN_SALT = 16
_MAX_SALT = 64

_ACCEPTED_KEY_FORMATS = (
    "a raw key must be 32 bytes, a 64-character hex string, or standard or URL-safe base64 (padded or not) of 32 bytes"
)
_HEX_DIGITS = frozenset(string.hexdigits)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            f"kdf parameter {name} must be an integer in [{low}, {high}], got {value!r}", field=f"kdf.{name}"
        )
    return value


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Parameters of the passphrase key-derivation function (scrypt).

    They are public and are stored with the store; only the passphrase is secret.
    Construct new ones with :func:`new_kdf_params`.

    Attributes:
        salt: Random salt (16 bytes when made by :func:`new_kdf_params`; 16-64 accepted).
        n: CPU/memory cost, a power of two (default ``2**15``).
        r: Block size (default 8). Memory use is about ``128 * n * r`` bytes (32 MiB by default).
        p: Parallelism (default 1).
        algorithm: Always ``"scrypt"`` in this version.

    Raises:
        ValidationError: If a value is out of range (the message names the parameter).
    """

    salt: bytes
    n: int = DEFAULT_N
    r: int = DEFAULT_R
    p: int = DEFAULT_P
    algorithm: Literal["scrypt"] = "scrypt"

    def __post_init__(self) -> None:
        if self.algorithm != "scrypt":
            raise ValidationError(
                f"unsupported key-derivation algorithm {self.algorithm!r} (supported: 'scrypt')",
                field="kdf.algorithm",
            )
        if not isinstance(self.salt, bytes) or not _MIN_SALT <= len(self.salt) <= _MAX_SALT:
            raise ValidationError(f"kdf salt must be {_MIN_SALT} to {_MAX_SALT} bytes", field="kdf.salt")
        _check_int("n", self.n, _MIN_N, _MAX_N)
        if self.n & (self.n - 1):
            raise ValidationError(f"kdf parameter n must be a power of two, got {self.n}", field="kdf.n")
        _check_int("r", self.r, 1, _MAX_R)
        _check_int("p", self.p, 1, _MAX_P)
        if 128 * self.n * self.r > _MAX_MEMORY:
            raise ValidationError(
                f"kdf parameters need {128 * self.n * self.r} bytes of memory (128 * n * r); "
                f"the maximum is {_MAX_MEMORY}",
                field="kdf.n",
            )

    def __repr__(self) -> str:
        return (
            f"KdfParams(algorithm={self.algorithm!r}, n={self.n}, r={self.r}, p={self.p}, "
            f"salt=<{len(self.salt)} bytes>)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-able dict (salt in standard base64).

        Returns:
            ``{"algorithm": "scrypt", "salt": "<base64>", "n": ..., "r": ..., "p": ...}``.
        """
        return {
            "algorithm": self.algorithm,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "n": self.n,
            "r": self.r,
            "p": self.p,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KdfParams:
        """Rebuild parameters from :meth:`to_dict` output, validating every value.

        Args:
            data: A mapping with exactly the keys ``algorithm``, ``salt``, ``n``, ``r``, ``p``.

        Returns:
            The parameters.

        Raises:
            ValidationError: If a key is missing or unknown, or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("kdf parameters must be a mapping", field="kdf")
        expected = {"algorithm", "salt", "n", "r", "p"}
        missing = sorted(expected - data.keys())
        unknown = sorted(str(key) for key in data.keys() - expected)
        if missing:
            raise ValidationError(f"kdf parameters lack {', '.join(missing)}", field=f"kdf.{missing[0]}")
        if unknown:
            raise ValidationError(f"unknown kdf parameter(s): {', '.join(unknown)}", field=f"kdf.{unknown[0]}")
        salt_text = data["salt"]
        if not isinstance(salt_text, str):
            raise ValidationError("kdf salt must be a base64 string", field="kdf.salt")
        try:
            salt = base64.b64decode(salt_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValidationError("kdf salt is not valid base64", field="kdf.salt") from exc
        return cls(salt=salt, n=data["n"], r=data["r"], p=data["p"], algorithm=data["algorithm"])


def new_kdf_params(*, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> KdfParams:
    """Fresh scrypt parameters with a new random 16-byte salt.

    Args:
        n: CPU/memory cost (power of two); the default ``2**15`` takes roughly 0.1 s.
        r: Block size.
        p: Parallelism.

    Returns:
        The parameters, to be stored with the new store.
    """
    return KdfParams(salt=os.urandom(SALT_SIZE), n=n, r=r, p=p)


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """Derive the 32-byte master key from a passphrase with scrypt.

    The passphrase is Unicode-normalised (NFC) and encoded as UTF-8 first, so the same
    passphrase typed on different systems gives the same key.

    Args:
        passphrase: The user's passphrase (non-empty).
        params: The store's KDF parameters (salt and costs).

    Returns:
        The 32-byte master key.

    Raises:
        ValidationError: If the passphrase is empty or not a string.
    """
    if not isinstance(passphrase, str):
        raise ValidationError("passphrase must be a string", field="passphrase")
    if not passphrase:
        raise ValidationError("passphrase must not be empty", field="passphrase")
    material = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    kdf = Scrypt(salt=params.salt, length=KEY_SIZE, n=params.n, r=params.r, p=params.p)
    return kdf.derive(material)


def generate_key() -> bytes:
    """A new random 32-byte master key (from the OS's CSPRNG).

    Returns:
        32 random bytes; show them to the user once with :func:`encode_key`.
    """
    return os.urandom(KEY_SIZE)


def _key_from_text(text: str) -> bytes | None:
    text = text.strip()
    if len(text) == 2 * KEY_SIZE and all(char in _HEX_DIGITS for char in text):
        return bytes.fromhex(text)
    # Both alphabets: map URL-safe characters to standard ones, then decode strictly.
    standard = text.replace("-", "+").replace("_", "/")
    standard += "=" * (-len(standard) % 4)
    try:
        decoded = base64.b64decode(standard.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return decoded if len(decoded) == KEY_SIZE else None


def coerce_raw_key(key: bytes | str) -> bytes:
    """Parse a raw master key given as bytes or text.

    Accepted: 32 raw bytes; a 64-character hex string; standard or URL-safe base64
    (with or without ``=`` padding) of 32 bytes. Text may also be passed as ASCII
    bytes (e.g. read from a key file); surrounding whitespace is ignored.

    Args:
        key: The key.

    Returns:
        The 32-byte key.

    Raises:
        ValidationError: If ``key`` is in none of the accepted formats. The message
            names the formats and never includes the key.
    """
    if isinstance(key, bytes | bytearray | memoryview):
        raw = bytes(key)
        if len(raw) == KEY_SIZE:
            return raw
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            text = None
        parsed = _key_from_text(text) if text is not None else None
        if parsed is not None:
            return parsed
        raise ValidationError(f"{_ACCEPTED_KEY_FORMATS}; got {len(raw)} bytes", field="key")
    if isinstance(key, str):
        parsed = _key_from_text(key)
        if parsed is not None:
            return parsed
        raise ValidationError(f"{_ACCEPTED_KEY_FORMATS}; got a string of {len(key)} characters", field="key")
    raise ValidationError(f"{_ACCEPTED_KEY_FORMATS}; got a {type(key).__name__}", field="key")


def encode_key(key: bytes) -> str:
    """Encode a raw key as URL-safe base64 (44 characters), for showing to a user once.

    :func:`coerce_raw_key` accepts the result.

    Args:
        key: A 32-byte key.

    Returns:
        The key in URL-safe base64 with ``=`` padding.

    Raises:
        ValidationError: If ``key`` is not 32 bytes.
    """
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise ValidationError(f"a raw key must be {KEY_SIZE} bytes", field="key")
    return base64.urlsafe_b64encode(bytes(key)).decode("ascii")
