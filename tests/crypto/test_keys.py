"""Master keys: scrypt KDF parameters, derivation, generation and raw-key parsing."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.crypto import (
    KdfParams,
    coerce_raw_key,
    derive_key,
    encode_key,
    generate_key,
    new_kdf_params,
)
from memorylink.errors import ValidationError

# The smallest accepted cost keeps these tests fast; the defaults are checked separately.
FAST = {"n": 2**10, "r": 8, "p": 1}
SALT = bytes(range(16))


def fast(salt: bytes = SALT) -> KdfParams:
    return KdfParams(salt=salt, n=2**10, r=8, p=1)


def test_new_kdf_params_defaults() -> None:
    params = new_kdf_params()
    assert (params.algorithm, params.n, params.r, params.p) == ("scrypt", 2**15, 8, 1)
    assert len(params.salt) == 16
    assert new_kdf_params().salt != params.salt
    assert params.salt.hex() not in repr(params)
    with pytest.raises(FrozenInstanceError):
        params.n = 2  # type: ignore[misc]


def test_to_dict_from_dict_round_trip() -> None:
    params = new_kdf_params(**FAST)
    data = params.to_dict()
    assert data == {
        "algorithm": "scrypt",
        "salt": base64.b64encode(params.salt).decode(),
        "n": 2**10,
        "r": 8,
        "p": 1,
    }
    assert KdfParams.from_dict(data) == params


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"algorithm": "argon2id"}, "kdf.algorithm"),
        ({"salt": "not base64!"}, "kdf.salt"),
        ({"salt": base64.b64encode(b"short").decode()}, "kdf.salt"),
        ({"salt": 123}, "kdf.salt"),
        ({"n": 1000}, "kdf.n"),
        ({"n": 2**9}, "kdf.n"),
        ({"n": 2**23}, "kdf.n"),
        ({"n": "1024"}, "kdf.n"),
        ({"n": True}, "kdf.n"),
        ({"r": 0}, "kdf.r"),
        ({"p": 17}, "kdf.p"),
        ({"n": 2**22, "r": 32}, "kdf.n"),
        ({"extra": 1}, "kdf.extra"),
    ],
)
def test_from_dict_validates(change: dict[str, object], field: str) -> None:
    data = {**new_kdf_params(**FAST).to_dict(), **change}
    with pytest.raises(ValidationError) as info:
        KdfParams.from_dict(data)
    assert info.value.field == field


def test_from_dict_missing_key() -> None:
    data = new_kdf_params(**FAST).to_dict()
    del data["salt"]
    with pytest.raises(ValidationError, match="salt"):
        KdfParams.from_dict(data)


def test_derive_key_deterministic_with_same_salt() -> None:
    params = fast()
    key = derive_key("correct horse battery staple", params)
    assert len(key) == 32
    assert key == derive_key("correct horse battery staple", KdfParams.from_dict(params.to_dict()))
    # It is plain scrypt over the UTF-8 passphrase.
    assert key == hashlib.scrypt(b"correct horse battery staple", salt=SALT, n=2**10, r=8, p=1, dklen=32)


def test_derive_key_differs_with_other_salt_passphrase_or_cost() -> None:
    params = fast()
    key = derive_key("passphrase", params)
    assert key != derive_key("passphrase", fast(bytes(16)))
    assert key != derive_key("passphrase!", params)
    assert key != derive_key("passphrase", KdfParams(salt=SALT, n=2**11, r=8, p=1))


def test_derive_key_with_default_cost() -> None:
    params = new_kdf_params()
    assert derive_key("pw", params) == derive_key("pw", params)


def test_derive_key_normalises_unicode() -> None:
    params = fast()
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    assert derive_key(composed, params) == derive_key(decomposed, params)


def test_derive_key_rejects_empty_passphrase() -> None:
    with pytest.raises(ValidationError, match="empty") as info:
        derive_key("", fast())
    assert info.value.field == "passphrase"


def test_generate_key() -> None:
    key = generate_key()
    assert isinstance(key, bytes)
    assert len(key) == 32
    assert generate_key() != key


@settings(max_examples=100)
@given(st.binary(min_size=32, max_size=32))
def test_coerce_raw_key_accepts_every_format(key: bytes) -> None:
    standard = base64.b64encode(key).decode()
    urlsafe = base64.urlsafe_b64encode(key).decode()
    forms: list[bytes | str] = [
        key,
        key.hex(),
        key.hex().upper(),
        standard,
        standard.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
        f"  {urlsafe}\n",
        urlsafe.encode(),
        key.hex().encode(),
        encode_key(key),
    ]
    for form in forms:
        assert coerce_raw_key(form) == key


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        bytes(31),
        bytes(33),
        "",
        "00" * 31,
        "zz" * 32,
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(b"\xff" * 48).decode(),
        "not a key at all",
        "ключ" * 11,
    ],
)
def test_coerce_raw_key_rejects_and_names_formats(bad: bytes | str) -> None:
    with pytest.raises(ValidationError) as info:
        coerce_raw_key(bad)
    message = str(info.value)
    assert "32 bytes" in message
    assert "hex" in message
    assert "base64" in message
    assert info.value.field == "key"


def test_coerce_raw_key_errors_never_contain_the_key() -> None:
    secret = "s3cr3t K3y material, that must not leak anywhere!"
    candidates: list[bytes | str] = [
        secret,
        secret.encode(),
        secret[:43],
        secret[:44],
        "Zb" * 32,
        base64.urlsafe_b64encode(b"s3cr3t" * 5).decode(),
    ]
    for candidate in candidates:
        with pytest.raises(ValidationError) as info:
            coerce_raw_key(candidate)
        text = str(info.value) + repr(info.value.to_dict())
        as_text = candidate.decode() if isinstance(candidate, bytes) else candidate
        assert as_text not in text
        assert as_text[:8] not in text


def test_coerce_raw_key_rejects_other_types() -> None:
    with pytest.raises(ValidationError, match="got a int"):
        coerce_raw_key(12345)  # type: ignore[arg-type]


def test_encode_key() -> None:
    key = bytes(range(32))
    text = encode_key(key)
    assert text == base64.urlsafe_b64encode(key).decode()
    assert len(text) == 44
    assert coerce_raw_key(text) == key
    with pytest.raises(ValidationError, match="32 bytes"):
        encode_key(bytes(16))
