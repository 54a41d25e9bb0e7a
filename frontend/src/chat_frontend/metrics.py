"""Prometheus metrics: request count and latency by route template (low cardinality)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "chat_frontend_http_requests_total",
    "HTTP requests served by the frontend",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "chat_frontend_http_request_duration_seconds",
    "Time to serve a frontend HTTP request",
    ["route"],
    registry=REGISTRY,
)


def render_metrics() -> bytes:
    return generate_latest(REGISTRY)


def _route_label(app: ASGIApp, scope: Scope) -> str:
    # The route template, never the raw path: unknown paths collapse into one label.
    for route in getattr(app, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other")) or "other"
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, router_app: ASGIApp | None = None) -> None:
        self.app = app
        self.router_app = router_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route_label(self.router_app or self.app, scope)
        status = 500
        start = time.perf_counter()

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            HTTP_LATENCY.labels(route).observe(time.perf_counter() - start)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
