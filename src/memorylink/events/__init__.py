"""Events: what the store emits on every change, how to listen, and webhook delivery."""

from memorylink.events.base import EventSink
from memorylink.events.context import request_id
from memorylink.events.emitter import EventCallback, EventEmitter, RecordingSink, Subscription
from memorylink.events.event_filter import EventFilter
from memorylink.events.feed import EventFeed
from memorylink.events.models import EVENT_TYPES, Event
from memorylink.events.retry import RetryPolicy
from memorylink.events.sender import SendResult
from memorylink.events.signing import generate_secret, verify
from memorylink.events.webhook_manager import WebhookManager
from memorylink.events.webhooks import Delivery, NewWebhook, WebhookEndpoint

__all__ = [
    "EVENT_TYPES",
    "Delivery",
    "Event",
    "EventCallback",
    "EventEmitter",
    "EventFeed",
    "EventFilter",
    "EventSink",
    "NewWebhook",
    "RecordingSink",
    "RetryPolicy",
    "SendResult",
    "Subscription",
    "WebhookEndpoint",
    "WebhookManager",
    "generate_secret",
    "request_id",
    "verify",
]
