"""The public surface of memorylink.crypto."""

from __future__ import annotations

import memorylink.crypto


def test_all_is_pinned() -> None:
    assert memorylink.crypto.__all__ == [
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
    for name in memorylink.crypto.__all__:
        assert getattr(memorylink.crypto, name).__doc__
