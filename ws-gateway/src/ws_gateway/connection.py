"""Per-socket state: identity, direct writes with a bounded queue behind them, rate limit, seqs.

Outgoing frames take the same path as `websockets.broadcast()` while the socket keeps up:
`protocol.send_text()` + `send_data()` straight into the transport, no task hand-off. Once a
socket falls behind (write buffer at the high-water mark, or frames already queued) frames go
to its queue and one writer task awaits `ws.send()` with backpressure; nothing overtakes a
queued frame, and a full queue closes the socket 1013 as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ws_gateway.auth import Identity
from ws_gateway.metrics import FRAMES_QUEUED, frames_out
from ws_gateway.protocol import CloseCode, encode

log = structlog.get_logger("ws_gateway.connection")
_ids = itertools.count(1)
MISSING_MAX = 1000  # how many not-yet-seen seqs below the high mark a socket remembers


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class RoomState:
    """What this socket has seen of one room, so every message.created goes out exactly once.

    The API may publish seq 6 before seq 5 (two workers committing concurrently), so a
    plain high-water mark would drop 5: seqs skipped below `high` stay in `missing`.
    """

    high: int = 0
    missing: set[int] = field(default_factory=set)
    # While join/resume replays from the API, live events wait here (then are deduped).
    buffer: list[tuple[int, bool, bytes, str]] | None = field(default_factory=list)

    def accept(self, seq: int) -> bool:
        if seq > self.high:
            if seq - self.high <= MISSING_MAX:
                self.missing.update(range(self.high + 1, seq))
            if len(self.missing) > MISSING_MAX:
                self.missing = {s for s in self.missing if s > seq - MISSING_MAX}
            self.high = seq
            return True
        if seq in self.missing:
            self.missing.discard(seq)
            return True
        return False

    def start(self, high: int) -> None:
        """Known history ends at `high` (from the API): later seqs are new."""
        self.high = max(self.high, high)
        self.missing = set()


class Connection:
    def __init__(self, ws: ServerConnection, *, queue_max: int, rate: float, burst: float) -> None:
        self.ws = ws
        self.id = next(_ids)
        self.identity: Identity | None = None
        self.token = ""
        self.rooms: dict[int, RoomState] = {}
        self.bucket = TokenBucket(rate, burst)
        self.violations = 0
        self.typing_at: dict[int, float] = {}
        self.closing = False
        self.reauth_deadline: float | None = None
        self._queue: asyncio.Queue[bytes | tuple[int, str]] = asyncio.Queue(queue_max)
        # Frames put in the queue and not yet written by the writer task (including the one
        # it may be awaiting ws.send() for): while non-zero a direct write would overtake.
        self._backlog = 0
        self._protocol = ws.protocol
        # Direct writes stop at websockets' own write limit, where ws.send() would start to
        # wait for the transport to drain: past it the socket is slow and the queue decides.
        self._high_water = ws.write_limit_high
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer-{self.id}")
        self._closer: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> int:
        return self.identity.user_id if self.identity else 0

    def send(self, frame: dict[str, Any]) -> None:
        self.send_bytes(encode(frame), str(frame.get("type", "?")))

    def send_bytes(self, data: bytes, type_label: str) -> None:
        """Send one frame now if the socket keeps up, else queue it; counted per frame."""
        if self.push(data):
            frames_out(type_label).inc()

    def push(self, data: bytes) -> bool:
        """Write directly or queue, never wait; False when not sent (closing or slow consumer).

        Fan-out calls this per socket and bumps the frame counter once for all of them.
        """
        if self.closing:
            return False
        ws = self.ws
        if (
            self._backlog == 0
            and self._protocol.state is State.OPEN
            and ws.send_in_progress is None
            and ws.transport.get_write_buffer_size() < self._high_water
        ):
            try:
                self._protocol.send_text(data)
                ws.send_data()
            except Exception as exc:
                # As in broadcast(): the transport is failing and connection_lost() will end
                # this socket's handler; the client resumes from its last seq.
                log.info("direct_write_failed", conn=self.id, error=repr(exc))
                return False
            return True
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            log.info("slow_consumer", conn=self.id, user_id=self.user_id)
            self.close(CloseCode.TRY_AGAIN_LATER, "slow consumer")
            return False
        self._backlog += 1
        FRAMES_QUEUED.inc()
        return True

    def deliver(self, room_id: int, seq: int, created: bool, data: bytes, label: str) -> bool:
        """An event for a room: dedupe message.created by seq; buffer while replaying.

        True when the frame went out (or into the queue) now; the caller counts it.
        """
        state = self.rooms.get(room_id)
        if state is None:
            return False
        if state.buffer is not None:
            state.buffer.append((seq, created, data, label))
            return False
        if created and not state.accept(seq):
            return False
        return self.push(data)

    def finish_replay(self, room_id: int) -> None:
        state = self.rooms.get(room_id)
        if state is None or state.buffer is None:
            return
        pending, state.buffer = state.buffer, None
        for seq, created, data, label in pending:
            if not created or state.accept(seq):
                self.send_bytes(data, label)

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close soon; with flush, frames already queued (acks, errors) are written first."""
        if self.closing:
            return
        self.closing = True
        if flush:
            try:
                self._queue.put_nowait((code, reason))
                return
            except asyncio.QueueFull:
                pass
        self._closer = asyncio.create_task(self._hard_close(code, reason), name=f"close-{self.id}")

    async def _hard_close(self, code: int, reason: str) -> None:
        self._writer.cancel()
        await self.ws.close(code, reason)

    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, tuple):
                    await self.ws.close(*item)
                    return
                await self.ws.send(item, text=True)
                self._backlog -= 1
        except ConnectionClosed:
            return

    async def finish(self, timeout: float) -> None:
        """Let a requested close complete (so the handler does not end with 1000), then stop."""
        pending = [t for t in (self._writer, self._closer) if t is not None]
        if self.closing:
            await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task
