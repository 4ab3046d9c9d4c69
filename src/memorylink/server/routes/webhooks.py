"""``/api/v1/webhooks``: ``store.webhooks`` over HTTP.

Admins manage every endpoint. Everyone else sees and manages only endpoints whose
``user_id`` is their own (any other id is a 404), and their endpoints always carry their
``user_id``, so they only ever receive their own user's events.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from memorylink.errors import NotFoundError
from memorylink.events import Delivery, NewWebhook, WebhookEndpoint, WebhookManager
from memorylink.events.webhooks import DeliveryStatus
from memorylink.server._constraints import EVENT_ID, PAGE_SIZE, WEBHOOK_ID, states
from memorylink.server._openapi import error_responses
from memorylink.server.auth.routes import audit_admin_action
from memorylink.server.principal import Principal, Reader, Writer, resolve_user
from memorylink.server.routes._common import json_response, scoped_arguments, store_of
from memorylink.server.routes._examples import example_response
from memorylink.server.schemas import (
    CreateWebhookRequest,
    RotateSecretRequest,
    UpdateWebhookRequest,
    WebhookTestResult,
)
from memorylink.server.webhook_targets import check_public_webhook_url

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[
    str, Path(description="the endpoint's id", examples=["wh_0D2JQ3M5K8T9V"], json_schema_extra=WEBHOOK_ID)
]

_READ = (401, 403, 404, 422, 429, 503)
_WRITE = (401, 403, 404, 413, 422, 429, 503)


def _webhooks(request: Request) -> WebhookManager:
    return store_of(request).webhooks


def _visible(principal: Principal, endpoint: WebhookEndpoint) -> bool:
    return principal.is_admin or endpoint.user_id == principal.user_id


def _owned(request: Request, principal: Principal, webhook_id: str) -> WebhookEndpoint:
    """The endpoint, if this caller may see it; else the same 404 as for no endpoint at all."""
    endpoint = _webhooks(request).get(webhook_id)
    if not _visible(principal, endpoint):
        raise NotFoundError(webhook_id, kind="webhook")
    return endpoint


def _check_target(request: Request, principal: Principal, url: str) -> None:
    """Refuse a non-admin's URL on the server's own network, unless the server allows it."""
    if principal.is_admin or request.app.state.settings.private_webhook_urls == "everyone":
        return
    check_public_webhook_url(url)


def _secret_response(created: NewWebhook, status: int) -> Response:
    """An answer holding a signing secret: no cache may keep it."""
    response = json_response(created, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _managing(request: Request, principal: Principal, webhook_id: str) -> WebhookManager:
    """The store's webhooks, once this caller may see endpoint ``webhook_id`` (else the 404 of ``_owned``)."""
    _owned(request, principal, webhook_id)
    return _webhooks(request)


@router.post(
    "",
    status_code=201,
    response_model=NewWebhook,
    summary="Add a webhook endpoint",
    description="Register an endpoint; it receives the events committed from now on, signed with the "
    "Standard Webhooks scheme. The signing secret is in this response only. Non-admin endpoints only "
    "receive their own user's events, and may not point at a loopback, private or link-local address "
    "unless the server allows it (`private_webhook_urls`).",
    responses={
        201: example_response("NewWebhook", "The endpoint and its secret (shown once)"),
        **error_responses(*_WRITE),
    },
)
def create_webhook(request: Request, body: CreateWebhookRequest, principal: Writer) -> Response:
    arguments = scoped_arguments(body, principal, exclude="url")
    _check_target(request, principal, body.url)
    created = _webhooks(request).add(body.url, **arguments)
    audit_admin_action(request, principal, "webhook.created", f"webhook:{created.id}", user_id=created.user_id)
    return _secret_response(created, 201)


@router.get(
    "",
    response_model=list[WebhookEndpoint],
    summary="List webhook endpoints",
    description="Every endpoint this caller may see, oldest first (secrets and tokens left out).",
    responses={200: example_response("list[WebhookEndpoint]"), **error_responses(*_READ)},
)
def list_webhooks(request: Request, principal: Reader) -> Response:
    return json_response([e for e in _webhooks(request).list() if _visible(principal, e)])


@router.get(
    "/{webhook_id}",
    response_model=WebhookEndpoint,
    summary="Get a webhook endpoint",
    description="One endpoint's settings (secrets and tokens left out).",
    responses={200: example_response("WebhookEndpoint"), **error_responses(*_READ)},
)
def get_webhook(request: Request, webhook_id: WebhookId, principal: Reader) -> Response:
    return json_response(_owned(request, principal, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookEndpoint,
    summary="Change a webhook endpoint",
    description="Change the given settings; omitted ones are kept and null clears an optional one. "
    "`enabled` pauses or resumes delivery. Only admins may change `user_id`.",
    responses={200: example_response("WebhookEndpoint"), **error_responses(*_WRITE)},
)
def update_webhook(
    request: Request,
    webhook_id: WebhookId,
    body: UpdateWebhookRequest,
    principal: Writer,
) -> Response:
    webhooks = _managing(request, principal, webhook_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    enabled = changes.pop("enabled", None)
    if "user_id" in changes and not principal.is_admin:
        # Clearing it (null) would widen the endpoint to every user's events.
        changes["user_id"] = resolve_user(principal, changes["user_id"] or "")
    if changes.get("url") is not None:
        _check_target(request, principal, changes["url"])
    endpoint = webhooks.update(webhook_id, **changes) if changes else webhooks.get(webhook_id)
    if enabled is not None:
        endpoint = webhooks.enable(webhook_id) if enabled else webhooks.disable(webhook_id)
    return json_response(endpoint)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    description="Delete the endpoint and its delivery records; it receives nothing more.",
    responses={204: {"description": "Removed"}, **error_responses(*_READ)},
)
def delete_webhook(request: Request, webhook_id: WebhookId, principal: Writer) -> Response:
    endpoint = _owned(request, principal, webhook_id)
    if not _webhooks(request).remove(webhook_id):
        raise NotFoundError(webhook_id, kind="webhook")
    audit_admin_action(request, principal, "webhook.removed", f"webhook:{webhook_id}", user_id=endpoint.user_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookTestResult,
    summary="Send a test event",
    description="Send one signed `webhook.test` event to the endpoint now, once (not recorded, not "
    "retried), and answer what the receiver said.",
    responses={200: example_response("SendResult"), **error_responses(*_READ)},
)
def test_webhook(request: Request, webhook_id: WebhookId, principal: Writer) -> WebhookTestResult:
    sent = _managing(request, principal, webhook_id).test(webhook_id)
    return WebhookTestResult(
        outcome=sent.outcome.value,
        status=sent.status,
        error=sent.error,
        retry_after_s=sent.retry_after_s,
        duration_ms=sent.duration_ms,
    )


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=NewWebhook,
    summary="Rotate the signing secret",
    description="Start signing with a new secret (in this response only); the old one also signs for "
    "`keep_old_for_s` seconds so receivers can switch without dropping a delivery.",
    responses={200: example_response("NewWebhook"), **error_responses(*_WRITE)},
)
def rotate_webhook_secret(
    request: Request,
    webhook_id: WebhookId,
    body: RotateSecretRequest,
    principal: Writer,
) -> Response:
    webhooks = _managing(request, principal, webhook_id)
    rotated = webhooks.rotate_secret(webhook_id, secret=body.secret, keep_old_for_s=body.keep_old_for_s)
    return _secret_response(rotated, 200)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[Delivery],
    summary="List deliveries",
    description="The endpoint's delivery records, newest event first; `state` narrows to pending, "
    "delivered or dead (dead letters).",
    responses={200: example_response("list[Delivery]"), **error_responses(*_READ)},
)
def list_deliveries(
    request: Request,
    webhook_id: WebhookId,
    principal: Reader,
    state: Annotated[
        str | None,
        # The store checks it (its error names the field); the schema lists what it accepts.
        Query(description="pending, delivered or dead", json_schema_extra=states(enum=list(get_args(DeliveryStatus)))),
    ] = None,
    limit: Annotated[int, Query(description="records to return (1 to max_page_size)", json_schema_extra=PAGE_SIZE)] = (
        100
    ),
) -> Response:
    return json_response(_managing(request, principal, webhook_id).deliveries(webhook_id, state=state, limit=limit))


@router.post(
    "/{webhook_id}/deliveries/{event_id}/redeliver",
    response_model=Delivery,
    summary="Redeliver an event",
    description="Queue an event for this endpoint again (a dead letter, or one already delivered).",
    responses={200: example_response("Delivery"), **error_responses(*_READ)},
)
def redeliver(
    request: Request,
    webhook_id: WebhookId,
    event_id: Annotated[
        str, Path(description="the event's id", examples=["evt_0D2JQ3M5K8T9V"], json_schema_extra=EVENT_ID)
    ],
    principal: Writer,
) -> Response:
    return json_response(_managing(request, principal, webhook_id).redeliver(webhook_id, event_id))
