"""The embedded default's broker. Without REDIS_URL nothing fans events out, so gateways
follow this process's events over the internal port (`GET /events/stream`, NDJSON): what
the API commits, REST-made changes and revocations included, reaches open sockets live.

Each event gets a position `n` in this process; the last BUFFER_MAX are kept, so a
follower that reconnects with `?after=n&hub=<id>` misses nothing. When it cannot be
served gap-free (another process since, or it fell further behind than the buffer), its
first line says `resync` and the gateway catches its sockets up from the API instead.

Lines: `{"hub","n","resync"}` first, `{"n","event"}` per event, `{"n"}` as a heartbeat
every HEARTBEAT_SECONDS, so a follower can tell a quiet API from a dead stream.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence

import orjson
from chat_contracts.events import Envelope, encode_envelope

from chat_api import metrics

HEARTBEAT_SECONDS = 2.0
BUFFER_MAX = 10_000


class LocalHub:
    def __init__(self, buffer_max: int = BUFFER_MAX) -> None:
        self.hub_id = uuid.uuid4().hex
        self._buf: deque[tuple[int, bytes]] = deque(maxlen=buffer_max)
        self._head = 0
        self._wake = asyncio.Event()
        self._closed = False

    async def publish(self, channel: str, envelope: Envelope) -> bool:
        return await self.publish_many([(channel, envelope)])

    async def publish_many(self, events: Sequence[tuple[str, Envelope]]) -> bool:
        for _, envelope in events:
            self._head += 1
            self._buf.append((self._head, encode_envelope(envelope)))
            metrics.EVENTS_PUBLISHED.labels(type=envelope.type.value).inc()
        self._notify()
        return True

    async def ping(self) -> bool:
        return True

    def shutdown(self) -> None:
        """End every open stream (SIGTERM): uvicorn waits for open responses to finish."""
        self._closed = True
        self._notify()

    async def close(self) -> None:
        self.shutdown()

    def _notify(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    def _since(self, after: int) -> list[tuple[int, bytes]] | None:
        """The events after `after`, or None when some of them are no longer held."""
        if after > self._head:
            return None
        first = self._buf[0][0] if self._buf else self._head + 1
        if after + 1 < first and after != self._head:
            return None
        return list(itertools.islice(self._buf, max(after + 1 - first, 0), None))

    def _hello(self, resync: bool) -> bytes:
        return orjson.dumps({"hub": self.hub_id, "n": self._head, "resync": resync}) + b"\n"

    async def stream(self, after: int | None, hub: str | None) -> AsyncIterator[bytes]:
        cursor = self._head if after is None else after
        gap_free = after is None or (hub == self.hub_id and self._since(cursor) is not None)
        if not gap_free:
            cursor = self._head
        yield self._hello(resync=not gap_free)
        while not self._closed:
            batch = self._since(cursor)
            if batch is None:  # fell further behind than the buffer holds
                cursor = self._head
                yield self._hello(resync=True)
            elif batch:
                cursor = batch[-1][0]
                yield b"".join(b'{"n":%d,"event":%s}\n' % (n, raw) for n, raw in batch)
            else:
                wake = self._wake
                try:
                    await asyncio.wait_for(wake.wait(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b'{"n":%d}\n' % cursor
