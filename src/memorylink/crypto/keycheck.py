"""Key checks: a small sealed token that tells a wrong key from a corrupted store.

A store writes ``make_key_check(cipher)`` once, beside its data. On open,
``verify_key_check(cipher, token)`` succeeds only under the same master key; otherwise it
raises :class:`~memorylink.errors.InvalidKeyError`, before anything else is read or changed.
"""

from __future__ import annotations

import hmac
import logging

from memorylink.crypto._buffers import BytesLike
from memorylink.crypto.base import Cipher
from memorylink.errors import InvalidKeyError, StoreCorruptedError

__all__ = ["make_key_check", "verify_key_check"]

logger = logging.getLogger(__name__)

_PLAINTEXT = b"memorylink key check v1"
_ASSOCIATED_DATA = b"memorylink/v1/key-check"
_WRONG_KEY = "the passphrase or key does not open this store"


def make_key_check(cipher: Cipher) -> bytes:
    """Seal a fixed, public token under ``cipher`` (randomised: each call gives other bytes).

    Args:
        cipher: The store's cipher.

    Returns:
        The key-check token to store (it reveals nothing about the key).
    """
    return cipher.encrypt(_PLAINTEXT, _ASSOCIATED_DATA)


def verify_key_check(cipher: Cipher, blob: BytesLike) -> None:
    """Check that ``cipher`` holds the key that made ``blob`` (with :func:`make_key_check`).

    Args:
        cipher: The cipher built from the passphrase or key given at open.
        blob: The stored key-check token.

    Raises:
        InvalidKeyError: ``"the passphrase or key does not open this store"`` if the token
            does not open under ``cipher`` (a damaged token reads as a wrong key too).
    """
    try:
        plaintext = cipher.decrypt(bytes(blob), _ASSOCIATED_DATA)
    except StoreCorruptedError:
        logger.debug("key check failed for key id %s", cipher.key_id)
        raise InvalidKeyError(_WRONG_KEY) from None
    if not hmac.compare_digest(plaintext, _PLAINTEXT):
        raise InvalidKeyError(_WRONG_KEY)
