"""seal_blob / open_blob: big blobs in authenticated chunks."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.crypto import AesGcmCipher, open_blob, seal_blob
from memorylink.errors import StoreCorruptedError, ValidationError

KEY = bytes(range(32))
AD = b"index:snapshot"
HEADER = 28
FRAME_PREFIX = 4
OVERHEAD = 29


class XorCipher:
    """A toy Cipher (not secure) to exercise the generic, non-AES-GCM path."""

    key_id = "0000000000000000"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        tag = bytes([sum(associated_data + plaintext) % 251])
        return tag + bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        plaintext = bytes(b ^ 0x5A for b in ciphertext[1:])
        if not ciphertext or ciphertext[:1] != bytes([sum(associated_data + plaintext) % 251]):
            raise StoreCorruptedError("toy integrity failure")
        return plaintext

    def blind_index(self, value: str, domain: str) -> bytes:
        return (domain + value).encode()


@pytest.fixture(scope="module")
def cipher() -> AesGcmCipher:
    return AesGcmCipher(KEY)


def _frames(blob: bytes) -> list[bytes]:
    """Split a sealed blob into its raw frames (prefix included)."""
    frames, position = [], HEADER
    while position < len(blob):
        (length,) = struct.unpack_from(">I", blob, position)
        frames.append(blob[position : position + FRAME_PREFIX + length])
        position += FRAME_PREFIX + length
    return frames


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 13, 14, 15, 20, 21, 22, 100])
def test_round_trip_around_chunk_boundaries(cipher: AesGcmCipher, size: int) -> None:
    data = os.urandom(size)
    blob = seal_blob(cipher, data, AD, chunk_size=7)
    chunks = max(1, -(-size // 7))
    assert isinstance(blob, bytes)
    assert len(blob) == HEADER + chunks * (FRAME_PREFIX + OVERHEAD) + size
    assert len(_frames(blob)) == chunks
    opened = open_blob(cipher, blob, AD)
    assert isinstance(opened, bytearray)
    assert opened == data


def test_default_chunk_size_and_buffer_types(cipher: AesGcmCipher) -> None:
    data = os.urandom(100_000)
    for source in (data, bytearray(data), memoryview(data)):
        blob = seal_blob(cipher, source, AD)
        assert len(_frames(blob)) == 1
        assert open_blob(cipher, blob, AD) == data
        assert open_blob(cipher, memoryview(blob), AD) == data
        assert open_blob(cipher, bytearray(blob), AD) == data


def test_multi_byte_memoryview_is_read_as_bytes(cipher: AesGcmCipher) -> None:
    words = memoryview(bytearray(range(64))).cast("I")
    assert open_blob(cipher, seal_blob(cipher, words, AD, chunk_size=10), AD) == bytes(range(64))


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300), ad=st.binary(max_size=32), chunk_size=st.integers(1, 64))
def test_round_trip_property(cipher: AesGcmCipher, data: bytes, ad: bytes, chunk_size: int) -> None:
    assert open_blob(cipher, seal_blob(cipher, data, ad, chunk_size=chunk_size), ad) == data


def test_sealing_is_randomised(cipher: AesGcmCipher) -> None:
    assert seal_blob(cipher, b"same", AD) != seal_blob(cipher, b"same", AD)


def test_wrong_key_or_associated_data(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(50), AD, chunk_size=16)
    with pytest.raises(StoreCorruptedError):
        open_blob(AesGcmCipher(bytes(32)), blob, AD)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, blob, AD + b"x")


def test_any_flipped_bit_is_detected(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(20), AD, chunk_size=8)
    for bit in range(len(blob) * 8):
        altered = bytearray(blob)
        altered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(StoreCorruptedError):
            open_blob(cipher, altered, AD)


def test_truncation_is_detected(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(30), AD, chunk_size=8)
    for length in range(len(blob)):
        with pytest.raises(StoreCorruptedError):
            open_blob(cipher, blob[:length], AD)


def test_trailing_bytes_are_detected(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(30), AD, chunk_size=8)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, blob + b"\0", AD)


def test_reordered_chunks_are_detected(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(32), AD, chunk_size=8)
    frames = _frames(blob)
    swapped = blob[:HEADER] + frames[1] + frames[0] + b"".join(frames[2:])
    assert len(swapped) == len(blob)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, swapped, AD)


def test_dropped_last_chunk_is_detected_even_with_a_fixed_up_header(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(32), AD, chunk_size=8)
    frames = _frames(blob)
    assert len(frames) == 4
    dropped = blob[:HEADER] + b"".join(frames[:3])
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, dropped, AD)
    # Rewrite the header to claim 3 chunks of 24 bytes: the chunks' AD no longer matches.
    magic, version, chunk_size, _count, _length = struct.unpack(">4sB3xIQQ", blob[:HEADER])
    header = struct.pack(">4sB3xIQQ", magic, version, chunk_size, 3, 24)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, header + b"".join(frames[:3]), AD)


def test_dropped_middle_or_duplicated_chunk_is_detected(cipher: AesGcmCipher) -> None:
    blob = seal_blob(cipher, os.urandom(32), AD, chunk_size=8)
    frames = _frames(blob)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, blob[:HEADER] + frames[0] + frames[2] + frames[3], AD)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, blob[:HEADER] + frames[0] + frames[0] + frames[2] + frames[3], AD)


def test_chunks_from_another_blob_are_detected(cipher: AesGcmCipher) -> None:
    data = os.urandom(32)
    first = seal_blob(cipher, data, AD, chunk_size=8)
    second = seal_blob(cipher, data, AD, chunk_size=8)
    mixed = first[:HEADER] + _frames(first)[0] + b"".join(_frames(second)[1:])
    assert open_blob(cipher, mixed, AD) == data  # same key, header and positions: a valid splice
    other = seal_blob(cipher, os.urandom(40), AD, chunk_size=8)
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, first[:HEADER] + _frames(other)[0] + b"".join(_frames(first)[1:]), AD)


@pytest.mark.parametrize(
    "header",
    [
        b"XXXX" + bytes(24),
        struct.pack(">4sB3xIQQ", b"MLBL", 2, 8, 1, 0),
        struct.pack(">4sB3xIQQ", b"MLBL", 1, 0, 1, 0),
        struct.pack(">4sB3xIQQ", b"MLBL", 1, 8, 5, 8),
        struct.pack(">4sB3xIQQ", b"MLBL", 1, 8, 2**61, 2**64 - 1),
    ],
)
def test_bad_headers_are_rejected_without_allocating(cipher: AesGcmCipher, header: bytes) -> None:
    with pytest.raises(StoreCorruptedError):
        open_blob(cipher, header + bytes(64), AD)


def test_short_header(cipher: AesGcmCipher) -> None:
    with pytest.raises(StoreCorruptedError, match="header"):
        open_blob(cipher, b"MLBL", AD)


@pytest.mark.parametrize("chunk_size", [0, -1, 2**30 + 1, 1.5, True])
def test_rejects_bad_chunk_size(cipher: AesGcmCipher, chunk_size: object) -> None:
    with pytest.raises(ValidationError, match="chunk_size"):
        seal_blob(cipher, b"data", AD, chunk_size=chunk_size)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 5, 16, 17])
def test_generic_cipher_path(size: int) -> None:
    toy = XorCipher()
    data = os.urandom(size)
    blob = seal_blob(toy, data, AD, chunk_size=8)
    assert open_blob(toy, blob, AD) == data
    frames = _frames(blob)
    if len(frames) > 1:
        with pytest.raises(StoreCorruptedError):
            open_blob(toy, blob[:HEADER] + frames[1] + frames[0] + b"".join(frames[2:]), AD)
    with pytest.raises(StoreCorruptedError):
        open_blob(toy, blob[:-1], AD)
