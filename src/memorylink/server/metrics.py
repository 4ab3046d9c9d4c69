"""``/metrics``: Prometheus text for one app (its own registry; no process-global collectors).

Series:

* ``memorylink_http_requests_total{method, route, status}``: requests answered.
* ``memorylink_http_request_duration_seconds{method, route, status}``: their latency (histogram).
* ``memorylink_memories``: memories in the store, read from ``stats()`` at scrape time.
* ``memorylink_outbox_backlog``: event deliveries still owed to enabled webhook endpoints.
* ``memorylink_store_up``: 1 while the store answers ``stats()``, else 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from memorylink.errors import MemoryLinkError
from memorylink.server._openapi import error_responses
from memorylink.server.principal import requires

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["ServerMetrics", "metrics_router"]

logger = logging.getLogger(__name__)

# Seconds; from a cached get (~1 ms) to a cold model load.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StoreCollector(Collector):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("memorylink_store_up", "1 while the store answers stats(), else 0")
        try:
            stats = self._store.stats()
        except MemoryLinkError as error:
            logger.warning("metrics: the store did not answer stats(): %s", error.code)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("memorylink_memories", "memories in the store", value=stats.memories)
        yield GaugeMetricFamily(
            "memorylink_outbox_backlog",
            "event deliveries still owed to enabled webhook endpoints",
            value=stats.outbox_backlog,
        )


class ServerMetrics:
    """The request counters and the store gauges of one app."""

    def __init__(self, store: MemoryStore) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "memorylink_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "memorylink_http_request_duration_seconds",
            "HTTP request latency, by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(store))

    def observe(self, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one answered request (the request-context middleware calls this)."""
        # Label values stay a bounded set: any method a client makes up counts as OTHER.
        labels = (method if method in _METHODS else "OTHER", route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(duration_s)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


def metrics_router(*, public: bool) -> APIRouter:
    """The ``/metrics`` route: admins only unless ``public``."""
    router = APIRouter(tags=["operations"])
    dependencies = [] if public else [Depends(requires("admin", "reads"))]
    statuses = () if public else (401, 403, 429)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        description="Request counts and latency histograms by route template and status, the number of "
        "memories and the webhook outbox backlog, in the Prometheus text format. Admin credentials are "
        "required unless the server runs with `metrics_public`.",
        dependencies=dependencies,
        response_class=Response,
        responses={
            200: {
                "content": {
                    "text/plain": {
                        "example": "# TYPE memorylink_memories gauge\nmemorylink_memories 42.0\n"
                        'memorylink_http_requests_total{method="GET",route="/health",status="200"} 3.0\n'
                    }
                },
                "description": "Prometheus text exposition format",
            },
            **error_responses(*statuses),
        },
    )
    def metrics(request: Request) -> Response:
        server_metrics: ServerMetrics = request.app.state.metrics
        return Response(server_metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
