"""Zero-copy views over bytes-like objects, shared by the crypto modules."""

from __future__ import annotations

from memorylink.errors import ValidationError

__all__ = ["BytesLike", "byte_view"]

BytesLike = bytes | bytearray | memoryview
"""What the crypto functions accept as data: anything read in place without a copy."""


def byte_view(data: BytesLike) -> memoryview:
    """A flat unsigned-byte view of ``data`` (no copy).

    Raises:
        ValidationError: If ``data`` is a non-contiguous multi-dimensional view.
    """
    view = memoryview(data)
    if view.format == "B" and view.ndim == 1:
        return view
    if not view.c_contiguous:
        raise ValidationError("buffer must be C-contiguous", field="data")
    return view.cast("B")
