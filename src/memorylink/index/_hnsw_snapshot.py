"""The framed byte format of an :class:`~memorylink.index.hnsw.HnswIndex` snapshot.

Layout (all integers little-endian)::

    0   8s  magic b"MLKHNSW\\0"
    8   u32 format version
    12  u32 dimension
    16  u32 M
    20  u32 ef_construction
    24  u64 length L of the JSON metadata
    32  L bytes of UTF-8 JSON, then zero padding to a multiple of 8
    ... sections, each starting at a multiple of 8 from the start of the section area

The JSON holds the search parameters, hnswlib's scalar state, the layout (``link_width``,
version 2) and a table ``{name: [offset, dtype, count]}`` of the sections.

* Version 1 (still read): the sorted live labels and the arrays of hnswlib's
  ``__getstate__`` as they are (the graph and vectors, in hnswlib's native layout).
* Version 2 (written): hnswlib's level-0 elements split into their fields, with only the
  links each element uses, ``link_width`` bytes each (2-4: enough for the largest slot
  number), and no label lookup or live-label list (both follow from the elements). That
  is 50-80 bytes per vector less than version 1 and than hnswlib's own ``save_index``
  file, which keep every element's unused link slots.

Decoding returns zero-copy numpy views into the input. No pickle is involved.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink.errors import StoreCorruptedError

__all__ = ["ARRAY_DTYPES", "COMPACT_DTYPES", "FORMAT_VERSION", "Snapshot", "pack_snapshot", "unpack_snapshot"]

MAGIC = b"MLKHNSW\x00"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<8sIIIIQ")
_ALIGN = 8

# Every section of each version and the dtype it must have (hnswlib's arrays are in native
# byte order; the byte order is recorded and checked, so a snapshot is only read on a
# same-endian host).
ARRAY_DTYPES: dict[str, np.dtype[Any]] = {
    "live_labels": np.dtype("<i8"),
    "data_level0": np.dtype(np.int8),
    "link_lists": np.dtype(np.int8),
    "element_levels": np.dtype(np.int32),
    "label_lookup_external": np.dtype(np.uint64),
    "label_lookup_internal": np.dtype(np.uint32),
}
COMPACT_DTYPES: dict[str, np.dtype[Any]] = {
    # Per element: the 4-byte level-0 header (link count, delete flag), its label, its vector.
    "element_headers": np.dtype(np.uint32),
    "element_labels": np.dtype(np.uint64),
    "vectors": np.dtype(np.float32),
    # The used level-0 links of every element in order, ``link_width`` bytes each (little-endian).
    "level0_links": np.dtype(np.uint8),
    "link_lists": np.dtype(np.int8),
    "element_levels": np.dtype(np.int32),
}
_SECTIONS = {1: ARRAY_DTYPES, 2: COMPACT_DTYPES}


@dataclass(frozen=True)
class Snapshot:
    """A decoded snapshot; ``arrays`` are read-only views into the input bytes."""

    dimension: int
    m: int
    ef_construction: int
    params: dict[str, Any]
    hnswlib_state: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    version: int = FORMAT_VERSION
    layout: dict[str, Any] | None = None


def _padding(size: int) -> bytes:
    return b"\x00" * (-size % _ALIGN)


def pack_snapshot(
    *,
    dimension: int,
    m: int,
    ef_construction: int,
    params: dict[str, Any],
    hnswlib_state: dict[str, Any],
    arrays: dict[str, npt.NDArray[Any]],
    version: int = FORMAT_VERSION,
    layout: dict[str, Any] | None = None,
) -> bytes:
    """Frame the parts of a snapshot into one ``bytes`` (the arrays are copied exactly once).

    ``arrays`` holds the sections of ``version`` (:data:`COMPACT_DTYPES` for 2,
    :data:`ARRAY_DTYPES` for 1); ``layout`` is recorded for version 2.
    """
    table: dict[str, list[Any]] = {}
    chunks: list[Any] = []
    offset = 0
    for name, expected in _SECTIONS[version].items():
        array = np.ascontiguousarray(arrays[name], dtype=expected).reshape(-1)
        table[name] = [offset, expected.str, int(array.size)]
        chunks.append(array.view(np.uint8).data)
        chunks.append(_padding(array.nbytes))
        offset += array.nbytes + len(chunks[-1])
    header: dict[str, Any] = {"byteorder": sys.byteorder, "params": params, "hnswlib": hnswlib_state}
    if version >= 2:
        header["layout"] = layout or {}
    header["sections"] = table
    meta = json.dumps(header, separators=(",", ":")).encode()
    prefix = _PREFIX.pack(MAGIC, version, dimension, m, ef_construction, len(meta))
    return b"".join([prefix, meta, _padding(_PREFIX.size + len(meta)), *chunks])


def unpack_snapshot(data: bytes | bytearray | memoryview) -> Snapshot:
    """Check and decode a snapshot without copying its sections.

    Raises:
        StoreCorruptedError: The bytes are not a well-formed snapshot of this version.
    """
    view = memoryview(data).cast("B")
    if view.nbytes < _PREFIX.size:
        raise StoreCorruptedError("HNSW index snapshot is truncated")
    magic, version, dimension, m, ef_construction, meta_length = _PREFIX.unpack_from(view, 0)
    if magic != MAGIC:
        raise StoreCorruptedError("not an HNSW index snapshot (bad magic)")
    if version not in _SECTIONS:
        raise StoreCorruptedError(f"unsupported HNSW index snapshot version {version}")
    meta_end = _PREFIX.size + meta_length
    if meta_end > view.nbytes:
        raise StoreCorruptedError("HNSW index snapshot is truncated")
    try:
        meta = json.loads(bytes(view[_PREFIX.size : meta_end]))
        byteorder = meta["byteorder"]
        params = dict(meta["params"])
        state = dict(meta["hnswlib"])
        table = meta["sections"]
        layout = dict(meta["layout"]) if version >= 2 else None
    except (ValueError, KeyError, TypeError) as error:
        raise StoreCorruptedError(f"HNSW index snapshot has bad metadata: {error}") from None
    if byteorder != sys.byteorder:
        raise StoreCorruptedError(f"HNSW index snapshot was written on a {byteorder}-endian host")
    base = meta_end + (-meta_end % _ALIGN)
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, expected in _SECTIONS[version].items():
        try:
            offset, dtype_str, count = table[name]
            offset, count = int(offset), int(count)
        except (KeyError, TypeError, ValueError):
            raise StoreCorruptedError(f"HNSW index snapshot lacks section {name!r}") from None
        if dtype_str != expected.str or offset < 0 or count < 0 or offset % _ALIGN:
            raise StoreCorruptedError(f"HNSW index snapshot section {name!r} is malformed")
        start = base + offset
        if start + count * expected.itemsize > view.nbytes:
            raise StoreCorruptedError(f"HNSW index snapshot section {name!r} is truncated")
        arrays[name] = np.frombuffer(view, dtype=expected, count=count, offset=start)
    return Snapshot(
        dimension=dimension,
        m=m,
        ef_construction=ef_construction,
        params=params,
        hnswlib_state=state,
        arrays=arrays,
        version=version,
        layout=layout,
    )
