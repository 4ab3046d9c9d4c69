"""Encryption at rest: master keys, AES-256-GCM records, blind indexes, sealed blobs.

* Keys: :func:`derive_key` (passphrase + :class:`KdfParams`, scrypt), :func:`generate_key`,
  :func:`coerce_raw_key` (hex or base64 text), :func:`encode_key` (to show a key once).
* :class:`AesGcmCipher` — the default :class:`Cipher`: records, blind indexes, key id.
* :func:`seal_blob` / :func:`open_blob` — big blobs in authenticated chunks.
* :func:`make_key_check` / :func:`verify_key_check` — tell a wrong key from corruption.
"""

from __future__ import annotations

from memorylink.crypto.aesgcm import AesGcmCipher
from memorylink.crypto.base import Cipher
from memorylink.crypto.blobs import open_blob, seal_blob
from memorylink.crypto.keycheck import make_key_check, verify_key_check
from memorylink.crypto.keys import (
    KdfParams,
    coerce_raw_key,
    derive_key,
    encode_key,
    generate_key,
    new_kdf_params,
)

__all__ = [
    "AesGcmCipher",
    "Cipher",
    "KdfParams",
    "coerce_raw_key",
    "derive_key",
    "encode_key",
    "generate_key",
    "make_key_check",
    "new_kdf_params",
    "open_blob",
    "seal_blob",
    "verify_key_check",
]
