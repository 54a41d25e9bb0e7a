"""Ops server on GATEWAY_OPS_PORT: /healthz, /readyz, /metrics (never routed by the ingress).

Readiness = not draining, Redis path healthy (subscribed and the canary returns), API
reachable. It is computed by a background task so probes stay cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from http import HTTPStatus

import httpx
import orjson
import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ws_gateway import metrics
from ws_gateway.context import GatewayContext

log = structlog.get_logger("ws_gateway.health")


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def _json(status: HTTPStatus, payload: dict[str, object]) -> Response:
    return _response(status, orjson.dumps(payload), "application/json")


def readiness(ctx: GatewayContext) -> tuple[bool, dict[str, object]]:
    checks: dict[str, object] = {
        "draining": ctx.draining,
        "broker": ctx.broker.status(),
        "api": ctx.api_reachable,
    }
    ready = not ctx.draining and ctx.broker.healthy and ctx.api_reachable
    return ready, checks


def make_ops_handler(ctx: GatewayContext) -> Callable[[ServerConnection, Request], Response]:
    def process_request(_conn: ServerConnection, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return _json(HTTPStatus.OK, {"status": "ok", "replica": ctx.settings.replica_id})
        if path == "/readyz":
            ready, checks = readiness(ctx)
            status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            body: dict[str, object] = {"status": "ready" if ready else "not ready", **checks}
            return _json(status, body)
        if path == "/metrics":
            data, content_type = metrics.render()
            return _response(HTTPStatus.OK, data, content_type)
        return _json(HTTPStatus.NOT_FOUND, {"detail": "not found"})

    return process_request


async def _never(_ws: ServerConnection) -> None:
    return None  # every request is answered by process_request


async def start_ops_server(ctx: GatewayContext) -> Server:
    s = ctx.settings
    return await serve(
        _never, s.gateway_ops_host, s.gateway_ops_port, process_request=make_ops_handler(ctx)
    )


async def readiness_loop(ctx: GatewayContext, client: httpx.AsyncClient) -> None:
    """Poll the API's /healthz on the internal port; Redis health comes from the canary."""
    url = ctx.settings.api_internal_url.rstrip("/") + "/healthz"
    while True:
        reachable = False
        with contextlib.suppress(httpx.HTTPError):
            reachable = (await client.get(url, timeout=2.0)).status_code == 200
        if reachable != ctx.api_reachable:
            log.info("api_reachability", reachable=reachable)
        ctx.api_reachable = reachable
        await asyncio.sleep(ctx.settings.readiness_interval_seconds)
