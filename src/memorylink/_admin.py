"""MemoryStore maintenance: stats, checkpoint, export / import, key rotation."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Sequence
from typing import IO, Literal

from memorylink._core import StoreCore, _scope_of
from memorylink._exchange import ImportResult, export_memories, import_memories
from memorylink._inspect import Check, StoreCheck
from memorylink._records import RecordCodec
from memorylink._writes import ProgressCallback
from memorylink.app_data import reseal_app_data
from memorylink.crypto.aesgcm import AesGcmCipher
from memorylink.crypto.keycheck import make_key_check
from memorylink.crypto.keys import coerce_raw_key, derive_key, new_kdf_params
from memorylink.errors import (
    MemoryLinkError,
    ValidationError,
)
from memorylink.events.outbox import reseal_outbox
from memorylink.events.webhooks import reseal_webhooks
from memorylink.ids import decode_id, encode_id
from memorylink.models import (
    Memory,
    NewMemory,
    StoreStats,
)
from memorylink.storage.migrations import SCHEMA_VERSION

logger = logging.getLogger(__name__)


class StoreAdmin(StoreCore):
    """Maintenance operations of MemoryStore."""

    # -- maintenance -----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        """Counts, sizes and identity of the store."""
        self._check_open()
        self._sync()
        _, _, journal = self._storage.journal_bounds()
        disk = 0
        if self.path is not None:
            disk = sum(entry.stat().st_size for entry in self.path.iterdir() if entry.is_file())
        return StoreStats(
            path=str(self.path) if self.path is not None else None,
            memories=self._storage.count(),
            users=self._storage.count_users(),
            history_versions=self._storage.count_history(),
            embedder=self._embedder.name,
            dimension=self._embedder.dimension,
            index_entries=len(self._state.index),
            journal_entries=journal,
            disk_bytes=disk,
            key_id=self._codec.cipher.key_id,
            schema_version=SCHEMA_VERSION,
            outbox_backlog=self._outbox_backlog(),
        )

    def _outbox_backlog(self) -> int:
        last = self._outbox.last_seq()
        return sum(max(0, last - row.cursor) for row in self._storage.list_webhooks() if row.enabled)

    def check(self) -> StoreCheck:
        """Check the store end to end: schema, embedder, every record's integrity, index vs storage, outbox.

        Reads and decrypts every memory (so it takes a while on a large store) and changes
        nothing. Each finding says what was checked; ``ok`` is False if any failed.
        """
        self._check_open()
        self._sync()
        checks: list[Check] = []
        version = self._storage.schema_version()
        checks.append(
            Check(
                name="schema",
                ok=version == SCHEMA_VERSION,
                detail=f"schema version {version} (this memorylink writes {SCHEMA_VERSION})",
            )
        )
        recorded = (self._storage.get_meta("embedder"), self._storage.get_meta("dimension"))
        in_use = (self._embedder.name, str(self._embedder.dimension))
        checks.append(
            Check(
                name="embedder",
                ok=recorded == in_use,
                detail=f"recorded {recorded[0]} ({recorded[1]} dimensions), in use {in_use[0]} ({in_use[1]})",
            )
        )
        labels: set[int] = set()
        unreadable = 0
        for rows in self._storage.iter_memories():
            for row in rows:
                labels.add(row.id)
                try:
                    self._codec.open_row(row)
                except MemoryLinkError:
                    unreadable += 1
        checks.append(
            Check(
                name="records",
                ok=unreadable == 0,
                detail=f"{len(labels)} memories, {unreadable} failed their integrity check",
            )
        )
        with self._state.lock.read():
            indexed = {int(label) for label in self._state.index.labels()}
        missing, orphans = len(labels - indexed), len(indexed - labels)
        checks.append(
            Check(
                name="index",
                ok=missing == 0 and orphans == 0,
                detail=f"{len(indexed)} entries; {missing} memories missing from it, {orphans} orphan entries",
            )
        )
        _, _, journal = self._storage.journal_bounds()
        checks.append(Check(name="journal", ok=True, detail=f"{journal} changes since the last index snapshot"))
        last = self._outbox.last_seq()
        for endpoint in self.webhooks.list():
            dead = len(self.webhooks.deliveries(endpoint.id, state="dead", limit=1000))
            backlog = self._webhook_backlog(endpoint.id, last)
            checks.append(
                Check(
                    name=f"webhook {endpoint.id}",
                    ok=dead == 0,
                    detail=f"{endpoint.url} ({'enabled' if endpoint.enabled else 'disabled'}): "
                    f"{backlog} outbox events past its delivery position, {dead} dead-lettered",
                )
            )
        return StoreCheck(ok=all(check.ok for check in checks), checks=checks)

    def _webhook_backlog(self, webhook_id: str, last_seq: int) -> int:
        row = next((row for row in self._storage.list_webhooks() if row.id == webhook_id), None)
        return 0 if row is None else max(0, last_seq - row.cursor)

    def checkpoint(self) -> bool:
        """Write the encrypted index snapshot now (normally done at close). False if up to date."""
        self._check_open()
        return self._state.checkpoint()

    def export(
        self,
        destination: str | os.PathLike[str] | IO[str],
        *,
        plaintext: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Write memories (in scope) as JSON Lines; returns how many.

        The export is encrypted under the store's key unless ``plaintext=True`` is given;
        :meth:`import_` of an encrypted export needs the same passphrase or key.
        """
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)

        def records() -> Iterable[Memory]:
            for rows in self._storage.iter_memories():
                for row in rows:
                    body = self._codec.open_row(row)
                    if scope.contains(body.user_id, body.agent_id, body.run_id):
                        yield self._codec.to_memory(row, body)

        kdf_raw = self._storage.get_meta("kdf")
        return export_memories(
            destination,
            records(),
            cipher=None if plaintext else self._codec.cipher,
            kdf=json.loads(kdf_raw) if kdf_raw else None,
            embedder=self._embedder.name,
        )

    def import_(
        self,
        source: str | os.PathLike[str] | IO[str],
        *,
        passphrase: str | None = None,
        key: bytes | str | None = None,
        on_conflict: Literal["skip", "replace", "new_id"] = "skip",
        on_progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Read a JSON Lines export; a bad line is reported with its number and the rest imported.

        ``source`` may also be plain JSON Lines of new memories, one object with a ``text``
        (and optional ``tags``, ``metadata``, ``user_id``, ``agent_id``, ``run_id``) per line
        and no header: they are stored with new ids, as :meth:`add_many` stores them.

        Ids and timestamps are kept. ``on_conflict`` says what to do with an id that exists:
        ``"skip"`` it, ``"replace"`` the stored memory, or store it under a ``"new_id"``.
        Texts are re-embedded with this store's embedder.
        """
        self._check_open()
        if on_conflict not in ("skip", "replace", "new_id"):
            raise ValidationError("on_conflict must be skip, replace or new_id", field="on_conflict")
        return import_memories(
            source,
            store=self,
            passphrase=passphrase,
            key=key,
            own_cipher=self._codec.cipher,
            on_conflict=on_conflict,
            on_progress=on_progress,
        )

    def _import_batch(
        self, batch: Sequence[tuple[int, Memory]], on_conflict: str
    ) -> tuple[list[tuple[int, str]], list[tuple[int, MemoryLinkError]]]:
        """Store validated imported memories; returns (line, id) stored and (line, error) skipped."""
        stored: list[tuple[int, str]] = []
        skipped: list[tuple[int, MemoryLinkError]] = []
        wanted = [decode_id(memory.id) for _, memory in batch]
        taken = self._storage.ids_taken(wanted)
        to_write: list[tuple[int, Memory, int]] = []
        for (line, memory), label in zip(batch, wanted, strict=True):
            if label in taken:
                if on_conflict == "skip":
                    skipped.append((line, ValidationError(f"memory {memory.id} already exists", field="id")))
                    continue
                if on_conflict == "replace":
                    old = self._storage.get_memory(label)
                    scope = _scope_of(self._codec.open_row(old)) if old is not None else (None, None, None)
                    self._delete_labels([label], {label: scope})
                else:
                    label = self._ids.next(at_ms=label >> 20)
            to_write.append((line, memory, label))
        if to_write:
            items = [
                NewMemory.model_construct(
                    text=m.text,
                    tags=m.tags,
                    metadata=m.metadata,
                    user_id=m.user_id,
                    agent_id=m.agent_id,
                    run_id=m.run_id,
                )
                for _, m, _ in to_write
            ]
            vectors = self._embed([item.text for item in items])
            self._write_new(
                items,
                vectors,
                ids=[label for _, _, label in to_write],
                updated_ms=[int(m.updated_at.timestamp() * 1000) for _, m, _ in to_write],
                versions=[m.version for _, m, _ in to_write],
            )
            stored.extend((line, encode_id(label)) for line, _, label in to_write)
        return stored, skipped

    def rotate_key(self, *, passphrase: str | None = None, key: bytes | str | None = None) -> str:
        """Re-encrypt everything under a new passphrase or key, in one transaction.

        A crash midway leaves the store under the old key, intact. Other processes that
        have the store open must reopen it with the new key. Returns the new key id.
        """
        self._check_open()
        if (passphrase is None) == (key is None):
            raise ValidationError("give exactly one of passphrase or key", field="key")
        kdf = new_kdf_params() if passphrase is not None else None
        master = (
            derive_key(passphrase, kdf) if passphrase is not None and kdf is not None else coerce_raw_key(key or b"")
        )
        new_cipher = AesGcmCipher(master)
        new_codec = RecordCodec(new_cipher)
        old_codec = self._codec
        state = self._state
        with state.lock.write(), self._storage.transaction():
            state._refresh_locked()
            for rows in self._storage.iter_memories():
                self._storage.replace_bodies(
                    new_codec.memory_row(
                        row.id, old_codec.open_row(row), updated_at=row.updated_at, version=row.version
                    )
                    for row in rows
                )
            self._storage.replace_history_bodies(
                new_codec.history_row(h.memory_id, h.version, h.changed_at, old_codec.open_history(h))
                for h in list(self._storage.iter_history())
            )
            self._storage.replace_change_vectors(
                (
                    c.seq,
                    new_codec.seal_vector(
                        c.memory_id, old_codec.open_vector(c.memory_id, c.vector or b"", state.dimension)
                    ),
                )
                for c in self._storage.iter_changes_with_vectors()
            )
            reseal_outbox(self._storage, old_codec.cipher, new_cipher)
            reseal_webhooks(self._storage, old_codec.cipher, new_cipher)
            reseal_app_data(self._storage, old_codec.cipher, new_cipher)
            old_snapshots = state.snapshot_files()
            state.codec = new_codec
            self._codec = new_codec
            try:
                if self.path is not None:
                    state._write_snapshot()
                self._storage.set_meta("snapshot_seq", str(state.applied_seq))
                self._storage.set_meta("kdf", json.dumps(kdf.to_dict() if kdf is not None else {"algorithm": "raw"}))
                self._storage.set_meta("key_check", base64.b64encode(make_key_check(new_cipher)).decode())
                self._storage.set_meta("key_id", new_cipher.key_id)
            except BaseException:
                state.codec = old_codec
                self._codec = old_codec
                raise
        if state.catalog is not None:
            state.catalog = None
        for old_snapshot in old_snapshots:  # the vector and keyword snapshots under the old key
            if old_snapshot not in state.snapshot_files():
                old_snapshot.unlink(missing_ok=True)
        self._query_cache.clear()
        self._storage.checkpoint_wal()
        logger.info("store key rotated to key id %s", new_cipher.key_id)
        return new_cipher.key_id
