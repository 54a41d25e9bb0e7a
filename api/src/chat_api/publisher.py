"""Publishes committed events to Redis so every gateway replica delivers them.

Publishing happens after the commit: a message that is stored but whose publish
failed is still delivered later through resume / gap fill, never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from chat_contracts.events import Envelope, encode_envelope
from redis.exceptions import RedisError

from chat_api import metrics
from chat_api.hub import LocalHub

log = structlog.get_logger(__name__)


class Publisher(Protocol):
    async def publish(self, channel: str, envelope: Envelope) -> bool: ...
    async def publish_many(self, events: Sequence[tuple[str, Envelope]]) -> bool: ...
    async def ping(self) -> bool: ...
    def shutdown(self) -> None: ...
    async def close(self) -> None: ...


class RedisPublisher:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=15
        )

    async def publish(self, channel: str, envelope: Envelope) -> bool:
        try:
            await self._redis.publish(channel, encode_envelope(envelope))
        except (RedisError, OSError) as exc:
            metrics.REDIS_PUBLISH_ERRORS.inc()
            log.warning("redis_publish_failed", channel=channel, error=type(exc).__name__)
            return False
        metrics.EVENTS_PUBLISHED.labels(type=envelope.type.value).inc()
        return True

    async def publish_many(self, events: Sequence[tuple[str, Envelope]]) -> bool:
        """One round trip for the lot; Redis keeps their order, so each room's seqs ascend."""
        pipe = self._redis.pipeline(transaction=False)
        for channel, envelope in events:
            pipe.publish(channel, encode_envelope(envelope))
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            metrics.REDIS_PUBLISH_ERRORS.inc()
            log.warning("redis_publish_failed", events=len(events), error=type(exc).__name__)
            return False
        for _, envelope in events:
            metrics.EVENTS_PUBLISHED.labels(type=envelope.type.value).inc()
        return True

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    def shutdown(self) -> None:
        return None

    async def close(self) -> None:
        await self._redis.aclose()


def make_publisher(redis_url: str | None) -> Publisher:
    if not redis_url:
        # One API process, gateways following it over the internal port (hub.py).
        log.info("redis_disabled", detail="REDIS_URL unset: gateways follow /events/stream")
        return LocalHub()
    return RedisPublisher(redis_url)
