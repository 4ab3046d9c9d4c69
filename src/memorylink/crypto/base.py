"""The Cipher role: authenticated encryption of records, plus keyed blind indexes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Cipher"]


@runtime_checkable
class Cipher(Protocol):
    """Contract for ciphers.

    * ``decrypt(encrypt(p, ad), ad) == p`` for every ``p`` and ``ad``.
    * ``encrypt`` is randomised (a fresh nonce per call): equal plaintexts give different bytes.
    * ``decrypt`` raises :class:`~memorylink.errors.StoreCorruptedError` when the bytes or
      the associated data were altered, or were made under another key.
    * ``blind_index(value, domain)`` is a deterministic keyed digest (HMAC) of ``value``:
      equal inputs give equal outputs under one key; without the key it reveals nothing.
    * ``key_id`` is a short public fingerprint of the key (safe to store and log).
    * Thread-safe.
    """

    @property
    def key_id(self) -> str: ...

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes: ...

    def blind_index(self, value: str, domain: str) -> bytes: ...
