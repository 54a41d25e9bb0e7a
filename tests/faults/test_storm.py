"""Scenario 8: 1,000 sockets dropped at once reconnect with jittered backoff."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from chat_testkit.client import User, create_room, eventually, rest, stored_messages
from fault_client import register, users
from fault_oracle import Report
from fault_stack import ORIGIN, Api, Gateway, metric_sum
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

SOCKETS = 1000
USERS = 50  # 20 sockets per user, like tabs and devices
# Every socket resumes the room and is checked against the oracle. (Before the API shed
# load with 503 + Retry-After and the gateway admitted its own HTTP calls, 1,000 resumes at
# once collapsed the API and only 200 could be asked to resume.)
RESUMING = SOCKETS
# Full jitter over a window sized to the herd: each resume costs validate + get room +
# replay API calls.
BASE_BACKOFF = 5.0


@dataclass
class StormSocket:
    """A minimal resuming client: auth, resume from the highest seq seen, record events."""

    urls: list[str]
    user: User
    room: int | None
    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    connects: int = 0
    ready: bool = False
    ws: ClientConnection | None = None
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    errors: list[str] = field(default_factory=list)
    retries: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        backoff, i = BASE_BACKOFF, random.randrange(len(self.urls))
        while not self.stopping:
            url = self.urls[i % len(self.urls)]
            i += 1
            try:
                async with connect(url, origin=ORIGIN, open_timeout=10) as ws:  # type: ignore[arg-type]
                    self.ws = ws
                    await ws.send(json.dumps({"type": "auth", "token": self.user.token}))
                    await self._resume(ws, 0)
                    self.connects += 1
                    async for raw in ws:
                        f = json.loads(raw)
                        if f["type"] in ("error", "reset"):
                            self.errors.append(str(f.get("code", f["type"])))
                        if f["type"] == "error" and f.get("ref") == "resume":
                            # The API was too busy to replay: ask again later (the recipe).
                            retry = asyncio.create_task(self._resume(ws, min(backoff, 4.0)))
                            self.retries.add(retry)
                            retry.add_done_callback(self.retries.discard)
                            backoff = min(backoff * 2, 10.0)
                        elif f["type"] == "resumed" or (
                            f["type"] == "auth_ok" and self.room is None
                        ):
                            self.ready, backoff = True, BASE_BACKOFF
                        elif f["type"] == "event" and f["event"] == "message.created":
                            if f["seq"] in self.seen:
                                self.duplicates += not f.get("replay")
                            self.seen.add(f["seq"])
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            finally:
                self.ws, self.ready = None, False
            if not self.stopping:
                # Exponential backoff with full jitter: the herd spreads itself out.
                await asyncio.sleep(random.uniform(0, backoff))
                backoff = min(backoff * 2, 10.0)

    async def _resume(self, ws: ClientConnection, delay: float) -> None:
        if self.room is None:
            return  # an open tab with no room in view: authenticated is ready
        await asyncio.sleep(random.uniform(0, delay))
        high = max(self.seen, default=0)
        frame = {"type": "resume", "rooms": {str(self.room): high}, "ref": "resume"}
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            pass

    def drop(self) -> None:
        if self.ws is not None:
            self.ws.transport.abort()


def _resume_calls(api: Api) -> tuple[float, float]:
    """Room lookups and room event pages the API served (any status): what resumes cost it."""
    samples = api.metrics()
    lookups = metric_sum(samples, "chat_api_requests_total", route="/api/rooms/{room_id}")
    pages = metric_sum(samples, "chat_api_requests_total", route="/api/rooms/{room_id}/events")
    return lookups, pages


def _post(api: Api, user: User, room: int, text: str) -> None:
    body = {"room_id": room, "content": text, "client_msg_id": uuid.uuid4().hex}
    assert rest(api.url, "POST", "/messages", user, json=body).status_code == 201


async def test_reconnect_storm_1000_sockets(api: Api, pair: list[Gateway]) -> None:
    """1,000 sockets cut at once (one replica killed too) all resume; validate-token bounded."""
    members = users(api.url, USERS)
    room = create_room(api.url, members[0], *members[1:])
    urls = [g.url for g in pair]
    socks = [
        StormSocket(urls, members[i % USERS], room if i < RESUMING else None)
        for i in range(SOCKETS)
    ]
    resuming = socks[:RESUMING]
    # Stopped whatever happens: 1,000 sockets left reconnecting would load the API and
    # fail the tests after this one.
    try:
        v_start = api.validate_calls()
        for s in socks:
            s.task = asyncio.create_task(s.run())
            await asyncio.sleep(0.005)  # open 1,000 sockets over ~5 s, not in one instant
        try:
            await eventually(lambda: all(s.ready for s in socks), 120, "1,000 sockets resumed")
        except AssertionError:
            print(
                "ready",
                sum(s.ready for s in socks),
                "open",
                sum(s.ws is not None for s in socks),
                "connects",
                sum(s.connects for s in socks),
                "errors",
                [e for s in socks for e in s.errors][:20],
            )
            raise
        v_connected = api.validate_calls()
        calls_connected = _resume_calls(api)
        for i in range(3):
            await asyncio.to_thread(_post, api, members[0], room, f"before {i}")
        await eventually(lambda: all(len(s.seen) == 3 for s in resuming), 60, "live fan-out")

        started = time.monotonic()
        pair[0].proc.kill()  # one replica dies...
        for s in socks:
            s.drop()  # ...and every socket on both replicas is cut at the same moment
        restart = asyncio.create_task(asyncio.to_thread(pair[0].restart))
        for i in range(5):
            await asyncio.to_thread(_post, api, members[1], room, f"during {i}")
        await restart
        await eventually(lambda: all(s.ready for s in socks), 120, "all 1,000 resumed again")
        storm_seconds = time.monotonic() - started
        stored = [m["seq"] for m in stored_messages(api.url, members[0], room)]
        await eventually(lambda: all(len(s.seen) == len(stored) for s in resuming), 60, "caught up")
        v_end = api.validate_calls()
        calls_end = _resume_calls(api)
    finally:
        for s in socks:
            s.stopping = True
            for t in [s.task, *s.retries]:
                if t is not None:
                    t.cancel()
        await asyncio.gather(*(s.task for s in socks if s.task), return_exceptions=True)

    storm_calls = v_end - v_connected
    rep = Report(scenario="8 reconnect storm", stored=len(stored), sent=8, acked=8)
    rep.delivered = sum(len(s.seen) for s in socks)
    rep.duplicates = sum(s.duplicates for s in socks)
    rep.reconnects = sum(s.connects - 1 for s in socks)
    rep.recovery_seconds_max = round(storm_seconds, 3)
    rep.extra = {
        "sockets": SOCKETS,
        "sockets_resuming_the_room": RESUMING,
        "distinct_tokens": USERS,
        "validate_calls_initial_connect": v_connected - v_start,
        "validate_calls_storm": storm_calls,
        "validate_calls_per_second_storm": round(storm_calls / storm_seconds, 1),
        # Reported, not asserted: tabs of one user share identical GETs (api_client.py).
        "api_room_lookups_storm": calls_end[0] - calls_connected[0],
        "api_room_event_pages_storm": calls_end[1] - calls_connected[1],
    }
    rep.emit()
    assert all(sorted(s.seen) == stored for s in resuming), "every member holds every message"
    assert rep.duplicates == 0
    # Bounded: no amplification (at most one validation per reconnecting socket, retries
    # included). The ideal, one per token per cold replica, needs single-flight validation
    # in the gateway: test_concurrent_handshakes_share_one_validation checks it.
    assert storm_calls <= SOCKETS, f"{storm_calls} validate-token calls for {SOCKETS} sockets"


async def test_concurrent_handshakes_share_one_validation(api: Api, pair: list[Gateway]) -> None:
    """20 simultaneous auths with one not-yet-cached token cost one /validate-token call."""
    user = register(api.url)  # a token no gateway has validated yet
    socks = [await connect(pair[0].url, origin=ORIGIN, open_timeout=10) for _ in range(20)]
    before = api.validate_calls()
    auth = json.dumps({"type": "auth", "token": user.token})
    await asyncio.gather(*(ws.send(auth) for ws in socks))
    replies = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 30) for ws in socks))
    calls = api.validate_calls() - before
    print(f"\nFAULTS-REPORT single-flight: 20 concurrent auths -> {calls} validate-token calls")
    assert all(json.loads(r)["type"] == "auth_ok" for r in replies)
    for ws in socks:
        await ws.close()
    assert calls <= 2, f"{calls} /validate-token calls for one token"
