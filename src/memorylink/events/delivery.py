"""The delivery worker: sends outbox events to webhook endpoints, signed, at least once.

One background thread per open store. Only one process at a time delivers for a store:
the worker holds a lease in the store's metadata (renewed while it runs; taken over when
it expires, or at once when its holder's process on this host is gone). Per endpoint,
events go out in commit order: the next event waits until the current one is delivered
or dead-lettered. Delivery state lives in storage, so a restart resumes where it stopped;
an event in flight when the process died is sent again (receivers de-duplicate on
``webhook-id``). The worker also prunes the outbox past its retention (age and count);
with ``outbox="always"`` it runs for that alone while no endpoint exists, polling for
endpoints instead of waking on every commit.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memorylink.config import EventSettings
from memorylink.crypto.base import Cipher
from memorylink.events.outbox import Outbox, StoredEvent
from memorylink.events.retry import CircuitBreaker, Outcome
from memorylink.events.sender import SendResult, WebhookSender
from memorylink.events.signing import webhook_headers
from memorylink.events.webhooks import WebhookCodec, WebhookConfig, now_ms
from memorylink.storage.base import DeliveryRow, DeliveryState, WebhookRow
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["DeliveryLease", "DeliveryWorker", "webhook_body"]

logger = logging.getLogger(__name__)

_LEASE_KEY = "delivery_lease"
_PAGE = 64
_IDLE_S = 3600.0


def webhook_body(stored: StoredEvent, config: WebhookConfig) -> bytes:
    """The JSON an endpoint receives: the event, with the memory text only if the endpoint asked."""
    payload = stored.event.model_dump(mode="json")
    if config.include_text and "text" in stored.private:
        payload["data"] = {**payload["data"], "text": stored.private["text"]}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class DeliveryLease:
    """Who delivers for a store: a lease row in its metadata, held by one worker at a time."""

    def __init__(self, storage: SqliteStorage, duration_s: float, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._duration_ms = int(duration_s * 1000)
        self._clock = clock
        self.token = secrets.token_hex(8)
        self._host = socket.gethostname()
        self._held_until_ms = 0

    def hold(self) -> bool:
        """Take or renew the lease; False while another live worker holds it."""
        now = int(self._clock() * 1000)
        if self._held_until_ms - now > self._duration_ms * 2 // 3:
            return True  # renewed recently enough
        with self._storage.transaction():
            current = _parse_lease(self._storage.get_meta(_LEASE_KEY))
            if current is not None and current.get("token") != self.token and not self._free(current, now):
                self._held_until_ms = 0
                return False
            until = now + self._duration_ms
            lease = {"token": self.token, "pid": os.getpid(), "host": self._host, "until": until}
            self._storage.set_meta(_LEASE_KEY, json.dumps(lease))
        self._held_until_ms = until
        return True

    def release(self) -> None:
        """Give the lease up (if held) so another process can deliver at once."""
        with self._storage.transaction():
            current = _parse_lease(self._storage.get_meta(_LEASE_KEY))
            if current is not None and current.get("token") == self.token:
                self._storage.set_meta(_LEASE_KEY, json.dumps({"until": 0}))
        self._held_until_ms = 0

    def _free(self, lease: dict[str, Any], now: int) -> bool:
        if int(lease.get("until", 0)) <= now:
            return True
        if lease.get("host") == self._host and isinstance(lease.get("pid"), int):
            return not _process_alive(lease["pid"])
        return False


def _parse_lease(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Endpoint:
    updated_at: int
    config: WebhookConfig
    breaker: CircuitBreaker


class DeliveryWorker:
    """Delivers a store's outbox to its enabled endpoints from one daemon thread.

    ``run_once()`` does one round synchronously (tests drive it directly); ``start()``
    runs rounds until ``stop()``, waking early when this process commits events.
    """

    def __init__(
        self,
        storage: SqliteStorage,
        outbox: Outbox,
        cipher: Callable[[], Cipher],
        settings: EventSettings,
        *,
        sender_factory: Callable[[], WebhookSender] = WebhookSender,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._storage = storage
        self._outbox = outbox
        self._codec = WebhookCodec(cipher)
        self._settings = settings
        self._sender_factory = sender_factory
        self._sender: WebhookSender | None = None
        self._clock = clock
        self._rng = rng or random.Random()
        self._lease = DeliveryLease(storage, settings.delivery_lease_s, clock)
        self._endpoints: dict[str, _Endpoint] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._last_prune = 0.0
        self._delivering = False  # whether the last round found an enabled endpoint
        self._changed = threading.Event()  # set by wake(): endpoints or redeliveries changed

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="memorylink-webhooks", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for work now (endpoints or redeliveries changed)."""
        self._changed.set()
        self._outbox.notify_committed()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the request in flight (bounded by its timeout), stop, and release the lease."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stopping.set()
        self.wake()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.warning("the webhook delivery thread did not stop within %.1f s", timeout_s)
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        try:
            self._lease.release()
        except Exception:  # the store may be closing under us; the lease expires on its own
            logger.debug("could not release the delivery lease", exc_info=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Taken before the round: a commit or wake-up during the round starts the next one
            # at once instead of being slept through.
            with self._outbox.committed:
                generation = self._outbox.generation
            self._changed.clear()
            try:
                wait_s = self.run_once()
            except Exception:
                logger.exception("webhook delivery round failed; retrying")
                wait_s = self._settings.delivery_poll_interval_s
            if not self._delivering:
                # Nothing to deliver, only the outbox to prune: this process's commits need no
                # round each; poll for endpoints (another process may add one) or a wake().
                self._changed.wait(self._settings.delivery_poll_interval_s)
                continue
            with self._outbox.committed:
                if not self._stopping.is_set() and self._outbox.generation == generation:
                    self._outbox.committed.wait(max(0.01, min(wait_s, self._settings.delivery_poll_interval_s)))

    # -- one round -----------------------------------------------------------------------

    def run_once(self) -> float:
        """Deliver what is due now; returns the seconds until something else is due."""
        if not self._lease.hold():
            return self._settings.delivery_lease_s / 3
        rows = self._storage.list_webhooks()
        self._endpoints = {row.id: self._endpoint(row) for row in rows}
        self._delivering = any(row.enabled for row in rows)
        next_due = _IDLE_S
        for row in rows:
            if row.enabled and not self._stopping.is_set():
                next_due = min(next_due, self._serve(row, self._endpoints[row.id]))
        self._maybe_prune()
        return next_due

    def _endpoint(self, row: WebhookRow) -> _Endpoint:
        known = self._endpoints.get(row.id)
        if known is not None and known.updated_at == row.updated_at:
            return known
        breaker = (
            known.breaker
            if known is not None
            else CircuitBreaker(
                failure_threshold=self._settings.circuit_breaker_threshold,
                cooldown_s=self._settings.circuit_breaker_cooldown_s,
            )
        )
        return _Endpoint(row.updated_at, self._codec.open(row), breaker)

    def _serve(self, row: WebhookRow, endpoint: _Endpoint) -> float:
        """Redeliveries first, then the events after the cursor, in order; returns the next due time."""
        next_due = _IDLE_S
        now = now_ms()
        for delivery in self._storage.list_deliveries(row.id, state=DeliveryState.PENDING, limit=_PAGE):
            if delivery.event_seq > row.cursor:
                continue  # the head of the queue: handled in order below
            if delivery.next_at is not None and delivery.next_at > now:
                next_due = min(next_due, (delivery.next_at - now) / 1000)
                continue
            page = self._outbox.read(delivery.event_seq - 1, 1)
            if not page or page[0].seq != delivery.event_seq:
                self._record(row.id, delivery._replace(state=DeliveryState.DEAD, error="event pruned"), None)
                continue
            if not endpoint.config.wants(page[0].event):
                # Queued before the endpoint's filter was narrowed: it no longer receives this event.
                dropped = delivery._replace(state=DeliveryState.DEAD, error="not in the endpoint's filter")
                self._record(row.id, dropped, None)
                continue
            due = self._attempt(row, endpoint, page[0], delivery, advance=False)
            if due is None:
                return self._breaker_wait(endpoint)
            next_due = min(next_due, due)
        cursor = row.cursor
        while not self._stopping.is_set():
            page = self._outbox.read(cursor, _PAGE)
            if not page:
                break
            for stored in page:
                if not endpoint.config.wants(stored.event):
                    cursor = stored.seq
                    continue
                if cursor != row.cursor:
                    self._advance(row.id, cursor)
                    row = row._replace(cursor=cursor)
                existing = self._storage.get_delivery(row.id, stored.seq)
                pending = existing is not None and existing.state is DeliveryState.PENDING
                waiting_until = existing.next_at if existing is not None and pending else None
                if waiting_until is not None and waiting_until > now_ms():
                    return min(next_due, (waiting_until - now_ms()) / 1000)
                due = self._attempt(row, endpoint, stored, existing, advance=True)
                if due is None:
                    return self._breaker_wait(endpoint)
                if due > 0:
                    return min(next_due, due)  # the head failed: later events wait for it
                cursor = stored.seq
                row = row._replace(cursor=cursor)
            if len(page) < _PAGE:
                break
        if cursor != row.cursor:
            self._advance(row.id, cursor)
        return next_due

    def _breaker_wait(self, endpoint: _Endpoint) -> float:
        return max(0.05, min(self._settings.circuit_breaker_cooldown_s, self._settings.delivery_poll_interval_s))

    def _attempt(
        self,
        row: WebhookRow,
        endpoint: _Endpoint,
        stored: StoredEvent,
        existing: DeliveryRow | None,
        *,
        advance: bool,
    ) -> float | None:
        """Send one event; returns 0 when done with it, the retry delay when it must wait,
        or None when the circuit breaker refused to send."""
        config = endpoint.config
        body = webhook_body(stored, config)
        headers = webhook_headers(config.signing_secrets(datetime.now(UTC)), stored.event.id, int(self._clock()), body)
        if not endpoint.breaker.allow(time.monotonic()):
            return None
        delivered = False
        try:
            result = self._send(config, body, headers)
            delivered = result.outcome is Outcome.DELIVERED
        finally:
            # Always settle the breaker: a half-open probe left unrecorded would block the endpoint.
            if delivered:
                endpoint.breaker.record_success()
            else:
                endpoint.breaker.record_failure(time.monotonic())
        attempts = (existing.attempts if existing is not None else 0) + 1
        if delivered:
            state, next_at, wait = DeliveryState.DELIVERED, None, 0.0
        else:
            out_of_attempts = attempts >= config.retry.max_attempts
            if result.outcome is Outcome.GIVE_UP or out_of_attempts:
                state, next_at, wait = DeliveryState.DEAD, None, 0.0
                logger.warning(
                    "webhook %s gave up on event %s after %d attempt(s): %s",
                    row.id,
                    stored.event.id,
                    attempts,
                    result.error,
                )
            else:
                wait = config.retry.delay_s(attempts, retry_after_s=result.retry_after_s, rng=self._rng)
                state, next_at = DeliveryState.PENDING, now_ms() + int(wait * 1000)
        delivery = DeliveryRow(row.id, stored.seq, state, attempts, next_at, now_ms(), result.status, result.error)
        self._record(row.id, delivery, stored.seq if advance and state is not DeliveryState.PENDING else None)
        return wait

    def _send(self, config: WebhookConfig, body: bytes, headers: dict[str, str]) -> SendResult:
        if self._sender is None:
            self._sender = self._sender_factory()
        return self._sender.send(
            config.url, body, headers, timeout_s=config.timeout_s, bearer_token=config.bearer_token
        )

    def _record(self, webhook_id: str, delivery: DeliveryRow, cursor: int | None) -> None:
        with self._storage.transaction():
            if self._storage.get_webhook(webhook_id) is None:
                return  # removed meanwhile: it gets nothing more, not even records
            self._storage.put_delivery(delivery)
            if cursor is not None:
                self._storage.update_webhook(webhook_id, cursor=cursor)

    def _advance(self, webhook_id: str, cursor: int) -> None:
        with self._storage.transaction():
            self._storage.update_webhook(webhook_id, cursor=cursor)

    # -- retention -----------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        monotonic = time.monotonic()
        if monotonic - self._last_prune < self._settings.prune_interval_s:
            return
        self._last_prune = monotonic
        before = now_ms() - int(self._settings.retention_days * 86_400_000)
        with self._storage.transaction():  # current cursors: this round has moved them
            enabled = [row.cursor for row in self._storage.list_webhooks() if row.enabled]
            below = min(enabled) + 1 if enabled else self._outbox.last_seq() + 1
            pruned = self._storage.prune_events(before, below, keep_newest=self._settings.retention_max_events)
        if pruned:
            logger.info("pruned %d delivered events past the retention from the outbox", pruned)
