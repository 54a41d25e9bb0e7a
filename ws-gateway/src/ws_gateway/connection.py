"""Per-socket state: identity, direct writes with a bounded queue behind them, rate limit, seqs.

Server frames are unmasked and no extension is negotiated (`compression=None`), so the wire
bytes of one frame are the same for every socket: `text_frame()` serializes them once with
websockets' own `Frame.serialize()`, and every socket that keeps up gets a bare
`transport.write()` of those bytes. That is all `protocol.send_text()` + `send_data()` would
do for it: send_text checks the state, refuses during a fragmented send and appends the
serialized frame to the protocol's write list, which send_data() flushes straight away; it
records nothing else, so skipping it leaves the protocol object consistent.

Once a socket falls behind (write buffer at websockets' write limit, or frames already
queued) frames go to its queue and one writer task awaits `ws.send()` with backpressure;
nothing overtakes a queued frame, and a full queue closes the socket 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from chat_contracts.frames import CloseCode, encode
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from ws_gateway.auth import Identity
from ws_gateway.metrics import FRAMES_QUEUED, SLOW_CONSUMERS, frames_out

log = structlog.get_logger("ws_gateway.connection")
_ids = itertools.count(1)
MISSING_MAX = 1000  # how many not-yet-seen seqs below the high mark a socket remembers
_OPEN = State.OPEN


def text_frame(payload: bytes) -> bytes:
    """The bytes websockets writes for `payload` as one final, unmasked, uncompressed text frame."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.was_full = True  # before the last take(): the client had been calm a whole burst

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.was_full = self.tokens >= self.burst
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class StreamState:
    """What this socket has seen of one event stream (a room's, or its user's), by event
    seq, so every event goes out once.

    The API may publish event 6 before event 5 (two workers committing concurrently), so a
    plain high-water mark would drop 5: seqs skipped below `high` stay in `missing`.
    """

    high: int = 0
    missing: set[int] = field(default_factory=set)
    # While join/resume replays from the API, live events wait here (then are deduped).
    buffer: list[tuple[int, bytes, str]] | None = field(default_factory=list)

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

    @property
    def floor(self) -> int:
        """The seq after which a catch-up must replay: below the oldest one still missing."""
        return min(self.missing) - 1 if self.missing else self.high

    def restart_at(self, after: int) -> None:
        """A replay from `after` follows: every later seq is to be sent (again, if the socket
        had it already: clients apply events idempotently)."""
        self.high = after
        self.missing = set()

    def start(self, high: int) -> None:
        """The socket holds the stream's state as of `high` (the API's head at a join, or
        at the end of a replay): later seqs are new, earlier ones are in that state."""
        self.high = max(self.high, high)
        self.missing = set()


class Connection:
    def __init__(self, ws: ServerConnection, *, queue_max: int, rate: float, burst: float) -> None:
        self.ws = ws
        self.id = next(_ids)
        self.identity: Identity | None = None
        self.token = ""
        self.rooms: dict[int, StreamState] = {}
        self.user_stream = StreamState(buffer=None)
        self.bucket = TokenBucket(rate, burst)
        self.violations = 0
        self.typing_at: dict[int, float] = {}
        self.closing = False
        self.reauth_deadline: float | None = None
        # Rooms whose last join/resume failed only because the API could not answer
        # (retryable): the client asks again, so its messages there are retryable too.
        self.rejoining: set[int] = set()
        self._queue: asyncio.Queue[bytes | tuple[int, str]] = asyncio.Queue(queue_max)
        # Frames put in the queue and not yet written by the writer task (including the one
        # it may be awaiting ws.send() for): while non-zero a direct write would overtake.
        self.backlog = 0
        self.protocol = ws.protocol
        self.transport = ws.transport
        # Extensions are settled by the handshake, before this object exists. With one
        # (e.g. permessage-deflate) the shared bytes are wrong for this socket: every frame
        # then goes through protocol.send_text(). Cleared for good once closing.
        self.direct = not ws.protocol.extensions
        # Direct writes stop at websockets' own write limit, where ws.send() would start to
        # wait for the transport to drain: past it the socket is slow and the queue decides.
        self.high_water = ws.write_limit_high
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

    def push(self, data: bytes, wire: bytes | None = None) -> bool:
        """Write directly or queue, never wait; False when not sent (closing or slow consumer).

        `wire` is `text_frame(data)` when the caller has it already (fan-out). Fan-out calls
        this only for sockets its own inline checks did not write to.
        """
        if self.closing or self.protocol.state is not _OPEN:
            # A closing handshake is under way: no data frame may follow the close frame.
            return False
        if (
            self.backlog == 0
            and self.ws.send_in_progress is None
            and self.transport.get_write_buffer_size() < self.high_water
        ):
            try:
                if self.direct:
                    self.transport.write(text_frame(data) if wire is None else wire)
                else:
                    self.protocol.send_text(data)
                    self.ws.send_data()
            except Exception as exc:
                self.write_failed(exc)
                return False
            return True
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            log.info("slow_consumer", conn=self.id, user_id=self.user_id)
            SLOW_CONSUMERS.inc()
            self.close(CloseCode.TRY_AGAIN_LATER, "slow consumer")
            return False
        self.backlog += 1
        FRAMES_QUEUED.inc()
        return True

    def write_failed(self, exc: Exception) -> None:
        # As in broadcast(): the transport is failing and connection_lost() will end this
        # socket's handler; the client resumes from its last seq.
        log.info("direct_write_failed", conn=self.id, error=repr(exc))

    def finish_replay(self, room_id: int | None) -> None:
        """Flush what arrived live during a room's replay (None: the user stream's)."""
        state = self.user_stream if room_id is None else self.rooms.get(room_id)
        if state is None or state.buffer is None:
            return
        pending, state.buffer = state.buffer, None
        for seq, data, label in pending:
            if state.accept(seq):
                self.send_bytes(data, label)

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close soon; with flush, frames already queued (acks, errors) are written first."""
        if self.closing:
            return
        self.closing = True
        self.direct = False
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
                self.backlog -= 1
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


def fan_out(
    members: Iterable[tuple[Connection, StreamState]],
    seq: int,
    data: bytes,
    label: str,
) -> int:
    """One event to every socket (paired with its state for that stream): deduped per
    socket by event seq, buffered while a replay runs, written as one shared frame where
    the socket keeps up. Returns the frames sent (or queued) so the caller counts them once."""
    wire = text_frame(data)
    sent = 0
    for conn, state in members:
        if state.buffer is not None:
            state.buffer.append((seq, data, label))
            continue
        if seq == state.high + 1:
            state.high = seq  # the next seq in order: what accept() would do, inline
        elif not state.accept(seq):
            continue
        # The checks of push(), inlined: this loop runs once per socket per event.
        transport = conn.transport
        if (
            conn.direct
            and conn.backlog == 0
            and conn.protocol.state is _OPEN
            and conn.ws.send_in_progress is None
            and transport.get_write_buffer_size() < conn.high_water
        ):
            try:
                transport.write(wire)
            except Exception as exc:
                conn.write_failed(exc)
                continue
            sent += 1
        else:
            sent += conn.push(data, wire)
    return sent


def fan_out_frame(members: Iterable[Connection], data: bytes, skip: int | None = None) -> int:
    """An ephemeral frame (typing, presence) to every socket but `skip`; no seq, no buffering."""
    wire = text_frame(data)
    return sum(conn.push(data, wire) for conn in members if conn.id != skip)
