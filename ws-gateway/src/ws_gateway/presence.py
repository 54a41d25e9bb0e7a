"""Per-room online users across replicas.

Redis: one sorted set per room, member "<user_id>:<replica>", score = expiry time. Each
replica re-scores its own members every TTL/3, so a crashed replica's users fall out
within one TTL. Every interval each replica diffs the online set of its local rooms
and sends one batched `presence` frame per changed room.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict

import redis.asyncio as aioredis
import structlog
from chat_contracts import server_frames as out_frames
from chat_contracts.channels import presence_key
from redis.exceptions import RedisError

from ws_gateway.metrics import REDIS_ERRORS
from ws_gateway.rooms import RoomIndex

log = structlog.get_logger("ws_gateway.presence")


class MemoryPresence:
    """Single-replica store with the same expiry semantics as the Redis one."""

    def __init__(self, replica_id: str, ttl: float) -> None:
        self.replica = replica_id
        self.ttl = ttl
        self._rooms: dict[int, dict[str, float]] = defaultdict(dict)

    def _member(self, user_id: int) -> str:
        return f"{user_id}:{self.replica}"

    async def beat(self, rooms: dict[int, set[int]]) -> None:
        exp = time.time() + self.ttl
        for room_id, users in rooms.items():
            for user_id in users:
                self._rooms[room_id][self._member(user_id)] = exp

    async def remove(self, room_id: int, user_id: int) -> None:
        self._rooms.get(room_id, {}).pop(self._member(user_id), None)

    async def online(self, room_ids: list[int]) -> dict[int, set[int]]:
        now = time.time()
        return {
            r: {int(m.split(":", 1)[0]) for m, exp in self._rooms.get(r, {}).items() if exp > now}
            for r in room_ids
        }

    async def close(self) -> None:
        return None


class RedisPresence(MemoryPresence):
    def __init__(self, url: str, replica_id: str, ttl: float) -> None:
        super().__init__(replica_id, ttl)
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0)

    async def beat(self, rooms: dict[int, set[int]]) -> None:
        if not rooms:
            return
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for room_id, users in rooms.items():
                key = presence_key(room_id)
                if users:
                    pipe.zadd(key, {self._member(u): now + self.ttl for u in users})
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.expire(key, int(self.ttl * 2) + 1)
            await pipe.execute()

    async def remove(self, room_id: int, user_id: int) -> None:
        await self._redis.zrem(presence_key(room_id), self._member(user_id))

    async def online(self, room_ids: list[int]) -> dict[int, set[int]]:
        if not room_ids:
            return {}
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for room_id in room_ids:
                pipe.zrangebyscore(presence_key(room_id), now, "+inf")
            results = await pipe.execute()
        return {
            room_id: {int(m.split(b":", 1)[0]) for m in members}
            for room_id, members in zip(room_ids, results, strict=True)
        }

    async def close(self) -> None:
        await self._redis.aclose()


class PresenceTracker:
    def __init__(self, store: MemoryPresence, index: RoomIndex, interval: float, beat: float):
        self.store = store
        self.index = index
        self.interval = interval
        self.beat_every = beat
        self._last: dict[int, set[int]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="presence")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.store.close()

    async def joined(self, room_id: int, user_id: int) -> None:
        """Mark online now, so a presence query right after `joined` includes the user."""
        try:
            await self.store.beat({room_id: {user_id}})
        except (RedisError, OSError):
            REDIS_ERRORS.inc()

    async def left(self, room_id: int, user_id: int) -> None:
        if user_id in self.index.room_users(room_id):
            return  # another local socket of the user is still in the room
        try:
            await self.store.remove(room_id, user_id)
        except (RedisError, OSError):
            REDIS_ERRORS.inc()

    async def online(self, room_id: int) -> list[int]:
        try:
            return sorted((await self.store.online([room_id]))[room_id])
        except (RedisError, OSError):
            REDIS_ERRORS.inc()
            return sorted(self.index.room_users(room_id))

    async def _loop(self) -> None:
        last_beat = 0.0
        while True:
            await asyncio.sleep(self.interval)
            try:
                local = {r: self.index.room_users(r) for r in list(self.index.rooms)}
                if time.monotonic() - last_beat >= self.beat_every:
                    await self.store.beat(local)
                    last_beat = time.monotonic()
                self._diff(await self.store.online(list(local)))
            except (RedisError, OSError) as exc:
                REDIS_ERRORS.inc()
                log.warning("presence_error", error=type(exc).__name__)

    def _diff(self, current: dict[int, set[int]]) -> None:
        self._last = {r: u for r, u in self._last.items() if r in current}
        for room_id, online in current.items():
            before = self._last.get(room_id)
            self._last[room_id] = online
            if before == online:
                continue
            # A room new to this replica gets a full snapshot (everything "joined").
            before = before if before is not None else set()
            self.index.broadcast(
                room_id,
                out_frames.presence_change(room_id, online, before),
            )
