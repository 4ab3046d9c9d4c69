"""Events: what the store emits on every change, and how to listen."""

from memorylink.events.base import EventSink
from memorylink.events.emitter import EventCallback, EventEmitter, RecordingSink, Subscription
from memorylink.events.models import EVENT_TYPES, Event

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventCallback",
    "EventEmitter",
    "EventSink",
    "RecordingSink",
    "Subscription",
]
