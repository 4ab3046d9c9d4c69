"""What every command shares: where the store is, how to get its key, and opening it.

The CLI is an entry point, so it (unlike the library) reads ``MEMORYLINK_*`` variables.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.cli._errors import CliUsageError
from memorylink.embedders.known import embedder_named
from memorylink.errors import ValidationError

__all__ = ["CliState", "JsonOpt", "default_store_path", "read_key_file", "state_of"]

STORE_VARIABLE = "MEMORYLINK_STORE"
PASSPHRASE_VARIABLE = "MEMORYLINK_PASSPHRASE"
KEY_FILE_VARIABLE = "MEMORYLINK_KEY_FILE"
NEW_PASSPHRASE_VARIABLE = "MEMORYLINK_NEW_PASSPHRASE"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (the library's models) instead of a table.")]
"""The ``--json`` flag every command that prints results takes."""


def state_of(ctx: typer.Context) -> CliState:
    """The root command's :class:`CliState` (``ctx.obj``)."""
    state: CliState = ctx.obj
    return state


def default_store_path() -> Path:
    """The per-user default store directory (``platformdirs``' user data directory)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("memorylink", appauthor=False)) / "store"


def read_key_file(path: Path, *, store: Path | None = None) -> bytes | str:
    """A raw 32-byte key from a file: 32 bytes as they are, or hex / base64 text.

    Raises:
        ValidationError: The file is missing, unreadable, or inside the store directory
            (the key must never live next to the data).
    """
    if store is not None and _inside(path, store):
        raise ValidationError(
            f"the key file {path} is inside the store directory; keep the key away from the data",
            field="key_file",
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read the key file {path}: {error.strerror}", field="key_file") from None
    if len(data) == 32:
        return data
    return data.decode("ascii", errors="replace").strip()


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


@dataclass
class CliState:
    """Options of the root command, shared by every subcommand (``ctx.obj``)."""

    store_option: Path | None = None
    key_file_option: Path | None = None
    debug: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def store_path(self) -> Path:
        """``--store``, else ``$MEMORYLINK_STORE``, else the per-user default."""
        if self.store_option is not None:
            return self.store_option
        if self.environ.get(STORE_VARIABLE):
            return Path(self.environ[STORE_VARIABLE]).expanduser()
        return default_store_path()

    def exists(self) -> bool:
        return (self.store_path / "memorylink.db").is_file()

    # -- keys -------------------------------------------------------------------------

    def secret(self, *, creating: bool = False, kind: str | None = None) -> dict[str, Any]:
        """``passphrase=`` or ``key=`` for :meth:`MemoryStore.open`, never echoed or logged.

        Order: ``--key-file``, ``$MEMORYLINK_KEY_FILE``, ``$MEMORYLINK_PASSPHRASE``, then a
        hidden prompt when stdin is a terminal.
        """
        key_file = self.key_file_option or (
            Path(self.environ[KEY_FILE_VARIABLE]).expanduser() if self.environ.get(KEY_FILE_VARIABLE) else None
        )
        if key_file is not None and kind != "passphrase":
            _warn_if_readable_by_others(key_file)
            return {"key": read_key_file(key_file, store=self.store_path)}
        if kind == "raw":
            raise CliUsageError(f"this store is opened with a raw key: pass --key-file or set {KEY_FILE_VARIABLE}")
        passphrase = self.environ.get(PASSPHRASE_VARIABLE)
        if passphrase:
            return {"passphrase": passphrase}
        if key_file is not None:
            raise CliUsageError(f"this store is opened with a passphrase: set {PASSPHRASE_VARIABLE}, not a key file")
        return {"passphrase": self.prompt_passphrase("Passphrase", confirm=creating)}

    def prompt_passphrase(self, label: str, *, confirm: bool) -> str:
        if not sys.stdin.isatty():
            raise CliUsageError(
                f"no key given: set {PASSPHRASE_VARIABLE} or {KEY_FILE_VARIABLE}, or pass --key-file "
                "(a passphrase is only prompted for on a terminal)"
            )
        value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
        if not value:
            raise CliUsageError("the passphrase is empty")
        return value

    # -- opening ----------------------------------------------------------------------

    def settings(self, *, deliver: bool = False, outbox: str = "auto", mmap_bytes: int | None = None) -> Settings:
        """Store settings for a CLI process: short commands leave webhook delivery to long-running ones."""
        events = EventSettings(deliver=deliver, outbox=outbox)
        if mmap_bytes is None:
            return Settings(events=events)
        return Settings(events=events, sqlite_mmap_bytes=mmap_bytes)

    def open(
        self,
        *,
        deliver: bool = False,
        outbox: str = "auto",
        mmap_bytes: int | None = None,
        secret: dict[str, Any] | None = None,
    ) -> MemoryStore:
        """Open the existing store (with the embedder it records); a missing store is a usage error.

        ``secret`` is what :meth:`secret` returned, for a command that needs the key again.
        """
        path = self.store_path
        if not self.exists():
            raise CliUsageError(f"no memorylink store at {path}; create one with `memorylink init`")
        if not secret:
            secret = self.secret(kind=MemoryStore.describe(path).key_kind)
        return MemoryStore.open(
            path,
            **secret,
            settings=self.settings(deliver=deliver, outbox=outbox, mmap_bytes=mmap_bytes),
            create=False,
        )

    def create(self, embedder: str) -> MemoryStore:
        """Create a new store at ``store_path`` with the named embedder."""
        path = self.store_path
        if self.exists():
            raise CliUsageError(f"there is already a memorylink store at {path}")
        chosen = embedder_named(embedder)
        secret = self.secret(creating=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return MemoryStore.open(path, **secret, embedder=chosen, settings=self.settings(), create=True)


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # read_key_file reports it
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        sys.stderr.write(f"memorylink: warning: the key file {path} is readable by others (chmod 600 it)\n")
