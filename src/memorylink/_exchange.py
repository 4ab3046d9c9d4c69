"""Export and import as JSON Lines: a header line, then one memory per line.

Import also takes plain JSON Lines of new memories, one ``{"text": ..., "tags": ...}``
object per line and no header (notes from another tool, say): they get new ids and are
stored as ``add_many`` stores them, a bad line failing alone with its line number.

An encrypted export seals each memory line with AES-GCM under the store's key, bound
to the export's id and the line number; the header records the key id and the KDF
parameters (never the key), so the same passphrase or key opens it elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pydantic

from memorylink.crypto.aesgcm import AesGcmCipher
from memorylink.crypto.base import Cipher
from memorylink.crypto.keys import KdfParams, coerce_raw_key, derive_key
from memorylink.errors import InvalidKeyError, MemoryLinkError, ValidationError
from memorylink.ids import decode_id
from memorylink.models import (
    ErrorInfo,
    ImportResult,
    LineError,
    Memory,
    pydantic_error_to_validation,
    utcnow,
    validate_new_memory,
)

if TYPE_CHECKING:
    from memorylink._admin import StoreAdmin

__all__ = ["FORMAT", "ImportResult", "export_memories", "import_memories"]

FORMAT = "memorylink.export"
FORMAT_VERSION = 1


@contextmanager
def _text_stream(target: str | os.PathLike[str] | IO[str], mode: str) -> Iterator[IO[str]]:
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
        if mode == "w":
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "w", encoding="utf-8") as handle:
                yield handle
        else:
            with open(path, encoding="utf-8") as handle:
                yield handle
    else:
        yield target


def _line_ad(export_id: str, line: int) -> bytes:
    return f"ml/export/{export_id}/{line}".encode()


def export_memories(
    destination: str | os.PathLike[str] | IO[str],
    memories: Iterable[Memory],
    *,
    cipher: Cipher | None,
    kdf: dict[str, Any] | None,
    embedder: str,
) -> int:
    """Write ``memories`` to ``destination``; encrypted when ``cipher`` is given."""
    export_id = secrets.token_hex(8)
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "encrypted": cipher is not None,
        "key_id": cipher.key_id if cipher is not None else None,
        "kdf": kdf if cipher is not None else None,
        "export_id": export_id,
        "embedder": embedder,
        "exported_at": utcnow().isoformat(),
    }
    count = 0
    with _text_stream(destination, "w") as out:
        out.write(json.dumps(header, separators=(",", ":")) + "\n")
        for line, memory in enumerate(memories, start=2):
            payload = memory.model_dump_json()
            if cipher is not None:
                sealed = cipher.encrypt(payload.encode(), _line_ad(export_id, line))
                payload = json.dumps({"sealed": base64.b64encode(sealed).decode()})
            out.write(payload + "\n")
            count += 1
    return count


def _import_cipher(
    header: dict[str, Any], passphrase: str | None, key: bytes | str | None, own_cipher: Cipher
) -> Cipher:
    if passphrase is not None:
        kdf = header.get("kdf") or {}
        if kdf.get("algorithm") in (None, "raw"):
            raise InvalidKeyError("this export was sealed with a raw key; import it with key=")
        cipher: Cipher = AesGcmCipher(derive_key(passphrase, KdfParams.from_dict(kdf)))
    elif key is not None:
        cipher = AesGcmCipher(coerce_raw_key(key))
    else:
        cipher = own_cipher
    if cipher.key_id != header.get("key_id"):
        raise InvalidKeyError(
            "this export was sealed under another key; pass the passphrase or key of the store that made it"
        )
    return cipher


def import_memories(
    source: str | os.PathLike[str] | IO[str],
    *,
    store: StoreAdmin,
    passphrase: str | None,
    key: bytes | str | None,
    own_cipher: Cipher,
    on_conflict: str,
    on_progress: Callable[[int, int], None] | None,
) -> ImportResult:
    """Import an export into ``store``; see :meth:`MemoryStore.import_`."""
    settings = store.settings
    ids: list[str] = []
    errors: list[LineError] = []
    skipped = 0
    failed = 0
    done = 0
    with _text_stream(source, "r") as handle:
        first = handle.readline()
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        if isinstance(header, dict) and header.get("format") is None and "text" in header:
            return _import_new_memories(first, handle, store=store, on_progress=on_progress)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValidationError(
                "not a memorylink export: the first line is neither its header nor a memory with a text",
                field="line 1",
            )
        if header.get("version") != FORMAT_VERSION:
            raise ValidationError(f"unsupported export version {header.get('version')!r}", field="line 1")
        cipher = _import_cipher(header, passphrase, key, own_cipher) if header.get("encrypted") else None
        batch: list[tuple[int, Memory]] = []

        def flush() -> None:
            nonlocal skipped, done
            stored, rejected = store._import_batch(batch, on_conflict)
            ids.extend(memory_id for _, memory_id in stored)
            for line, error in rejected:
                errors.append(LineError(line=line, error=ErrorInfo(**error.to_dict())))
            skipped += len(rejected)
            done += len(batch)
            batch.clear()
            if on_progress is not None:
                on_progress(done, done)

        for line, raw in enumerate(handle, start=2):
            if not raw.strip():
                continue
            try:
                batch.append((line, _parse_line(raw, line, cipher, header, store)))
            except MemoryLinkError as error:
                failed += 1
                done += 1
                errors.append(LineError(line=line, error=ErrorInfo(**error.to_dict())))
            if len(batch) >= settings.write_chunk_size:
                flush()
        if batch:
            flush()
    return ImportResult(imported=len(ids), skipped=skipped, failed=failed, ids=ids, errors=errors)


def _import_new_memories(
    first: str,
    handle: IO[str],
    *,
    store: StoreAdmin,
    on_progress: Callable[[int, int], None] | None,
) -> ImportResult:
    """JSON Lines of new memories (``{"text", "tags", "metadata", "user_id", ...}``), stored as add_many does."""
    chunk_size = store.settings.write_chunk_size
    ids: list[str] = []
    errors: list[LineError] = []
    done = 0
    batch: list[tuple[int, object]] = []

    def flush() -> None:
        nonlocal done
        result = store.add_many([item for _, item in batch])  # type: ignore[attr-defined]
        for (line, _), item in zip(batch, result.items, strict=True):
            if item.error is not None:
                errors.append(LineError(line=line, error=item.error))
            elif item.id is not None:
                ids.append(item.id)
        done += len(batch)
        batch.clear()
        if on_progress is not None:
            on_progress(done, done)

    for line, raw in enumerate([first, *handle], start=1):
        if not raw.strip():
            continue
        try:
            batch.append((line, json.loads(raw)))
        except json.JSONDecodeError as error:
            problem = ValidationError(f"line {line}: not JSON ({error.msg})", field=f"line {line}")
            errors.append(LineError(line=line, error=ErrorInfo(**problem.to_dict())))
            done += 1
        if len(batch) >= chunk_size:
            flush()
    if batch:
        flush()
    errors.sort(key=lambda problem: problem.line)
    return ImportResult(imported=len(ids), skipped=0, failed=len(errors), ids=ids, errors=errors)


def _parse_line(raw: str, line: int, cipher: Cipher | None, header: dict[str, Any], store: StoreAdmin) -> Memory:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationError(f"line {line}: not JSON ({error.msg})", field=f"line {line}") from None
    if cipher is not None:
        if not isinstance(data, dict) or not isinstance(data.get("sealed"), str):
            raise ValidationError(f"line {line}: expected a sealed record", field=f"line {line}")
        try:
            plain = cipher.decrypt(base64.b64decode(data["sealed"]), _line_ad(str(header.get("export_id")), line))
        except (ValueError, MemoryLinkError):
            raise ValidationError(
                f"line {line}: the sealed record failed its integrity check", field=f"line {line}"
            ) from None
        data = json.loads(plain)
    if not isinstance(data, dict):
        raise ValidationError(f"line {line}: expected a JSON object", field=f"line {line}")
    try:
        memory = Memory.model_validate(data)
    except pydantic.ValidationError as error:
        problem = pydantic_error_to_validation(error)
        raise ValidationError(f"line {line}: {problem.message}", field=f"line {line}") from None
    try:
        decode_id(memory.id)
        item = validate_new_memory(
            {
                "text": memory.text,
                "tags": memory.tags,
                "metadata": memory.metadata,
                "user_id": memory.user_id,
                "agent_id": memory.agent_id,
                "run_id": memory.run_id,
            },
            store.settings.limits,
            default_user_id=store.settings.default_user_id,
        )
    except ValidationError as error:
        raise ValidationError(f"line {line}: {error.message}", field=f"line {line}", details=error.details) from None
    return memory.model_copy(update={"tags": item.tags, "metadata": item.metadata})
