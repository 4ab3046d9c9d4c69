"""``store.webhooks``: add, list, change and remove webhook endpoints; inspect and redeliver."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from memorylink._version import __version__
from memorylink.config import Limits
from memorylink.crypto.base import Cipher
from memorylink.errors import NotFoundError, ValidationError
from memorylink.events.event_filter import EventFilter
from memorylink.events.models import Event
from memorylink.events.outbox import Outbox
from memorylink.events.retry import RetryPolicy
from memorylink.events.sender import SendResult, WebhookSender
from memorylink.events.signing import generate_secret, webhook_headers
from memorylink.events.webhooks import (
    STATE_BY_NAME,
    Delivery,
    NewWebhook,
    WebhookCodec,
    WebhookConfig,
    WebhookEndpoint,
    WebhookSecret,
    build_config,
    get_row,
    new_webhook_id,
    now_ms,
    to_delivery,
    to_endpoint,
    to_new_webhook,
)
from memorylink.storage.base import DeliveryRow, DeliveryState, WebhookRow
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["WebhookManager"]

_UNSET: Any = object()
MAX_KEEP_OLD_SECRET_S = 7 * 86_400


class WebhookManager:
    """Webhook endpoints of one store (``store.webhooks``). Thread-safe.

    Settings are sealed under the store key. An endpoint receives the events committed
    after it was added, in commit order, from the store's delivery worker.
    """

    def __init__(
        self,
        storage: SqliteStorage,
        cipher: Callable[[], Cipher],
        outbox: Outbox,
        limits: Limits,
        *,
        check_open: Callable[[], None],
        on_change: Callable[[], None],
        sender_factory: Callable[[], WebhookSender] = WebhookSender,
    ) -> None:
        self._storage = storage
        self._codec = WebhookCodec(cipher)
        self._outbox = outbox
        self._limits = limits
        self._check_open = check_open
        self._notify = on_change
        self._sender_factory = sender_factory
        self._changes = 0
        self._wants_key: tuple[int, int] | None = None
        self._wanted: builtins.list[EventFilter] = []

    def _on_change(self) -> None:
        self._changes += 1
        self._notify()

    def wants(self, event_type: str, data_version: int) -> bool:
        """Whether an enabled endpoint takes ``event_type`` (cached until a webhook changes).

        ``data_version`` is the storage's, as last seen by the caller: it moves when another
        process commits, which is when its endpoint changes could show.
        """
        key = (data_version, self._changes)
        if key != self._wants_key:
            self._wanted = [
                self._codec.open(row).event_filter() for row in self._storage.list_webhooks() if row.enabled
            ]
            self._wants_key = key
        return any(wanted.matches(event_type) for wanted in self._wanted)

    # -- endpoints -----------------------------------------------------------------------

    def add(
        self,
        url: str,
        *,
        events: Iterable[str] | str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        secret: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        bearer_token: str | None = None,
        include_text: bool = False,
        description: str | None = None,
        enabled: bool = True,
    ) -> NewWebhook:
        """Register an endpoint; it receives events committed from now on.

        Args:
            url: Where to POST (http or https).
            events: Event names or prefixes (``"memory.*"``); ``None`` or ``"*"``: every event.
            user_id, agent_id, run_id: Only events of this scope.
            secret: A ``whsec_`` signing secret; generated when omitted (returned once, here).
            timeout_s: Per-request timeout (at most 60 s).
            retry: Attempts and backoff (:class:`RetryPolicy`).
            bearer_token: Sent as ``Authorization: Bearer ...``.
            include_text: Put the memory text in created / updated events (off by default).
            description: A note for people.
            enabled: Start delivering at once.

        Raises:
            ValidationError: A setting is invalid (the error names it).
        """
        self._check_open()
        config = build_config(
            url,
            events=events,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            description=description,
            include_text=include_text,
            timeout_s=timeout_s,
            retry=retry,
            bearer_token=bearer_token,
            secrets=[WebhookSecret(secret=secret if secret is not None else generate_secret())],
            limits=self._limits,
        )
        webhook_id = new_webhook_id()
        created = now_ms()
        with self._storage.transaction():
            row = WebhookRow(
                webhook_id,
                created,
                created,
                bool(enabled),
                self._outbox.last_seq(),
                self._codec.seal(webhook_id, config),
            )
            self._storage.insert_webhook(row)
        self._on_change()
        return to_new_webhook(row, config, config.secrets[0].secret)

    def list(self) -> builtins.list[WebhookEndpoint]:
        """Every endpoint, oldest first (secrets and tokens left out)."""
        self._check_open()
        return [to_endpoint(row, self._codec.open(row)) for row in self._storage.list_webhooks()]

    def get(self, webhook_id: str) -> WebhookEndpoint:
        """One endpoint. Raises NotFoundError."""
        self._check_open()
        row = get_row(self._storage, webhook_id)
        return to_endpoint(row, self._codec.open(row))

    def update(
        self,
        webhook_id: str,
        *,
        url: str = _UNSET,
        events: Iterable[str] | str | None = _UNSET,
        user_id: str | None = _UNSET,
        agent_id: str | None = _UNSET,
        run_id: str | None = _UNSET,
        timeout_s: float = _UNSET,
        retry: RetryPolicy | Mapping[str, Any] | None = _UNSET,
        bearer_token: str | None = _UNSET,
        include_text: bool = _UNSET,
        description: str | None = _UNSET,
    ) -> WebhookEndpoint:
        """Change the given settings (``None`` clears an optional one). Raises NotFoundError, ValidationError."""
        self._check_open()
        with self._storage.transaction():
            row = get_row(self._storage, webhook_id)
            old = self._codec.open(row)
            changes = {
                "url": url,
                "events": events,
                "user_id": user_id,
                "agent_id": agent_id,
                "run_id": run_id,
                "timeout_s": timeout_s,
                "retry": retry,
                "bearer_token": bearer_token,
                "include_text": include_text,
                "description": description,
            }
            merged: dict[str, Any] = {
                name: getattr(old, name) if value is _UNSET else value for name, value in changes.items()
            }
            config = build_config(secrets=old.secrets, limits=self._limits, **merged)
            updated = max(now_ms(), row.updated_at)
            self._storage.update_webhook(webhook_id, updated_at=updated, body=self._codec.seal(webhook_id, config))
            row = row._replace(updated_at=updated, body=b"")
        self._on_change()
        return to_endpoint(row, config)

    def remove(self, webhook_id: str) -> bool:
        """Delete an endpoint and its delivery records; it gets nothing more. False if there was none."""
        self._check_open()
        with self._storage.transaction():
            removed = self._storage.delete_webhook(webhook_id)
        if removed:
            self._on_change()
        return removed

    def enable(self, webhook_id: str) -> WebhookEndpoint:
        """Resume delivery (events that arrived while disabled are delivered, within the retention)."""
        return self._set_enabled(webhook_id, True)

    def disable(self, webhook_id: str) -> WebhookEndpoint:
        """Pause delivery; events keep queueing for the endpoint (within the retention)."""
        return self._set_enabled(webhook_id, False)

    def _set_enabled(self, webhook_id: str, enabled: bool) -> WebhookEndpoint:
        self._check_open()
        with self._storage.transaction():
            row = get_row(self._storage, webhook_id)
            updated = max(now_ms(), row.updated_at)
            self._storage.update_webhook(webhook_id, updated_at=updated, enabled=enabled)
        self._on_change()
        return to_endpoint(row._replace(enabled=enabled, updated_at=updated), self._codec.open(row))

    def rotate_secret(
        self, webhook_id: str, *, secret: str | None = None, keep_old_for_s: float = 86_400.0
    ) -> NewWebhook:
        """Start signing with a new secret; the old one also signs for ``keep_old_for_s`` seconds.

        During the overlap each delivery carries both signatures, so receivers can switch
        secrets without dropping a request.
        """
        self._check_open()
        if isinstance(keep_old_for_s, bool) or not isinstance(keep_old_for_s, (int, float)):
            raise ValidationError("keep_old_for_s must be a number of seconds", field="keep_old_for_s")
        if not 0 <= keep_old_for_s <= MAX_KEEP_OLD_SECRET_S:
            raise ValidationError(
                f"keep_old_for_s must be between 0 and {MAX_KEEP_OLD_SECRET_S} (7 days)", field="keep_old_for_s"
            )
        fresh = secret if secret is not None else generate_secret()
        with self._storage.transaction():
            row = get_row(self._storage, webhook_id)
            old = self._codec.open(row)
            now = datetime.now(UTC)
            expiry = now + timedelta(seconds=keep_old_for_s)
            kept = [
                WebhookSecret(secret=s.secret, expires_at=min(expiry, s.expires_at) if s.expires_at else expiry)
                for s in old.secrets
                if (s.expires_at is None or s.expires_at > now) and keep_old_for_s > 0
            ]
            config = build_config(
                old.url,
                events=old.events,
                user_id=old.user_id,
                agent_id=old.agent_id,
                run_id=old.run_id,
                description=old.description,
                include_text=old.include_text,
                timeout_s=old.timeout_s,
                retry=old.retry,
                bearer_token=old.bearer_token,
                secrets=[WebhookSecret(secret=fresh), *kept],
                limits=self._limits,
            )
            updated = max(now_ms(), row.updated_at)
            self._storage.update_webhook(webhook_id, updated_at=updated, body=self._codec.seal(webhook_id, config))
        self._on_change()
        return to_new_webhook(row._replace(updated_at=updated), config, fresh)

    def config(self, webhook_id: str) -> WebhookConfig:
        """Every setting, secrets and bearer token included (for the store's owner and its worker)."""
        self._check_open()
        return self._codec.open(get_row(self._storage, webhook_id))

    # -- deliveries ----------------------------------------------------------------------

    def deliveries(self, webhook_id: str, *, state: str | None = None, limit: int = 100) -> builtins.list[Delivery]:
        """Delivery records of an endpoint, newest event first; ``state``: pending, delivered or dead."""
        self._check_open()
        wanted = None
        if state is not None:
            if state not in STATE_BY_NAME:
                raise ValidationError(f"state must be one of {', '.join(STATE_BY_NAME)}", field="state")
            wanted = STATE_BY_NAME[state]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= self._limits.max_page_size:
            raise ValidationError(f"limit must be an integer in [1, {self._limits.max_page_size}]", field="limit")
        get_row(self._storage, webhook_id)
        rows = self._storage.list_deliveries(webhook_id, state=wanted, limit=limit)
        events = self._events_by_seq({row.event_seq for row in rows})
        return [to_delivery(row, events.get(row.event_seq)) for row in rows]

    def redeliver(self, webhook_id: str, event_id: str) -> Delivery:
        """Queue an event for this endpoint again (a dead letter, or one already delivered).

        Raises:
            NotFoundError: No such endpoint, the event is no longer in the outbox, or it is not
                one this endpoint receives (its type or scope is outside the endpoint's filter).
        """
        self._check_open()
        seq = self._outbox.seq_of(event_id)
        event = self._events_by_seq({seq}).get(seq)
        with self._storage.transaction():
            row = get_row(self._storage, webhook_id)
            if event is None or not self._codec.open(row).wants(event):
                # The same answer as for an unknown id: an endpoint scoped to one user must not
                # be handed (or learn of) another user's events by naming their ids.
                raise NotFoundError(
                    event_id, kind="event", message=f"event {event_id!r} is not in the outbox (unknown, or pruned)"
                )
            if seq > row.cursor:
                raise ValidationError(
                    f"event {event_id} has not been attempted for this endpoint yet; it will be delivered in turn",
                    field="event_id",
                )
            now = now_ms()
            delivery = DeliveryRow(webhook_id, seq, DeliveryState.PENDING, 0, now, now, None, None)
            self._storage.put_delivery(delivery)
        self._on_change()
        return to_delivery(delivery, event)

    def test(self, webhook_id: str) -> SendResult:
        """Send one signed ``webhook.test`` event now, once, and return what the receiver said.

        The event is not recorded in the outbox and is not retried.
        """
        self._check_open()
        config = self._codec.open(get_row(self._storage, webhook_id))
        event = Event(
            id="evt_test_" + new_webhook_id()[3:],
            type="webhook.test",
            timestamp=datetime.now(UTC),
            data={"webhook_id": webhook_id},
            source=f"memorylink/{__version__}",
        )
        body = event.model_dump_json().encode()
        headers = webhook_headers(config.signing_secrets(event.timestamp), event.id, int(time.time()), body)
        with self._sender_factory() as sender:
            return sender.send(config.url, body, headers, timeout_s=config.timeout_s, bearer_token=config.bearer_token)

    def _events_by_seq(self, seqs: set[int]) -> dict[int, Event]:
        found: dict[int, Event] = {}
        for seq in sorted(seqs):
            page = self._outbox.read(seq - 1, 1)
            if page and page[0].seq == seq:
                found[seq] = page[0].event
        return found
