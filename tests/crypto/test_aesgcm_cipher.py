"""AesGcmCipher: AES-256-GCM records, blind indexes and key id."""

from __future__ import annotations

import hmac
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.crypto import AesGcmCipher, Cipher, generate_key, make_key_check, verify_key_check
from memorylink.crypto.aesgcm import RECORD_OVERHEAD
from memorylink.errors import InvalidKeyError, StoreCorruptedError, ValidationError

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))


def _hkdf_sha256(key: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with an empty salt, written out independently of the implementation."""
    prk = hmac.digest(b"\0" * 32, key, "sha256")
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        okm += block
    return okm[:length]


@pytest.fixture(scope="module")
def cipher() -> AesGcmCipher:
    return AesGcmCipher(KEY)


def test_is_a_cipher(cipher: AesGcmCipher) -> None:
    assert isinstance(cipher, Cipher)
    assert "ea01" in repr(cipher)
    assert KEY.hex() not in repr(cipher)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=2048), associated_data=st.binary(max_size=64))
def test_round_trip(cipher: AesGcmCipher, plaintext: bytes, associated_data: bytes) -> None:
    record = cipher.encrypt(plaintext, associated_data)
    assert len(record) == len(plaintext) + RECORD_OVERHEAD
    assert record[0] == 1
    assert cipher.decrypt(record, associated_data) == plaintext
    assert cipher.decrypt(bytearray(record), associated_data) == plaintext
    assert cipher.decrypt(memoryview(record), associated_data) == plaintext


def test_encryption_is_randomised(cipher: AesGcmCipher) -> None:
    records = {cipher.encrypt(b"same text", b"id") for _ in range(50)}
    assert len(records) == 50
    nonces = {record[1:13] for record in records}
    assert len(nonces) == 50


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_flipped_bit_is_detected(cipher: AesGcmCipher, plaintext: bytes, data: st.DataObject) -> None:
    record = bytearray(cipher.encrypt(plaintext, b"memory:1"))
    bit = data.draw(st.integers(0, len(record) * 8 - 1))
    record[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(StoreCorruptedError):
        cipher.decrypt(bytes(record), b"memory:1")


def test_every_single_bit_flip_is_detected(cipher: AesGcmCipher) -> None:
    record = cipher.encrypt(b"exhaustive", b"ad")
    for bit in range(len(record) * 8):
        altered = bytearray(record)
        altered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(StoreCorruptedError):
            cipher.decrypt(bytes(altered), b"ad")


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=64), ad=st.binary(max_size=16), other_ad=st.binary(max_size=16))
def test_changed_associated_data_is_detected(
    cipher: AesGcmCipher, plaintext: bytes, ad: bytes, other_ad: bytes
) -> None:
    record = cipher.encrypt(plaintext, ad)
    if other_ad != ad:
        with pytest.raises(StoreCorruptedError):
            cipher.decrypt(record, other_ad)


def test_other_key_is_detected(cipher: AesGcmCipher) -> None:
    record = cipher.encrypt(b"secret", b"id")
    with pytest.raises(StoreCorruptedError, match="integrity check"):
        AesGcmCipher(OTHER_KEY).decrypt(record, b"id")


@pytest.mark.parametrize("length", [0, 1, 12, 13, RECORD_OVERHEAD - 1])
def test_truncated_record(cipher: AesGcmCipher, length: int) -> None:
    record = cipher.encrypt(b"", b"")
    with pytest.raises(StoreCorruptedError, match="truncated"):
        cipher.decrypt(record[:length], b"")


def test_unknown_version(cipher: AesGcmCipher) -> None:
    record = bytearray(cipher.encrypt(b"x", b""))
    record[0] = 2
    with pytest.raises(StoreCorruptedError, match="version 2"):
        cipher.decrypt(bytes(record), b"")


def test_records_made_by_another_instance_of_the_same_key_open() -> None:
    record = AesGcmCipher(KEY).encrypt(b"persisted", b"id")
    assert AesGcmCipher(bytearray(KEY)).decrypt(record, b"id") == b"persisted"


def test_encrypt_into_and_decrypt_into(cipher: AesGcmCipher) -> None:
    out = bytearray(5 + RECORD_OVERHEAD)
    assert cipher.encrypt_into(memoryview(b"hello"), b"ad", out) == len(out)
    assert cipher.decrypt(bytes(out), b"ad") == b"hello"
    plain = bytearray(5)
    assert cipher.decrypt_into(out, b"ad", plain) == 5
    assert plain == b"hello"
    with pytest.raises(StoreCorruptedError):
        cipher.decrypt_into(out, b"other", plain)
    assert plain == bytes(5)  # never left holding unauthenticated plaintext
    with pytest.raises(ValidationError, match="output buffer"):
        cipher.encrypt_into(b"hello", b"ad", bytearray(4))
    with pytest.raises(ValidationError, match="output buffer"):
        cipher.decrypt_into(out, b"ad", bytearray(6))


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "00" * 32])
def test_rejects_bad_master_key(key: object) -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        AesGcmCipher(key)  # type: ignore[arg-type]


def test_blind_index_deterministic_and_keyed(cipher: AesGcmCipher) -> None:
    digest = cipher.blind_index("meeting", "tag")
    assert len(digest) == 16
    assert digest == cipher.blind_index("meeting", "tag")
    assert digest == AesGcmCipher(KEY).blind_index("meeting", "tag")
    assert digest != AesGcmCipher(OTHER_KEY).blind_index("meeting", "tag")
    assert digest != cipher.blind_index("Meeting", "tag")


def test_blind_index_domain_separation(cipher: AesGcmCipher) -> None:
    assert cipher.blind_index("zoom", "tag") != cipher.blind_index("zoom", "metadata.source")
    # The domain is length-prefixed, so moving characters across the boundary changes the digest.
    assert cipher.blind_index("c", "ab") != cipher.blind_index("bc", "a")
    assert cipher.blind_index("", "tagx") != cipher.blind_index("x", "tag")


def test_blind_index_known_answer(cipher: AesGcmCipher) -> None:
    """Pinned so a refactor cannot silently break lookups in existing stores."""
    blind_key = _hkdf_sha256(KEY, b"memorylink/v1/blind-index-key/hmac-sha256", 32)
    message = b"memorylink/v1/blind-index\x00" + (3).to_bytes(4, "big") + b"tag" + b"meeting"
    expected = hmac.digest(blind_key, message, "sha256")[:16]
    assert cipher.blind_index("meeting", "tag") == expected
    assert expected.hex() == "8603e59409603d1ea84c0eac41ddbc6d"


def test_blind_index_rejects_non_strings(cipher: AesGcmCipher) -> None:
    with pytest.raises(ValidationError):
        cipher.blind_index(b"bytes", "tag")  # type: ignore[arg-type]


def test_key_id_stable_and_per_key(cipher: AesGcmCipher) -> None:
    assert cipher.key_id == AesGcmCipher(KEY).key_id == "ea01382bfa561658"
    assert cipher.key_id == _hkdf_sha256(KEY, b"memorylink/v1/key-id", 8).hex()
    assert len(cipher.key_id) == 16
    assert int(cipher.key_id, 16) >= 0
    assert cipher.key_id != AesGcmCipher(OTHER_KEY).key_id
    ids = {AesGcmCipher(generate_key()).key_id for _ in range(20)}
    assert len(ids) == 20


def test_key_check_accepts_right_key_and_rejects_wrong_one(cipher: AesGcmCipher) -> None:
    token = make_key_check(cipher)
    assert token != make_key_check(cipher)
    verify_key_check(cipher, token)
    verify_key_check(AesGcmCipher(KEY), memoryview(token))
    with pytest.raises(InvalidKeyError, match="the passphrase or key does not open this store"):
        verify_key_check(AesGcmCipher(OTHER_KEY), token)
    with pytest.raises(InvalidKeyError):
        verify_key_check(cipher, b"")
    other_plaintext = cipher.encrypt(b"not the key check", b"memorylink/v1/key-check")
    with pytest.raises(InvalidKeyError):
        verify_key_check(cipher, other_plaintext)


def test_thread_safe(cipher: AesGcmCipher) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(500):
                plaintext = f"{n}:{i}".encode()
                ad = str(i).encode()
                assert cipher.decrypt(cipher.encrypt(plaintext, ad), ad) == plaintext
                assert cipher.blind_index(str(i), "t") == cipher.blind_index(str(i), "t")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
