"""Login/register throttling with the `limits` library: Redis-backed when Redis is set,
so every API replica shares one budget; in memory otherwise."""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from chat_api import metrics
from chat_api.config import Settings

log = structlog.get_logger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                wrap_exceptions=True,
                stream_timeout=2,
                connect_timeout=2,
            )
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self.login_ip = parse(settings.login_rate_per_ip)
        self.login_user = parse(settings.login_rate_per_username)
        self.register_ip = parse(settings.register_rate_per_ip)

    async def check(self, route: str, *rules: tuple[RateLimitItem, str]) -> None:
        """Counts one hit against every rule; raises RateLimited with the longest wait."""
        wait = 0
        for item, key in rules:
            try:
                allowed = await self._limiter.hit(item, route, key)
                if not allowed:
                    stats = await self._limiter.get_window_stats(item, route, key)
                    wait = max(wait, math.ceil(stats.reset_time - time.time()), 1)
            except StorageError:
                # Failing open: a Redis outage must not lock every user out of login.
                log.warning("rate_limit_storage_unavailable", route=route)
                continue
        if wait:
            metrics.RATE_LIMITED.labels(route=route).inc()
            raise RateLimited(wait)
