"""No Redis: the gateway follows the API's own event stream (internal port,
`GET /events/stream`, see chat_api/hub.py), so what is committed over REST (a bot's
message, an edit, a logout) reaches this gateway's sockets live, as with Redis.

One long GET, reconnected with jittered backoff. It resumes from the last position seen,
so a blip loses nothing; when the API cannot serve that (it restarted, or we fell behind
its buffer) it says `resync` and sockets catch up from the API, as after a Redis outage.
Typing stays in-process: without Redis there is one gateway replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import httpx
import orjson
import structlog
from chat_contracts.events import (
    EVENTS_STREAM_PATH,
    Envelope,
    EventType,
    MessageData,
)
from pydantic import ValidationError

from ws_gateway.broker import Broker
from ws_gateway.metrics import EVENT_STREAM_ERRORS

log = structlog.get_logger("ws_gateway.follow")
# The API sends a heartbeat every 2 s (hub.HEARTBEAT_SECONDS); three missed = dead stream.
SILENCE_SECONDS = 6.0


class FollowBroker(Broker):
    def __init__(self, internal_url: str) -> None:
        super().__init__()
        self._url = internal_url.rstrip("/") + EVENTS_STREAM_PATH
        timeout = httpx.Timeout(5.0, read=SILENCE_SECONDS)
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._task: asyncio.Task[None] | None = None
        self._hub: str | None = None
        self._n: int | None = None
        self._last_line = 0.0
        # The API publishes to Redis (it has REDIS_URL, this gateway not): deliver locally.
        self._fallback = False
        self.connected = False

    @property
    def healthy(self) -> bool:
        fresh = time.monotonic() - self._last_line < SILENCE_SECONDS
        return self._fallback or (self.connected and fresh)

    def status(self) -> dict[str, Any]:
        mode = "in-process" if self._fallback else "follow"
        return {"mode": mode, "healthy": self.healthy, "following": self.connected}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="api-event-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    def local_echo(self, event_type: EventType, message: MessageData) -> None:
        # The API's stream brings it back, like Redis; only the fallback delivers here.
        if self._fallback:
            super().local_echo(event_type, message)

    async def _loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._follow()
                backoff = 0.1
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                # A broken or off-contract stream: reconnect from the last position.
                EVENT_STREAM_ERRORS.inc()
                if self.connected:
                    log.warning("event_stream_lost", error=type(exc).__name__)
            finally:
                self.connected = False
            pause = 10.0 if self._fallback else random.uniform(0, backoff)
            await asyncio.sleep(pause)
            backoff = min(backoff * 2, 2.0)

    async def _follow(self) -> None:
        params = {} if self._n is None else {"after": self._n, "hub": self._hub}
        async with self._client.stream("GET", self._url, params=params) as resp:
            if resp.status_code == 404:
                if not self._fallback:
                    log.warning("event_stream_absent", detail="API publishes to Redis")
                self._fallback = True
                return
            resp.raise_for_status()
            self._fallback = False
            async for line in resp.aiter_lines():
                if line:
                    self._on_line(orjson.loads(line))

    def _on_line(self, line: dict[str, Any]) -> None:
        self._last_line = time.monotonic()
        if "hub" in line:
            first = self._hub is None
            self._hub, self._n, self.connected = str(line["hub"]), int(line["n"]), True
            log.info("event_stream_following", resync=bool(line.get("resync")))
            if line.get("resync") and not first:
                self.handlers.on_resync()  # events went by unseen: catch sockets up
            return
        self._n = int(line["n"])
        if "event" in line:
            self._dispatch(line["event"])

    def _dispatch(self, raw: dict[str, Any]) -> None:
        try:
            env = Envelope.model_validate(raw)
            if env.type is not EventType.PROBE:
                self.dispatch(env)
        except ValidationError:
            log.warning("bad_stream_event", type=str(raw.get("type"))[:40])
