"""AES-256-GCM record encryption and HMAC-SHA256 blind indexes under one master key.

Three independent subkeys are derived from the 32-byte master key with HKDF-SHA256,
each under its own ``info`` string, so no key is used for two purposes:

* the record key (AES-256-GCM),
* the blind-index key (HMAC-SHA256),
* the key id, a public 8-byte fingerprint shown as 16 hex characters.

Record format (version 1)::

    version (1 byte, 0x01) | nonce (12 random bytes) | ciphertext | GCM tag (16 bytes)

The version byte is authenticated together with the caller's associated data, so the
whole record is covered by the tag. A record is ``len(plaintext) + 29`` bytes.
"""

from __future__ import annotations

import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from memorylink.crypto._buffers import BytesLike, byte_view
from memorylink.crypto.keys import KEY_SIZE
from memorylink.errors import StoreCorruptedError, ValidationError

__all__ = ["NONCE_SIZE", "RECORD_OVERHEAD", "RECORD_VERSION", "TAG_SIZE", "AesGcmCipher"]

RECORD_VERSION = 1
"""The record format version this module writes (the first byte of every record)."""
NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER_SIZE = 1 + NONCE_SIZE
RECORD_OVERHEAD = _HEADER_SIZE + TAG_SIZE
"""Bytes a record adds to its plaintext: version byte, nonce and tag (29)."""

BLIND_INDEX_SIZE = 16
KEY_ID_SIZE = 8

_VERSION_BYTE = bytes([RECORD_VERSION])
_INFO_RECORD = b"memorylink/v1/record-key/aes-256-gcm"
_INFO_BLIND = b"memorylink/v1/blind-index-key/hmac-sha256"
_INFO_KEY_ID = b"memorylink/v1/key-id"
_BLIND_PREFIX = b"memorylink/v1/blind-index\x00"

_INTEGRITY_FAILURE = (
    "encrypted record failed its integrity check: it was altered, "
    "made under another key, or bound to other associated data"
)


def _hkdf(master_key: bytes, info: bytes, length: int) -> bytes:
    # No salt: the master key is already uniformly random (generated, or scrypt output).
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master_key)


class AesGcmCipher:
    """The default :class:`~memorylink.crypto.Cipher`: AES-256-GCM with HKDF-derived subkeys.

    Nonces are 96 random bits per record. The master key itself is not kept, only the
    derived subkeys. Instances hold no mutable state and are safe to share between threads.

    Args:
        master_key: The 32-byte master key (from :func:`~memorylink.crypto.derive_key`,
            :func:`~memorylink.crypto.generate_key` or :func:`~memorylink.crypto.coerce_raw_key`).

    Raises:
        ValidationError: If ``master_key`` is not 32 bytes.

    Example:
        >>> cipher = AesGcmCipher(bytes(32))
        >>> record = cipher.encrypt(b"hello", b"memory:42")
        >>> cipher.decrypt(record, b"memory:42")
        b'hello'
    """

    def __init__(self, master_key: bytes | bytearray) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != KEY_SIZE:
            raise ValidationError(
                f"master key must be {KEY_SIZE} bytes (use coerce_raw_key() to parse hex or base64)",
                field="key",
            )
        master = bytes(master_key)
        self._aead = AESGCM(_hkdf(master, _INFO_RECORD, KEY_SIZE))
        self._blind_key = _hkdf(master, _INFO_BLIND, KEY_SIZE)
        self._key_id = _hkdf(master, _INFO_KEY_ID, KEY_ID_SIZE).hex()

    def __repr__(self) -> str:
        return f"AesGcmCipher(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        """Public fingerprint of the master key: 16 lowercase hex characters (safe to store and log)."""
        return self._key_id

    def encrypt(self, plaintext: BytesLike, associated_data: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext``, binding it to ``associated_data``.

        Args:
            plaintext: The bytes to encrypt.
            associated_data: Context that must be presented again to decrypt (e.g. the
                record id); authenticated, not encrypted, not stored in the record.

        Returns:
            A version-1 record of ``len(plaintext) + 29`` bytes; a fresh nonce every call.
        """
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, plaintext, _VERSION_BYTE + associated_data)
        return _VERSION_BYTE + nonce + sealed

    def decrypt(self, ciphertext: BytesLike, associated_data: bytes) -> bytes:
        """Check and decrypt a record made by :meth:`encrypt`.

        Args:
            ciphertext: The record.
            associated_data: The associated data given to :meth:`encrypt`.

        Returns:
            The plaintext.

        Raises:
            StoreCorruptedError: If the record is truncated, has an unknown version, was
                altered, was made under another key or with other associated data.
        """
        nonce: BytesLike
        sealed: BytesLike
        if type(ciphertext) is bytes and len(ciphertext) >= RECORD_OVERHEAD and ciphertext[0] == RECORD_VERSION:
            # The common case (a row from SQLite): skip the memoryview set-up, a third of a small record's cost.
            nonce, sealed = ciphertext[1:_HEADER_SIZE], ciphertext[_HEADER_SIZE:]
        else:
            view = self._check_record(ciphertext)
            nonce, sealed = view[1:_HEADER_SIZE], view[_HEADER_SIZE:]
        try:
            return self._aead.decrypt(nonce, sealed, _VERSION_BYTE + associated_data)
        except InvalidTag:
            raise StoreCorruptedError(_INTEGRITY_FAILURE) from None

    def encrypt_into(self, plaintext: BytesLike, associated_data: bytes, out: bytearray | memoryview) -> int:
        """Like :meth:`encrypt`, but write the record into ``out`` (no intermediate copies).

        Args:
            plaintext: The bytes to encrypt.
            associated_data: As for :meth:`encrypt`.
            out: A writable buffer of exactly ``len(plaintext) + RECORD_OVERHEAD`` bytes.

        Returns:
            The number of bytes written.

        Raises:
            ValidationError: If ``out`` has the wrong size.
        """
        source = byte_view(plaintext)
        target = byte_view(out)
        size = len(source) + RECORD_OVERHEAD
        if len(target) != size:
            raise ValidationError(f"output buffer must be {size} bytes, got {len(target)}", field="out")
        nonce = os.urandom(NONCE_SIZE)
        target[0] = RECORD_VERSION
        target[1:_HEADER_SIZE] = nonce
        self._aead.encrypt_into(nonce, source, _VERSION_BYTE + associated_data, target[_HEADER_SIZE:])
        return size

    def decrypt_into(self, ciphertext: BytesLike, associated_data: bytes, out: bytearray | memoryview) -> int:
        """Like :meth:`decrypt`, but write the plaintext into ``out`` (no intermediate copies).

        Args:
            ciphertext: The record.
            associated_data: As for :meth:`decrypt`.
            out: A writable buffer of exactly ``len(ciphertext) - RECORD_OVERHEAD`` bytes.
                On failure it is zeroed, so it never holds unauthenticated plaintext.

        Returns:
            The number of bytes written.

        Raises:
            StoreCorruptedError: As for :meth:`decrypt`.
            ValidationError: If ``out`` has the wrong size.
        """
        view = self._check_record(ciphertext)
        target = byte_view(out)
        size = len(view) - RECORD_OVERHEAD
        if len(target) != size:
            raise ValidationError(f"output buffer must be {size} bytes, got {len(target)}", field="out")
        try:
            self._aead.decrypt_into(view[1:_HEADER_SIZE], view[_HEADER_SIZE:], _VERSION_BYTE + associated_data, target)
        except InvalidTag:
            target[:] = bytes(size)
            raise StoreCorruptedError(_INTEGRITY_FAILURE) from None
        return size

    def blind_index(self, value: str, domain: str) -> bytes:
        """A deterministic keyed digest of ``value`` for equality lookups in SQL.

        ``HMAC-SHA256(blind_key, "memorylink/v1/blind-index" 0x00 | len(domain) | domain | value)``
        truncated to 16 bytes, with ``len(domain)`` as 4 big-endian bytes and strings in
        UTF-8. The length prefix keeps domains apart (``("ab", "c")`` != ``("a", "bc")``).

        Args:
            value: The value to index (used exactly as given; normalise before if needed).
            domain: What the value is (e.g. ``"tag"``, ``"metadata.source"``), so equal
                values in different fields give different digests.

        Returns:
            16 bytes.

        Raises:
            ValidationError: If ``value`` or ``domain`` is not a string.
        """
        if not isinstance(value, str) or not isinstance(domain, str):
            raise ValidationError("blind_index() takes a str value and a str domain", field="value")
        domain_bytes = domain.encode("utf-8")
        message = b"".join((_BLIND_PREFIX, len(domain_bytes).to_bytes(4, "big"), domain_bytes, value.encode("utf-8")))
        return hmac.digest(self._blind_key, message, "sha256")[:BLIND_INDEX_SIZE]

    @staticmethod
    def _check_record(ciphertext: BytesLike) -> memoryview:
        view = byte_view(ciphertext)
        if len(view) < RECORD_OVERHEAD:
            raise StoreCorruptedError(
                f"encrypted record is truncated: {len(view)} bytes, at least {RECORD_OVERHEAD} expected"
            )
        if view[0] != RECORD_VERSION:
            raise StoreCorruptedError(f"unknown encrypted record format version {view[0]}")
        return view
