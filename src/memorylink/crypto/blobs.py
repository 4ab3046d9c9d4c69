"""Encrypt big blobs (e.g. the vector index snapshot) in authenticated chunks.

Blob format (version 1), integers big-endian::

    header   magic "MLBL" (4) | version 0x01 (1) | 3 zero bytes | chunk_size (u32)
             | chunk_count (u64) | plaintext_length (u64)                      28 bytes
    frames   chunk_count times: frame_length (u32) | frame

Chunk ``i`` holds plaintext bytes ``[i * chunk_size, (i + 1) * chunk_size)`` (an empty
blob still has one, empty, chunk), and its frame is exactly what
``cipher.encrypt(chunk, chunk_ad)`` returns, with::

    chunk_ad = associated_data | header | i (u64) | chunk_count (u64)

Every chunk thus authenticates the caller's associated data, the whole header, its own
position and the chunk count, so altering, truncating, reordering, dropping or
duplicating chunks, or editing the header, makes :func:`open_blob` fail.

With :class:`~memorylink.crypto.AesGcmCipher` both directions encrypt straight between
the caller's buffer and the output (no per-chunk copies); any other
:class:`~memorylink.crypto.Cipher` works too, through its ``encrypt``/``decrypt``.
"""

from __future__ import annotations

import io
import logging
import struct

from memorylink.crypto._buffers import BytesLike, byte_view
from memorylink.crypto.aesgcm import RECORD_OVERHEAD, AesGcmCipher
from memorylink.crypto.base import Cipher
from memorylink.errors import StoreCorruptedError, ValidationError

__all__ = ["DEFAULT_CHUNK_SIZE", "open_blob", "seal_blob"]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
"""Plaintext bytes per chunk (16 MiB)."""

_MAX_CHUNK_SIZE = 1 << 30
_MAGIC = b"MLBL"
_VERSION = 1
_HEADER = struct.Struct(">4sB3xIQQ")
_FRAME_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">QQ")


def _chunk_count(length: int, chunk_size: int) -> int:
    return max(1, -(-length // chunk_size))


def _chunk_ad(associated_data: bytes, header: bytes, index: int, count: int) -> bytes:
    return b"".join((associated_data, header, _POSITION.pack(index, count)))


def seal_blob(
    cipher: Cipher,
    data: BytesLike,
    associated_data: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes:
    """Encrypt ``data`` in chunks bound to ``associated_data``, their positions and their count.

    Args:
        cipher: The cipher (fast path for :class:`~memorylink.crypto.AesGcmCipher`).
        data: The plaintext; a ``memoryview`` is read in place.
        associated_data: Context to present again to :func:`open_blob` (e.g. ``b"index:v3"``).
        chunk_size: Plaintext bytes per chunk, 1 to 2**30 (default 16 MiB).

    Returns:
        The sealed blob: ``28 + chunks * (4 + overhead) + len(data)`` bytes with AES-GCM
        (overhead 29).

    Raises:
        ValidationError: If ``chunk_size`` is out of range or ``data`` is not contiguous.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise ValidationError(
            f"chunk_size must be an integer in [1, {_MAX_CHUNK_SIZE}], got {chunk_size!r}", field="chunk_size"
        )
    source = byte_view(data)
    length = len(source)
    count = _chunk_count(length, chunk_size)
    header = _HEADER.pack(_MAGIC, _VERSION, chunk_size, count, length)

    if isinstance(cipher, AesGcmCipher):
        total = _HEADER.size + count * (_FRAME_LENGTH.size + RECORD_OVERHEAD) + length
        # Sizing a BytesIO and writing through getbuffer() fills the final bytes object in
        # place: getvalue() then hands that object over without another copy.
        output = io.BytesIO()
        output.seek(total - 1)
        output.write(b"\0")
        with output.getbuffer() as buffer:
            buffer[: _HEADER.size] = header
            position = _HEADER.size
            for index in range(count):
                with source[index * chunk_size : (index + 1) * chunk_size] as chunk:
                    frame_length = len(chunk) + RECORD_OVERHEAD
                    _FRAME_LENGTH.pack_into(buffer, position, frame_length)
                    position += _FRAME_LENGTH.size
                    with buffer[position : position + frame_length] as frame:
                        cipher.encrypt_into(chunk, _chunk_ad(associated_data, header, index, count), frame)
                    position += frame_length
        sealed = output.getvalue()
    else:
        parts = [header]
        for index in range(count):
            chunk_bytes = bytes(source[index * chunk_size : (index + 1) * chunk_size])
            frame_bytes = cipher.encrypt(chunk_bytes, _chunk_ad(associated_data, header, index, count))
            if len(frame_bytes) > 0xFFFFFFFF:
                raise ValidationError("chunk_size is too large for this cipher's output", field="chunk_size")
            parts += (_FRAME_LENGTH.pack(len(frame_bytes)), frame_bytes)
        sealed = b"".join(parts)
    logger.debug("sealed a %d-byte blob in %d chunk(s) of %d bytes", length, count, chunk_size)
    return sealed


def open_blob(cipher: Cipher, blob: BytesLike, associated_data: bytes) -> bytearray:
    """Check and decrypt a blob made by :func:`seal_blob`.

    Args:
        cipher: The cipher the blob was sealed with.
        blob: The sealed blob; a ``memoryview`` is read in place.
        associated_data: The associated data given to :func:`seal_blob`.

    Returns:
        The plaintext, in a new ``bytearray``.

    Raises:
        StoreCorruptedError: If the blob is malformed, truncated, extended, has chunks
            altered, reordered, dropped or duplicated, or was sealed under another key or
            other associated data.
    """
    view = byte_view(blob)
    if len(view) < _HEADER.size:
        raise StoreCorruptedError(f"encrypted blob is truncated: {len(view)} bytes, no complete header")
    header = bytes(view[: _HEADER.size])
    magic, version, chunk_size, count, length = _HEADER.unpack(header)
    if magic != _MAGIC:
        raise StoreCorruptedError("not an encrypted memorylink blob (bad magic bytes)")
    if version != _VERSION:
        raise StoreCorruptedError(f"unknown encrypted blob format version {version}")
    if not 1 <= chunk_size <= _MAX_CHUNK_SIZE or count != _chunk_count(length, chunk_size):
        raise StoreCorruptedError("encrypted blob header is inconsistent (chunk size, count and length)")

    # Check sizes before allocating the output, so a damaged header cannot ask for huge memory.
    expected_total = _HEADER.size + count * (_FRAME_LENGTH.size + RECORD_OVERHEAD) + length
    if (isinstance(cipher, AesGcmCipher) and len(view) != expected_total) or length > len(view):
        raise StoreCorruptedError(
            f"encrypted blob has {len(view)} bytes but its header describes "
            f"{count} chunk(s) of {length} plaintext bytes in all (truncated or extended)"
        )

    output = bytearray(length)
    with memoryview(output) as target:
        position = _HEADER.size
        for index in range(count):
            start = index * chunk_size
            plain_length = min(chunk_size, length - start)
            if position + _FRAME_LENGTH.size > len(view):
                raise StoreCorruptedError(f"encrypted blob is truncated at chunk {index} of {count}")
            (frame_length,) = _FRAME_LENGTH.unpack_from(view, position)
            position += _FRAME_LENGTH.size
            if position + frame_length > len(view):
                raise StoreCorruptedError(f"encrypted blob is truncated at chunk {index} of {count}")
            chunk_ad = _chunk_ad(associated_data, header, index, count)
            with view[position : position + frame_length] as frame:
                if isinstance(cipher, AesGcmCipher):
                    if frame_length != plain_length + RECORD_OVERHEAD:
                        raise StoreCorruptedError(f"encrypted blob chunk {index} has a wrong length")
                    with target[start : start + plain_length] as chunk:
                        cipher.decrypt_into(frame, chunk_ad, chunk)
                else:
                    plaintext = cipher.decrypt(bytes(frame), chunk_ad)
                    if len(plaintext) != plain_length:
                        raise StoreCorruptedError(f"encrypted blob chunk {index} has a wrong length")
                    target[start : start + plain_length] = plaintext
            position += frame_length
        if position != len(view):
            raise StoreCorruptedError("encrypted blob has trailing bytes after its last chunk")
    logger.debug("opened a %d-byte blob in %d chunk(s)", length, count)
    return output
