"""A webhook endpoint configured by environment variables, for the CLI and server entry points.

The library never reads the environment by itself: an entry point passes ``os.environ``
to :func:`webhook_from_env` or :func:`configure_webhook_from_env`.

==============================  =============================================================
``MEMORYLINK_WEBHOOK_URL``      where to POST (setting it enables the endpoint)
``MEMORYLINK_WEBHOOK_SECRET``   a ``whsec_`` signing secret (generated if unset: see the result)
``MEMORYLINK_WEBHOOK_EVENTS``   comma-separated names or prefixes (``memory.*``); default all
``MEMORYLINK_WEBHOOK_TIMEOUT``  seconds per request (default 10)
``MEMORYLINK_WEBHOOK_RETRY_COUNT``  attempts per event (default 8)
``MEMORYLINK_WEBHOOK_RETRY_DELAY``  seconds before the first retry (default 1; doubles)
==============================  =============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memorylink.errors import ValidationError
from memorylink.events.retry import RetryPolicy
from memorylink.events.webhook_manager import WebhookManager
from memorylink.events.webhooks import NewWebhook, WebhookEndpoint

__all__ = ["ENV_DESCRIPTION", "configure_webhook_from_env", "webhook_from_env"]

ENV_DESCRIPTION = "configured by MEMORYLINK_WEBHOOK_URL"
_PREFIX = "MEMORYLINK_WEBHOOK_"
_FIELD_TO_VARIABLE = {
    "url": "URL",
    "secret": "SECRET",
    "events": "EVENTS",
    "timeout_s": "TIMEOUT",
    "retry": "RETRY_COUNT",
}


def webhook_from_env(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """``store.webhooks.add`` keyword arguments from the environment, or None without a URL.

    Raises:
        ValidationError: A variable holds a bad value (the error names the variable).
    """
    url = environ.get(_PREFIX + "URL", "").strip()
    if not url:
        return None
    settings: dict[str, Any] = {"url": url}
    secret = environ.get(_PREFIX + "SECRET", "").strip()
    if secret:
        settings["secret"] = secret
    events = environ.get(_PREFIX + "EVENTS", "").strip()
    if events:
        names = [name.strip() for name in events.replace(" ", ",").split(",") if name.strip()]
        settings["events"] = names[0] if len(names) == 1 and names[0] in ("all", "none", "*") else names
    timeout = environ.get(_PREFIX + "TIMEOUT", "").strip()
    if timeout:
        settings["timeout_s"] = _number(timeout, "TIMEOUT", float)
    retry: dict[str, Any] = {}
    count = environ.get(_PREFIX + "RETRY_COUNT", "").strip()
    if count:
        retry["max_attempts"] = _number(count, "RETRY_COUNT", int)
    delay = environ.get(_PREFIX + "RETRY_DELAY", "").strip()
    if delay:
        initial = _number(delay, "RETRY_DELAY", float)
        retry["initial_delay_s"] = initial
        retry["max_delay_s"] = max(initial, RetryPolicy().max_delay_s)
    if retry:
        settings["retry"] = retry
    return settings


def configure_webhook_from_env(
    webhooks: WebhookManager, environ: Mapping[str, str]
) -> WebhookEndpoint | NewWebhook | None:
    """Create or update the one endpoint the environment describes; None if it describes none.

    The endpoint is found again by its URL and description on the next start, so
    restarting an entry point does not add duplicates. A new endpoint without
    ``MEMORYLINK_WEBHOOK_SECRET`` gets a generated secret, returned here (a
    :class:`NewWebhook`) for the entry point to show once.

    Raises:
        ValidationError: A variable holds a bad value (the error names the variable).
    """
    settings = webhook_from_env(environ)
    if settings is None:
        return None
    try:
        existing = next(
            (e for e in webhooks.list() if e.url == settings["url"] and e.description == ENV_DESCRIPTION), None
        )
        if existing is None:
            return webhooks.add(description=ENV_DESCRIPTION, **settings)
        secret = settings.pop("secret", None)
        settings.pop("url")
        updated = webhooks.update(existing.id, **settings)
        if secret is not None and webhooks.config(existing.id).secrets[0].secret != secret:
            return webhooks.rotate_secret(existing.id, secret=secret, keep_old_for_s=0)
        return updated
    except ValidationError as error:
        variable = _FIELD_TO_VARIABLE.get(str(error.details.get("field")))
        if variable is None:
            raise
        raise ValidationError(f"{_PREFIX}{variable}: {error.message}", field=_PREFIX + variable) from None


def _number(raw: str, variable: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(raw)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ValidationError(
            f"{_PREFIX}{variable} must be {expected}, got {raw!r}", field=_PREFIX + variable
        ) from None
