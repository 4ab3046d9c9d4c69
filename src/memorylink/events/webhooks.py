"""Webhook endpoints: where the delivery worker sends events, stored sealed like everything else."""

from __future__ import annotations

import json
import secrets as _secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memorylink._records import ms_to_datetime
from memorylink.config import Limits
from memorylink.crypto.base import Cipher
from memorylink.errors import NotFoundError, ValidationError
from memorylink.events.event_filter import EventFilter
from memorylink.events.models import Event
from memorylink.events.retry import RetryPolicy
from memorylink.events.sender import validate_webhook_url
from memorylink.events.signing import secret_key
from memorylink.ids import encode_id
from memorylink.models import check_scope_id
from memorylink.storage.base import DeliveryRow, DeliveryState, EventStorage, WebhookRow

__all__ = [
    "MAX_TIMEOUT_S",
    "STATE_BY_NAME",
    "Delivery",
    "NewWebhook",
    "WebhookCodec",
    "WebhookConfig",
    "WebhookEndpoint",
    "WebhookSecret",
    "build_config",
    "get_row",
    "new_webhook_id",
    "reseal_webhooks",
    "now_ms",
    "to_delivery",
    "to_endpoint",
    "to_new_webhook",
]

MAX_TIMEOUT_S = 60.0
MAX_DESCRIPTION = 256
MAX_BEARER_TOKEN = 4096


class WebhookSecret(BaseModel):
    """One signing secret; an old one keeps signing until ``expires_at`` during a rotation."""

    model_config = ConfigDict(frozen=True)

    secret: str
    expires_at: datetime | None = None


class WebhookConfig(BaseModel):
    """An endpoint's full settings (sealed at rest; secrets and token never leave the store in lists)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    events: list[str] | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    description: str | None = None
    include_text: bool = False
    timeout_s: float = 10.0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    bearer_token: str | None = None
    secrets: list[WebhookSecret]

    def event_filter(self) -> EventFilter:
        return EventFilter.parse(self.events)

    def wants(self, event: Event) -> bool:
        """Whether this endpoint receives ``event`` (by type, then by scope)."""
        if not self.event_filter().matches(event.type):
            return False
        for wanted, actual in (
            (self.user_id, event.user_id),
            (self.agent_id, event.agent_id),
            (self.run_id, event.run_id),
        ):
            if wanted is not None and wanted != actual:
                return False
        return True

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret first, then old ones that have not expired."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now]


class WebhookEndpoint(BaseModel):
    """A webhook endpoint as listed: settings without the secret or the bearer token."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    events: list[str] | None = Field(description="event names or prefixes (memory.*); None: every event")
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    description: str | None
    enabled: bool
    include_text: bool
    timeout_s: float
    retry: RetryPolicy
    has_bearer_token: bool
    secret_hint: str = Field(description="the first characters of the current secret, to tell secrets apart")
    created_at: datetime
    updated_at: datetime


class NewWebhook(WebhookEndpoint):
    """What ``add`` and ``rotate_secret`` return: the endpoint and its signing secret, shown this once."""

    secret: str


DeliveryStatus = Literal["pending", "delivered", "dead"]


class Delivery(BaseModel):
    """One event's delivery to one endpoint."""

    model_config = ConfigDict(frozen=True)

    webhook_id: str
    event_id: str | None = Field(description="None when the event was pruned from the outbox")
    event_type: str | None
    state: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime
    last_status: int | None
    last_error: str | None


def new_webhook_id() -> str:
    return "wh_" + encode_id(_secrets.randbits(63))


def build_config(
    url: str,
    *,
    events: Iterable[str] | str | None,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    description: str | None,
    include_text: bool,
    timeout_s: float,
    retry: RetryPolicy | Mapping[str, Any] | None,
    bearer_token: str | None,
    secrets: list[WebhookSecret],
    limits: Limits,
) -> WebhookConfig:
    """Validate endpoint settings at the edge; every error names its field."""
    parsed_filter = EventFilter.parse(events)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ValidationError(f"timeout_s must be a number in (0, {MAX_TIMEOUT_S:g}]", field="timeout_s")
    if description is not None and (
        not isinstance(description, str)
        or len(description) > MAX_DESCRIPTION
        # Sealed as JSON text: a lone surrogate (JSON can spell one) cannot be encoded.
        or any("\ud800" <= c <= "\udfff" for c in description)
    ):
        raise ValidationError(
            f"description must be a string of at most {MAX_DESCRIPTION} characters (valid Unicode)",
            field="description",
        )
    if bearer_token is not None and (
        not isinstance(bearer_token, str)
        or not bearer_token
        or len(bearer_token) > MAX_BEARER_TOKEN
        # An HTTP header value: visible ASCII and spaces (RFC 9110), or every delivery would fail.
        or not all(" " <= c <= "~" for c in bearer_token)
    ):
        raise ValidationError(
            f"bearer_token must be a non-empty string of printable ASCII characters (at most {MAX_BEARER_TOKEN})",
            field="bearer_token",
        )
    if not isinstance(include_text, bool):
        raise ValidationError("include_text must be true or false", field="include_text")
    if retry is None:
        policy = RetryPolicy()
    elif isinstance(retry, RetryPolicy):
        policy = retry
    else:
        try:
            policy = RetryPolicy.model_validate(dict(retry))
        except Exception as error:  # pydantic's error, re-raised as ours with the field named
            raise ValidationError(f"retry: {error}", field="retry") from None
    for item in secrets:
        secret_key(item.secret)
    return WebhookConfig(
        url=validate_webhook_url(url),
        events=parsed_filter.to_list(),
        user_id=check_scope_id("user_id", user_id, limits),
        agent_id=check_scope_id("agent_id", agent_id, limits),
        run_id=check_scope_id("run_id", run_id, limits),
        description=description,
        include_text=include_text,
        timeout_s=float(timeout_s),
        retry=policy,
        bearer_token=bearer_token,
        secrets=secrets,
    )


class WebhookCodec:
    """Seals endpoint settings; the endpoint id is bound as associated data."""

    def __init__(self, cipher: Callable[[], Cipher]) -> None:
        self._cipher = cipher  # a source: rotate_key swaps the store's cipher

    def seal(self, webhook_id: str, config: WebhookConfig, cipher: Cipher | None = None) -> bytes:
        return (cipher or self._cipher()).encrypt(config.model_dump_json().encode(), _associated_data(webhook_id))

    def open(self, row: WebhookRow, cipher: Cipher | None = None) -> WebhookConfig:
        plain = (cipher or self._cipher()).decrypt(row.body, _associated_data(row.id))
        return WebhookConfig.model_validate(json.loads(plain))


def reseal_webhooks(storage: EventStorage, old: Cipher, new: Cipher) -> None:
    """Re-encrypt every endpoint's settings under ``new`` (inside the key-rotation transaction)."""
    codec = WebhookCodec(lambda: old)
    for row in storage.list_webhooks():
        storage.update_webhook(row.id, body=codec.seal(row.id, codec.open(row), new))


def _associated_data(webhook_id: str) -> bytes:
    return b"ml/webhook/" + webhook_id.encode()


def to_endpoint(row: WebhookRow, config: WebhookConfig) -> WebhookEndpoint:
    return WebhookEndpoint(**_endpoint_values(row, config))


def to_new_webhook(row: WebhookRow, config: WebhookConfig, secret: str) -> NewWebhook:
    return NewWebhook(**_endpoint_values(row, config), secret=secret)


def _endpoint_values(row: WebhookRow, config: WebhookConfig) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": config.url,
        "events": config.events,
        "user_id": config.user_id,
        "agent_id": config.agent_id,
        "run_id": config.run_id,
        "description": config.description,
        "enabled": row.enabled,
        "include_text": config.include_text,
        "timeout_s": config.timeout_s,
        "retry": config.retry,
        "has_bearer_token": config.bearer_token is not None,
        "secret_hint": config.secrets[0].secret[:10] + "...",
        "created_at": ms_to_datetime(row.created_at),
        "updated_at": ms_to_datetime(row.updated_at),
    }


def to_delivery(row: DeliveryRow, event: Event | None) -> Delivery:
    return Delivery(
        webhook_id=row.webhook_id,
        event_id=event.id if event is not None else None,
        event_type=event.type if event is not None else None,
        state=_STATE_NAMES[row.state],
        attempts=row.attempts,
        next_attempt_at=ms_to_datetime(row.next_at) if row.next_at is not None else None,
        updated_at=ms_to_datetime(row.updated_at),
        last_status=row.status,
        last_error=row.error,
    )


_STATE_NAMES: dict[DeliveryState, DeliveryStatus] = {
    DeliveryState.PENDING: "pending",
    DeliveryState.DELIVERED: "delivered",
    DeliveryState.DEAD: "dead",
}
STATE_BY_NAME: dict[str, DeliveryState] = {name: state for state, name in _STATE_NAMES.items()}


def now_ms() -> int:
    return int(time.time() * 1000)


def get_row(storage: EventStorage, webhook_id: str) -> WebhookRow:
    if not isinstance(webhook_id, str):
        raise ValidationError("webhook id must be a string", field="webhook_id")
    row = storage.get_webhook(webhook_id)
    if row is None:
        raise NotFoundError(webhook_id, kind="webhook")
    return row
