"""memorylink: a local-first, encrypted memory layer for AI agents.

``import memorylink`` stays light: it loads no model, web framework or adapter.
The default embedder (sentence-transformers) is imported only when a text is embedded.
"""

from memorylink._inspect import Check, StoreCheck, StoreInfo
from memorylink._version import __version__
from memorylink.async_store import AsyncMemoryStore
from memorylink.config import EventSettings, IndexSettings, Limits, SearchSettings, Settings
from memorylink.errors import (
    AuthenticationError,
    EmbedderMismatchError,
    InvalidKeyError,
    LimitExceededError,
    MemoryLinkError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RemoteError,
    SchemaVersionError,
    StoreClosedError,
    StoreCorruptedError,
    ValidationError,
    WebhookVerificationError,
)
from memorylink.events import Event, EventEmitter
from memorylink.filters import Filter
from memorylink.models import (
    BatchItemResult,
    BatchResult,
    ImportResult,
    Memory,
    MemoryVersion,
    Message,
    NewMemory,
    Page,
    SearchHit,
    SearchResult,
    StoreStats,
)
from memorylink.store import MemoryStore

__all__ = [
    "AsyncMemoryStore",
    "AuthenticationError",
    "BatchItemResult",
    "BatchResult",
    "Check",
    "EmbedderMismatchError",
    "Event",
    "EventEmitter",
    "EventSettings",
    "Filter",
    "ImportResult",
    "IndexSettings",
    "InvalidKeyError",
    "LimitExceededError",
    "Limits",
    "Memory",
    "MemoryLinkError",
    "MemoryStore",
    "MemoryVersion",
    "Message",
    "MissingDependencyError",
    "NewMemory",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RemoteError",
    "SchemaVersionError",
    "SearchHit",
    "SearchResult",
    "SearchSettings",
    "Settings",
    "StoreCheck",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreInfo",
    "StoreStats",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
]
