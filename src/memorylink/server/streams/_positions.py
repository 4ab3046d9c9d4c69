"""Stream positions as a non-admin holds them: the outbox event a stream stands at, sealed.

A stream's position is an event id, and the event it names may be another user's: a
stream starts at the store's newest event, and its cursor moves past the events it does
not deliver. Event ids are time-ordered, so a bare id would tell a user when someone else
did something. A non-admin is therefore given positions sealed (``pos_`` and AES-GCM of
the id under a key kept, encrypted like all app data, in the store) and hands them back as
``Last-Event-ID`` or ``after``; the ids of events it receives are its own and stay bare.
Admins see every event, so they get bare ids. A token that does not open is answered as an
unknown event id.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.concurrency import run_in_threadpool

from memorylink.errors import NotFoundError

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["POSITION_PREFIX", "Positions", "positions_of"]

POSITION_PREFIX = "pos_"
_NAMESPACE = "server.streams"
_KEY_NAME = "position_key"
_NONCE_BYTES = 12
_AAD = b"memorylink stream position v1"


class Positions:
    """Seals event ids into opaque position tokens and opens them again (one key per store)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def of_store(cls, store: MemoryStore) -> Positions:
        """The store's positions: its key is made on first use, once (another process may race to)."""
        key = store.app_data.get(_NAMESPACE, _KEY_NAME)
        if key is None:
            store.app_data.put(_NAMESPACE, _KEY_NAME, secrets.token_bytes(32), only_new=True)
            key = store.app_data.get(_NAMESPACE, _KEY_NAME)
        assert key is not None
        return cls(key)

    def seal(self, event_id: str | None) -> str | None:
        """A position token for ``event_id`` (None stays None)."""
        if event_id is None:
            return None
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, event_id.encode(), _AAD)
        return POSITION_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, position: str | None) -> str | None:
        """The event id a position names: a token is opened, an event id returned as it is.

        Raises:
            NotFoundError: A ``pos_`` token this store did not seal (as for an unknown event id).
        """
        if position is None or not position.startswith(POSITION_PREFIX):
            return position
        text = position.removeprefix(POSITION_PREFIX)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise NotFoundError(position, kind="event") from None
        return opened

    def shown(self, event_id: str | None, *, admin: bool) -> str | None:
        """``event_id`` as a caller sees it: bare for an admin, sealed for anyone else."""
        return event_id if admin else self.seal(event_id)


async def positions_of(app: Any) -> Positions:
    """The app's :class:`Positions` (loaded from ``app.state.store`` on first use)."""
    positions: Positions | None = getattr(app.state, "stream_positions", None)
    if positions is None:
        positions = await run_in_threadpool(Positions.of_store, app.state.store)
        app.state.stream_positions = positions
    return positions
