"""The remote client: a memorylink server used like the local store.

``RemoteStore(base_url, api_key=...)`` has :class:`~memorylink.MemoryStore`'s methods,
arguments and return models, and ``AsyncRemoteStore`` those of
:class:`~memorylink.AsyncMemoryStore`, so agent code moves between an embedded store and
a shared server by changing one constructor. See docs/client.md.

``import memorylink`` does not import this package (nor httpx); importing it does.
"""

from memorylink.client._async import AsyncRemoteStore, AsyncRemoteWebhooks
from memorylink.client._events import (
    AsyncEventSocket,
    AsyncRemoteEventFeed,
    AsyncRemoteEvents,
    EventSocket,
    Reconnect,
    RemoteEventFeed,
    RemoteEvents,
    SocketEvent,
)
from memorylink.client._retry import Retries
from memorylink.client._sync import RemoteStore, RemoteWebhooks

__all__ = [
    "AsyncEventSocket",
    "AsyncRemoteEventFeed",
    "AsyncRemoteEvents",
    "AsyncRemoteStore",
    "AsyncRemoteWebhooks",
    "EventSocket",
    "Reconnect",
    "RemoteEventFeed",
    "RemoteEvents",
    "RemoteStore",
    "RemoteWebhooks",
    "Retries",
    "SocketEvent",
]
