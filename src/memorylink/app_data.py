"""``store.app_data``: small named values a front-end keeps in the store, sealed like memories.

A server keeps its users, API keys and audit log here; any front-end may keep its own
state under its own namespace. Values are encrypted with the store key (and re-encrypted
by ``rotate_key``); namespaces and keys are stored only as keyed blind indexes, so no
name is plaintext on disk either::

    store.app_data.put_json("myapp.settings", "theme", {"dark": True})
    store.app_data.get_json("myapp.settings", "theme")        # {'dark': True}
    [e.key for e in store.app_data.entries("myapp.settings")]  # ['theme']
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memorylink._records import ms_to_datetime
from memorylink.crypto.base import Cipher
from memorylink.errors import LimitExceededError, StoreCorruptedError, ValidationError
from memorylink.storage.base import AppDataRow
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["MAX_KEY_LENGTH", "MAX_VALUE_BYTES", "AppData", "AppDataEntry", "reseal_app_data"]

MAX_KEY_LENGTH = 256
"""Characters in one key."""
MAX_VALUE_BYTES = 1024 * 1024
"""Bytes in one value."""
MAX_PAGE = 10_000
"""Entries one :meth:`AppData.entries` call may return."""

_NAMESPACE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_LENGTHS = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class AppDataEntry:
    """One stored value, with its insertion position (``seq``, for paging) and last write time."""

    key: str
    value: bytes
    seq: int
    updated_at: datetime

    def json(self) -> Any:
        """The value parsed as JSON (as written by :meth:`AppData.put_json`)."""
        return json.loads(self.value)


class AppData:
    """Named values in namespaces (``store.app_data``). Thread-safe; other processes see commits at once.

    Namespaces are lowercase names such as ``"server.users"`` (letters, digits, ``_ . -``,
    at most 64 characters); keys are non-empty strings of at most 256 characters; values
    are bytes (at most 1 MiB), or JSON through the ``*_json`` methods.
    """

    def __init__(self, storage: SqliteStorage, cipher: Callable[[], Cipher], *, check_open: Callable[[], None]) -> None:
        self._storage = storage
        self._cipher = cipher  # a source, not a value: rotate_key swaps the store's cipher
        self._check_open = check_open

    # -- single values ---------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> bytes | None:
        """The value under ``key``, or None."""
        entry = self.entry(namespace, key)
        return None if entry is None else entry.value

    def get_json(self, namespace: str, key: str) -> Any:
        """The JSON value under ``key``, or None."""
        entry = self.entry(namespace, key)
        return None if entry is None else entry.json()

    def entry(self, namespace: str, key: str) -> AppDataEntry | None:
        """The value under ``key`` with its position and write time, or None."""
        self._check_open()
        ns_bi, key_bi = self._indexes(namespace, key)
        row = self._storage.get_app_data(ns_bi, key_bi)
        return None if row is None else _open(self._cipher(), row)

    def put(self, namespace: str, key: str, value: bytes, *, only_new: bool = False) -> bool:
        """Store ``value`` under ``key`` (replacing any). With ``only_new``, keep an existing value and return False.

        Raises:
            ValidationError: A bad namespace or key, a value that is not bytes.
            LimitExceededError: The value is over 1 MiB.
        """
        self._check_open()
        ns_bi, key_bi = self._indexes(namespace, key)
        body = self._seal(self._cipher(), namespace, key, _check_value(value), ns_bi, key_bi)
        with self._storage.transaction():
            return self._storage.put_app_data(ns_bi, key_bi, _now_ms(), body, only_new=only_new)

    def put_json(self, namespace: str, key: str, value: Any, *, only_new: bool = False) -> bool:
        """:meth:`put` of ``value`` as compact JSON."""
        return self.put(namespace, key, _dump(value), only_new=only_new)

    def update_json(self, namespace: str, key: str, change: Callable[[Any], Any]) -> Any:
        """Read, change and write one JSON value atomically (under the store's write lock).

        ``change`` gets the current value (None if absent) and returns the new one; returning
        None deletes the key. Returns what ``change`` returned. ``change`` must be quick:
        every process's writes wait for it.
        """
        self._check_open()
        ns_bi, key_bi = self._indexes(namespace, key)
        cipher = self._cipher()
        with self._storage.transaction():
            row = self._storage.get_app_data(ns_bi, key_bi)
            current = None if row is None else _open(cipher, row).json()
            new = change(current)
            if new is None:
                if row is not None:
                    self._storage.delete_app_data(ns_bi, key_bi)
                return None
            body = self._seal(cipher, namespace, key, _check_value(_dump(new)), ns_bi, key_bi)
            self._storage.put_app_data(ns_bi, key_bi, _now_ms(), body, only_new=False)
            return new

    def delete(self, namespace: str, key: str) -> bool:
        """Remove ``key``; False if it was absent."""
        self._check_open()
        ns_bi, key_bi = self._indexes(namespace, key)
        with self._storage.transaction():
            return self._storage.delete_app_data(ns_bi, key_bi)

    # -- namespaces ------------------------------------------------------------------------

    def entries(
        self,
        namespace: str,
        *,
        newest_first: bool = False,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
    ) -> list[AppDataEntry]:
        """The entries of ``namespace`` in insertion order (``newest_first`` reverses it).

        Page with ``after_seq`` / ``before_seq`` (exclusive bounds on :attr:`AppDataEntry.seq`)
        and ``limit`` (at most 10,000; None: all).
        """
        self._check_open()
        for name, bound in (("after_seq", after_seq), ("before_seq", before_seq)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise ValidationError(f"{name} must be an integer", field=name)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE):
            raise ValidationError(f"limit must be an integer in [1, {MAX_PAGE}]", field="limit")
        cipher = self._cipher()
        rows = self._storage.scan_app_data(
            self._namespace_index(cipher, namespace),
            after_seq=after_seq,
            before_seq=before_seq,
            descending=newest_first,
            limit=limit,
        )
        return [_open(cipher, row) for row in rows]

    def count(self, namespace: str) -> int:
        """How many keys ``namespace`` holds."""
        self._check_open()
        return self._storage.count_app_data(self._namespace_index(self._cipher(), namespace))

    # -- sealing ---------------------------------------------------------------------------

    def _indexes(self, namespace: str, key: str) -> tuple[bytes, bytes]:
        cipher = self._cipher()
        return self._namespace_index(cipher, namespace), _key_index(cipher, namespace, _check_key(key))

    @staticmethod
    def _namespace_index(cipher: Cipher, namespace: str) -> bytes:
        return cipher.blind_index(_check_namespace(namespace), "app_data")

    @staticmethod
    def _seal(cipher: Cipher, namespace: str, key: str, value: bytes, ns_bi: bytes, key_bi: bytes) -> bytes:
        return cipher.encrypt(_encode(namespace, key, value), _associated_data(ns_bi, key_bi))


def reseal_app_data(storage: SqliteStorage, old: Cipher, new: Cipher) -> None:
    """Re-encrypt every value and recompute every blind index under ``new`` (inside the rotation transaction)."""
    rows: list[AppDataRow] = []
    for row in storage.iter_all_app_data():
        namespace, key, value = _decode(old.decrypt(row.body, _associated_data(row.ns_bi, row.key_bi)))
        ns_bi = new.blind_index(namespace, "app_data")
        key_bi = _key_index(new, namespace, key)
        body = new.encrypt(_encode(namespace, key, value), _associated_data(ns_bi, key_bi))
        rows.append(row._replace(ns_bi=ns_bi, key_bi=key_bi, body=body))
    storage.replace_app_data(rows)


def _key_index(cipher: Cipher, namespace: str, key: str) -> bytes:
    return cipher.blind_index(key, "app_data/" + namespace)


def _associated_data(ns_bi: bytes, key_bi: bytes) -> bytes:
    return b"ml/app/" + ns_bi + key_bi


def _encode(namespace: str, key: str, value: bytes) -> bytes:
    ns, k = namespace.encode(), key.encode()
    return _LENGTHS.pack(len(ns), len(k)) + ns + k + value


def _decode(plain: bytes) -> tuple[str, str, bytes]:
    if len(plain) < _LENGTHS.size:
        raise StoreCorruptedError("an app_data value does not decode")
    ns_len, key_len = _LENGTHS.unpack_from(plain)
    start = _LENGTHS.size
    if len(plain) < start + ns_len + key_len:
        raise StoreCorruptedError("an app_data value does not decode")
    namespace = plain[start : start + ns_len].decode()
    key = plain[start + ns_len : start + ns_len + key_len].decode()
    return namespace, key, plain[start + ns_len + key_len :]


def _open(cipher: Cipher, row: AppDataRow) -> AppDataEntry:
    _, key, value = _decode(cipher.decrypt(row.body, _associated_data(row.ns_bi, row.key_bi)))
    return AppDataEntry(key=key, value=value, seq=row.seq, updated_at=ms_to_datetime(row.updated_at))


def _check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValidationError(
            "namespace must be 1 to 64 characters: a lowercase letter, then letters, digits, '_', '.' or '-'",
            field="namespace",
        )
    return namespace


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError("key must be a non-empty string", field="key")
    try:
        key.encode()
    except UnicodeEncodeError:
        raise ValidationError("key must be valid Unicode text (no lone surrogates)", field="key") from None
    if len(key) > MAX_KEY_LENGTH:
        raise LimitExceededError(
            f"key is {len(key)} characters; at most {MAX_KEY_LENGTH} are allowed",
            limit="max_key_length",
            maximum=MAX_KEY_LENGTH,
            actual=len(key),
            field="key",
        )
    return key


def _check_value(value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ValidationError("value must be bytes (use put_json for other values)", field="value")
    data = bytes(value)
    if len(data) > MAX_VALUE_BYTES:
        raise LimitExceededError(
            f"value is {len(data)} bytes; at most {MAX_VALUE_BYTES} are allowed",
            limit="max_value_bytes",
            maximum=MAX_VALUE_BYTES,
            actual=len(data),
            field="value",
        )
    return data


def _dump(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise ValidationError(f"value is not JSON-serialisable: {error}", field="value") from None


def _now_ms() -> int:
    return int(time.time() * 1000)
