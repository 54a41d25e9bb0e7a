"""Event intake. Redis: one subscriber task per replica (psubscribe chat:room:* and
chat:user:*, typing, own canary) that reconnects and resubscribes by itself. Broker itself is the
in-process base (typing loops back); without Redis the server uses follow.FollowBroker.

The gateway never publishes message events to Redis: the API does after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from chat_contracts.channels import ROOM_CHANNEL_PATTERN, USER_CHANNEL_PATTERN, probe_channel
from chat_contracts.events import (
    Envelope,
    EventType,
    MessageData,
    decode_envelope,
    message_event,
)
from redis.exceptions import RedisError

from ws_gateway.metrics import CANARY_FAILURES, PUBSUB_ROUNDTRIP_SECONDS, REDIS_ERRORS

log = structlog.get_logger("ws_gateway.broker")
# Typing indicators are gateway-to-gateway only, so the channel lives here, not in contracts.
TYPING_CHANNEL = "chat:typing"


class Handlers:
    """What the gateway does with what arrives. Set by the server before start()."""

    def __init__(self) -> None:
        self.on_event: Callable[[Envelope], None] = lambda _e: None
        self.on_user_event: Callable[[Envelope], None] = lambda _e: None
        self.on_typing: Callable[[dict[str, Any]], None] = lambda _t: None
        self.on_resync: Callable[[], None] = lambda: None


class Broker:
    """In-process broker: single replica, everything loops back directly."""

    def __init__(self) -> None:
        self.handlers = Handlers()

    @property
    def healthy(self) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return {"mode": "in-process", "healthy": True}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def local_echo(self, event_type: EventType, message: MessageData) -> None:
        """Without Redis nobody else publishes what this gateway stored: deliver it here."""
        self.handlers.on_event(message_event(event_type, message))

    def dispatch(self, env: Envelope) -> None:
        """A room or user event from the feed, to its handler (probes are the feed's own)."""
        if env.user_id is not None:
            self.handlers.on_user_event(env)
        elif env.room_id is not None:
            self.handlers.on_event(env)

    async def publish_typing(self, payload: dict[str, Any]) -> None:
        self.handlers.on_typing(payload)


class RedisBroker(Broker):
    def __init__(self, url: str, replica_id: str, canary_interval: float) -> None:
        super().__init__()
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_keepalive=True, health_check_interval=10
        )
        self._replica = replica_id
        self._probe_channel = probe_channel(replica_id)
        self._interval = canary_interval
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = False
        self._subscribed_once = False
        self._pending: dict[str, float] = {}
        self._last_probe_ok = 0.0
        self.last_roundtrip: float | None = None

    @property
    def healthy(self) -> bool:
        fresh = time.monotonic() - self._last_probe_ok < 3 * self._interval + 1.0
        return self.connected and fresh

    def status(self) -> dict[str, Any]:
        return {
            "mode": "redis",
            "healthy": self.healthy,
            "subscribed": self.connected,
            "last_roundtrip_seconds": self.last_roundtrip,
        }

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscribe_loop(), name="redis-subscriber"),
            asyncio.create_task(self._canary_loop(), name="redis-canary"),
        ]

    async def stop(self) -> None:
        # redis-py can swallow a cancellation that lands mid-(re)connect (SIGTERM right after
        # start-up), so one cancel() is not enough: cancel again until the tasks are done.
        pending = [task for task in self._tasks if not task.done()]
        for _ in range(10):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, still = await asyncio.wait(pending, timeout=1.0)
            pending = list(still)
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a crash here must not warn at exit
        await self._redis.aclose()

    def local_echo(self, event_type: EventType, message: MessageData) -> None:
        # The API's publish comes back through the subscriber; no envelope is built here
        # (one model_dump + validation per message for nothing).
        return None

    async def publish_typing(self, payload: dict[str, Any]) -> None:
        try:
            await self._redis.publish(TYPING_CHANNEL, orjson.dumps(payload))
        except (RedisError, OSError):
            REDIS_ERRORS.inc()

    async def _subscribe_loop(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(ROOM_CHANNEL_PATTERN, USER_CHANNEL_PATTERN)
                await pubsub.subscribe(TYPING_CHANNEL, self._probe_channel)
                self.connected = True
                backoff = 0.1
                log.info("redis_subscribed", resync=self._subscribed_once)
                if self._subscribed_once:
                    # Events published while we were away are in the API: catch sockets up.
                    self.handlers.on_resync()
                self._subscribed_once = True
                async for msg in pubsub.listen():
                    self._dispatch(msg)
            except (RedisError, OSError) as exc:
                REDIS_ERRORS.inc()
                if self.connected:
                    log.warning("redis_subscription_lost", error=type(exc).__name__)
                self.connected = False
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            # Full jitter so every replica does not hammer a restarting Redis at once.
            await asyncio.sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, 2.0)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
        data = msg["data"]
        try:
            if channel == TYPING_CHANNEL:
                self.handlers.on_typing(orjson.loads(data))
                return
            env = decode_envelope(data)
        except ValueError:
            log.warning("bad_pubsub_payload", channel=channel)
            return
        if env.type is EventType.PROBE:
            self._probe_returned(str(env.data.get("nonce", "")))
        else:
            self.dispatch(env)

    def _probe_returned(self, nonce: str) -> None:
        sent = self._pending.pop(nonce, None)
        if sent is None:
            return
        now = time.monotonic()
        self.last_roundtrip = now - sent
        self._last_probe_ok = now
        PUBSUB_ROUNDTRIP_SECONDS.observe(self.last_roundtrip)

    async def _canary_loop(self) -> None:
        while True:
            if self._pending:
                # The previous probe never came back: the message path is broken.
                CANARY_FAILURES.inc(len(self._pending))
                self._pending.clear()
            nonce = uuid.uuid4().hex
            env = Envelope(type=EventType.PROBE, data={"replica": self._replica, "nonce": nonce})
            self._pending[nonce] = time.monotonic()
            try:
                await self._redis.publish(
                    self._probe_channel, orjson.dumps(env.model_dump(mode="json"))
                )
            except (RedisError, OSError):
                REDIS_ERRORS.inc()
            await asyncio.sleep(self._interval)
