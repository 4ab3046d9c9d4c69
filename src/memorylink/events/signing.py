"""Standard Webhooks signatures (https://www.standardwebhooks.com/): sign deliveries, verify receipts.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` of
``"{id}.{timestamp}.{body}"`` under each current secret. A ``whsec_`` secret's HMAC key
is the base64 text after the prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence

from memorylink.errors import ValidationError, WebhookVerificationError

__all__ = ["generate_secret", "secret_key", "sign", "signature_header", "verify", "webhook_headers"]

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
_TIMESTAMP = re.compile(r"-?[0-9]+")


def generate_secret() -> str:
    """A fresh ``whsec_`` secret holding 32 random bytes."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret.

    Raises:
        ValidationError: Not a ``whsec_`` secret, bad base64, or a key outside 24..64 bytes.
    """
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise ValidationError(f"a webhook secret must be a string starting with {PREFIX!r}", field="secret")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("a webhook secret must be base64 after the whsec_ prefix", field="secret") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValidationError(
            f"a webhook secret's key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, got {len(key)}", field="secret"
        )
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{message_id}.{timestamp}.{body}">``."""
    if not isinstance(message_id, str) or not message_id:
        raise ValidationError("message_id must be a non-empty string", field="message_id")
    return _signature(secret_key(secret), message_id, timestamp, body)


def _signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    content = f"{message_id}.{int(timestamp)}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret (several during a rotation), space separated, in order."""
    if isinstance(secrets, str) or not secrets:
        raise ValidationError("at least one secret is needed to sign", field="secret")
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


def webhook_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(secrets, message_id, timestamp, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: int = 300, now: int | None = None
) -> None:
    """Check a received delivery (header names in any case).

    Raises:
        WebhookVerificationError: A header is missing or empty, the timestamp is not an integer
            or is more than ``tolerance_s`` from ``now``, or no ``v1`` signature matches.
        ValidationError: ``secret`` itself is not a valid ``whsec_`` secret.
    """
    key = secret_key(secret)
    lowered = {name.lower(): value for name, value in headers.items() if isinstance(name, str)}
    values: list[str] = []
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        value = lowered.get(name)
        if not isinstance(value, str) or not value:
            raise WebhookVerificationError(f"missing header {name}")
        values.append(value)
    message_id, raw_timestamp, signatures = values
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise WebhookVerificationError("webhook-timestamp is not an integer")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:  # more digits than int() accepts
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance_s} s from now")
    expected = _signature(key, message_id, timestamp, body).encode()
    for candidate in signatures.split(" "):
        version, _, _ = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(candidate.encode(), expected):
            return
    raise WebhookVerificationError("no signature matches")
