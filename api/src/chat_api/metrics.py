"""Prometheus metrics. Labels stay low-cardinality: route templates, never ids."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("chat_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "chat_api_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MESSAGES_STORED = Counter("chat_api_messages_stored_total", "Messages committed")
EVENTS_PUBLISHED = Counter("chat_api_events_published_total", "Events sent to Redis", ["type"])
REDIS_PUBLISH_ERRORS = Counter("chat_api_redis_publish_errors_total", "Failed Redis publishes")
RATE_LIMITED = Counter("chat_api_rate_limited_total", "Requests refused with 429", ["route"])
DB_POOL_CHECKED_OUT = Gauge("chat_api_db_pool_checked_out", "DB connections in use")
DB_POOL_SIZE = Gauge("chat_api_db_pool_size", "DB pool size")


class MetricsMiddleware:
    """Counts and times every request by method and route template (never the raw path)."""

    def __init__(self, app: ASGIApp, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = self._label(scope)
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
            REQUESTS.labels(scope["method"], route, str(status)).inc()

    def _label(self, scope: Scope) -> str:
        # FastAPI keeps an included router's routes relative to their prefix, so the
        # prefix is put back here to tell /api/healthz from the root /healthz.
        path = getattr(scope.get("route"), "path", None)
        if not isinstance(path, str):
            return "unmatched"
        if (
            self.prefix
            and scope["path"].startswith(self.prefix + "/")
            and not path.startswith(self.prefix + "/")
        ):
            return self.prefix + path
        return path
