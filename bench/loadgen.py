"""One load-generator process: an asyncio pool of client sockets driven by the parent.

Parent <-> worker over a Pipe: worker sends ("ready", info); parent sends ("go", t0); worker
runs the scenario and sends ("done", stats); parent sends ("stop"); worker closes and exits.
Send timestamps are CLOCK_MONOTONIC (time.monotonic), which every process on the host shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.protocols import ACK, ADAPTERS, DELIVER, ERROR, NACK, PING, Adapter

PAD = "x" * 64  # a chat-sized payload after the timestamp
CONNECT_CONCURRENCY = 25  # per worker: a ramp, not a storm (see RESULTS.md)
SETUP_ATTEMPTS = 3
SETUP_TIMEOUT = 240.0


@dataclass(frozen=True)
class SocketSpec:
    index: int
    url: str
    room: int
    token: str = ""


@dataclass(frozen=True)
class WorkerSpec:
    worker: int
    target: str
    kind: str  # fanout | persist | idle
    sockets: list[SocketSpec]
    rate: float = 0.0  # this worker's share of the offered rate
    duration: float = 0.0
    drain: float = 2.0
    window: int = 0
    senders: int = 0  # persist: the first `senders` sockets of this worker send


@dataclass
class Sock:
    spec: SocketSpec
    ws: ClientConnection | None = None
    window: asyncio.Semaphore | None = None


@dataclass
class Stats:
    delivered: int = 0
    latency_ms: array[float] = field(default_factory=lambda: array("d"))
    ack_ms: array[float] = field(default_factory=lambda: array("d"))
    sent: int = 0
    sent_per_room: dict[int, int] = field(default_factory=dict)
    acks: int = 0
    nacks: int = 0
    errors: int = 0
    send_errors: int = 0
    unexpected_closes: int = 0
    setup_failures: int = 0
    setup_retries: int = 0
    max_send_lag_ms: float = 0.0
    last_delivery: float = 0.0


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.adapter: Adapter = ADAPTERS[spec.target]()
        self.socks = [Sock(s) for s in spec.sockets]
        self.stats = Stats()
        self.pending: dict[str, float] = {}
        # The API dedupes on (sender, client_msg_id): ids must never repeat across scenarios.
        self.nonce = f"{uuid.uuid4().hex[:8]}-w{spec.worker}"
        self.stopping = False
        self.failure_sample: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _setup(self, sock: Sock, gate: asyncio.Semaphore, ready: list[int]) -> None:
        for attempt in range(SETUP_ATTEMPTS):
            async with gate:
                ws = await self._open(sock)
            if ws is not None:
                break
            # Like a real client: back off, then reconnect (counted in setup_retries).
            self.stats.setup_retries += 1
            await asyncio.sleep(0.5 * 2**attempt)
        else:
            self.stats.setup_failures += 1
            ready.append(0)
            return
        sock.ws = ws
        ready.append(1)
        await self._read(sock, ws)

    async def _open(self, sock: Sock) -> ClientConnection | None:
        ws = None
        try:
            ws = await connect(
                sock.spec.url + self.adapter.path,
                compression=None,
                open_timeout=60,
                ping_interval=None,  # servers ping; the client only answers
                close_timeout=2,
                max_size=2**20,
            )
            await asyncio.wait_for(self.adapter.handshake(ws, sock.spec.token), 60)
            await asyncio.wait_for(self.adapter.join(ws, sock.spec.room), 60)
            return ws
        except Exception as exc:  # any failure is counted and reported, never fatal
            if len(self.failure_sample) < 3:
                self.failure_sample.append(f"{type(exc).__name__}: {exc}"[:300])
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()
            return None

    async def _read(self, sock: Sock, ws: ClientConnection) -> None:
        parse, st, pending = self.adapter.parse, self.stats, self.pending
        try:
            async for raw in ws:
                kind, value = parse(raw)
                if kind == DELIVER:
                    now = time.monotonic()
                    st.delivered += 1
                    st.latency_ms.append((now - float(value[: value.index(" ")])) * 1000.0)
                    st.last_delivery = now
                elif kind == ACK or kind == NACK:
                    sent = pending.pop(value, None)
                    if kind == ACK:
                        st.acks += 1
                        if sent is not None:
                            st.ack_ms.append((time.monotonic() - sent) * 1000.0)
                    else:
                        st.nacks += 1
                    if sock.window is not None:
                        sock.window.release()
                elif kind == PING:
                    await ws.send(value)
                elif kind == ERROR:
                    st.errors += 1
        except ConnectionClosed:
            pass
        except Exception as exc:  # a frame the adapter cannot read: count it, keep the pool
            st.errors += 1
            if len(self.failure_sample) < 3:
                self.failure_sample.append(f"reader: {type(exc).__name__}: {exc}"[:300])
        if not self.stopping:
            st.unexpected_closes += 1

    async def _send(self, sock: Sock, cmid: str) -> None:
        assert sock.ws is not None
        room = sock.spec.room
        content = f"{time.monotonic():.6f} {PAD}"
        frame = self.adapter.message(room, content, cmid)
        self.pending[cmid] = time.monotonic()
        try:
            await sock.ws.send(frame)
        except ConnectionClosed:
            self.stats.send_errors += 1
            self.pending.pop(cmid, None)
            return
        self.stats.sent += 1
        self.stats.sent_per_room[room] = self.stats.sent_per_room.get(room, 0) + 1

    async def _open_loop(self, t0: float, end: float) -> None:
        live = [s for s in self.socks if s.ws is not None]
        if not live or self.spec.rate <= 0:
            return
        interval, k = 1.0 / self.spec.rate, 0
        while (due := t0 + k * interval) < end:
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                self.stats.max_send_lag_ms = max(self.stats.max_send_lag_ms, (now - due) * 1e3)
            await self._send(live[k % len(live)], f"{self.nonce}-{k}")
            k += 1

    async def _closed_loop(self, sock: Sock, end: float) -> None:
        sock.window = asyncio.Semaphore(self.spec.window)
        k = 0
        while (left := end - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(sock.window.acquire(), left)
            except TimeoutError:
                return
            await self._send(sock, f"{self.nonce}-s{sock.spec.index}-{k}")
            k += 1

    async def _drain(self) -> None:
        """Keep receiving: until every ack is in (persist) or for the drain period."""
        deadline = time.monotonic() + self.spec.drain
        while time.monotonic() < deadline:
            if self.spec.kind == "persist" and not self.pending:
                return
            await asyncio.sleep(0.05)

    async def run(self, pipe: Connection) -> None:
        gate, ready = asyncio.Semaphore(CONNECT_CONCURRENCY), list[int]()
        self._tasks = [asyncio.create_task(self._setup(s, gate, ready)) for s in self.socks]
        deadline = time.monotonic() + SETUP_TIMEOUT
        while len(ready) < len(self.socks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        pipe.send(
            (
                "ready",
                {
                    "ok": sum(ready),
                    "failed": len(self.socks) - sum(ready),
                    "sample": self.failure_sample,
                },
            )
        )
        cmd, t0 = await asyncio.to_thread(pipe.recv)
        if cmd == "go" and self.spec.kind != "idle":
            end = t0 + self.spec.duration
            if self.spec.kind == "fanout":
                await self._open_loop(t0, end)
            else:
                senders = [s for s in self.socks if s.ws is not None][: self.spec.senders]
                await asyncio.gather(*(self._closed_loop(s, end) for s in senders))
            await self._drain()
            pipe.send(("done", self._report(t0)))
            await asyncio.to_thread(pipe.recv)  # "stop"
        elif cmd == "go":
            await asyncio.to_thread(pipe.recv)  # idle: hold the sockets until "stop"
            pipe.send(("done", self._report(t0)))
        await self._close()

    def _report(self, t0: float) -> dict[str, Any]:
        st = self.stats
        out = {k: v for k, v in st.__dict__.items() if k not in ("latency_ms", "ack_ms")}
        out["latency_ms"] = st.latency_ms.tobytes()
        out["ack_ms"] = st.ack_ms.tobytes()
        out["failure_sample"] = self.failure_sample
        out["unacked"] = len(self.pending) if self.spec.target == "ours" else 0
        out["last_delivery"] = st.last_delivery - t0 if st.last_delivery else 0.0
        return out

    async def _close(self) -> None:
        self.stopping = True
        live = [s.ws for s in self.socks if s.ws is not None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(w.close() for w in live)), 20)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def worker_main(pipe: Connection, spec: WorkerSpec) -> None:
    """multiprocessing target (spawned): run the pool on uvloop like the servers do."""
    uvloop.run(Worker(spec).run(pipe))
