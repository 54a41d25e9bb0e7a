"""Process wiring: the client WebSocket server, its handshake policy, and the drain."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import structlog
from chat_contracts.batch import BATCH_PATH
from chat_contracts.frames import CloseCode
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from ws_gateway import handlers, intake
from ws_gateway.api_client import ApiClient
from ws_gateway.auth import TokenValidator
from ws_gateway.batch_http import AiohttpPoster
from ws_gateway.broker import Broker, RedisBroker
from ws_gateway.config import Settings
from ws_gateway.context import GatewayContext
from ws_gateway.follow import FollowBroker
from ws_gateway.health import readiness_loop, start_ops_server
from ws_gateway.http import api_client
from ws_gateway.presence import MemoryPresence, PresenceTracker, RedisPresence
from ws_gateway.rooms import RoomIndex
from ws_gateway.store import StoreBatcher

log = structlog.get_logger("ws_gateway.server")
_TOKEN_PARAMS = frozenset(("token", "access_token", "jwt", "auth", "authorization", "bearer"))


def build_context(settings: Settings, client: httpx.AsyncClient) -> GatewayContext:
    index = RoomIndex()
    broker: Broker
    if settings.redis_url:
        broker = RedisBroker(
            settings.redis_url, settings.replica_id, settings.canary_interval_seconds
        )
        store: MemoryPresence = RedisPresence(
            settings.redis_url, settings.replica_id, settings.presence_ttl_seconds
        )
    else:
        broker = FollowBroker(settings.api_internal_url)
        store = MemoryPresence(settings.replica_id, settings.presence_ttl_seconds)
    presence = PresenceTracker(
        store, index, settings.presence_interval_seconds, settings.heartbeat_seconds
    )
    return GatewayContext(
        settings=settings,
        api=ApiClient(client, settings.api_url, settings.api_prefix),
        validator=TokenValidator(client, settings.api_internal_url),
        index=index,
        broker=broker,
        presence=presence,
        store=StoreBatcher(
            client,
            settings.api_internal_url,
            concurrency=settings.store_concurrency,
            queue_max=settings.store_queue_max,
            parallel_min=settings.store_parallel_min,
            poster=_batch_poster(settings),
        ),
    )


def _batch_poster(settings: Settings) -> AiohttpPoster:
    """aiohttp for the hot store route (see batch_http); httpx for every other call."""
    url = settings.api_internal_url.rstrip("/") + BATCH_PATH
    return AiohttpPoster(url, settings.api_timeout_seconds, settings.store_concurrency)


def _token_in_url(query: str) -> bool:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in _TOKEN_PARAMS or value.startswith("eyJ"):
            return True
    return False


def make_process_request(ctx: GatewayContext) -> Any:
    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != ctx.settings.gateway_path:
            return conn.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if ctx.draining:
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Draining, connect elsewhere\n")
        if not ctx.settings.origin_allowed(request.headers.get("Origin")):
            return conn.respond(HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        if _token_in_url(url.query):
            # URLs end up in proxy and browser logs: send the token as the first frame.
            return conn.respond(HTTPStatus.BAD_REQUEST, "Tokens in the URL are refused\n")
        return None

    return process_request


_tasks: set[asyncio.Task[Any]] = set()


def _spawn(coro: Any) -> None:
    task = asyncio.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def drain(ctx: GatewayContext, server: Server) -> None:
    """Unready first, refuse handshakes, let stores finish, then close sockets with 1012."""
    ctx.draining = True
    deadline = time.monotonic() + ctx.settings.drain_seconds
    log.info("drain_started", sockets=len(ctx.index.connections), inflight=ctx.inflight)
    await asyncio.sleep(min(ctx.settings.drain_delay_seconds, ctx.settings.drain_seconds))
    # From here new messages are nacked retryable: the client resends them elsewhere.
    ctx.stores_closed = True
    while ctx.inflight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # server-side wait on our own counter, bounded by deadline
    for conn in list(ctx.index.connections):
        conn.close(CloseCode.SERVICE_RESTART, "server draining, reconnect", flush=True)
    server.close(close_connections=False)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), max(deadline - time.monotonic(), 1.0))
    log.info("drain_finished", inflight=ctx.inflight)


async def run(settings: Settings) -> int:
    client = api_client(settings.api_timeout_seconds, settings.api_max_connections)
    async with client:
        ctx = build_context(settings, client)
        intake.wire(ctx, _spawn)
        await ctx.broker.start()
        await ctx.presence.start()
        ready_task = asyncio.create_task(readiness_loop(ctx, client), name="readiness")
        ops = await start_ops_server(ctx)

        async def handler(ws: ServerConnection) -> None:
            await handlers.handle(ctx, ws)

        server = await serve(
            handler,
            settings.gateway_host,
            settings.gateway_port,
            process_request=make_process_request(ctx),
            max_size=settings.max_frame_bytes,
            compression=None,  # measured: deflate costs more CPU than small JSON frames save
            ping_interval=settings.ping_interval_seconds,
            ping_timeout=settings.ping_timeout_seconds,
            close_timeout=settings.close_timeout_seconds,
        )
        log.info(
            "gateway_started",
            port=settings.gateway_port,
            ops_port=settings.gateway_ops_port,
            replica=settings.replica_id,
            redis=bool(settings.redis_url),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await drain(ctx, server)
        await ctx.store.aclose()
        ready_task.cancel()
        ops.close()
        await ops.wait_closed()
        await ctx.presence.stop()
        await ctx.broker.stop()
    return 0
