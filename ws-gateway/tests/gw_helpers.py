"""Test-side clients: REST helpers for the real API and WebSocket clients for the gateway."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Frame = dict[str, Any]
_users = itertools.count(1)


@dataclass
class User:
    id: int
    username: str
    password: str
    token: str
    refresh: str


def register(api_url: str, prefix: str = "u") -> User:
    name = f"{prefix}{uuid.uuid4().hex[:10]}{next(_users)}"
    password = "correct horse battery"
    with httpx.Client(base_url=api_url, timeout=10) as http:
        r = http.post("/api/register", json={"username": name, "password": password})
        assert r.status_code == 201, r.text
        r = http.post("/api/login", json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
    return User(body["user"]["id"], name, password, body["access_token"], body["refresh_token"])


def rest(api_url: str, method: str, path: str, user: User, **kw: Any) -> httpx.Response:
    with httpx.Client(base_url=api_url, timeout=10) as http:
        return http.request(
            method, "/api" + path, headers={"Authorization": f"Bearer {user.token}"}, **kw
        )


def create_room(api_url: str, owner: User, *members: User, kind: str = "public") -> int:
    r = rest(api_url, "POST", "/rooms", owner, json={"name": "room", "kind": kind})
    assert r.status_code == 201, r.text
    room_id = int(r.json()["id"])
    for m in members:
        if kind == "public":
            r = rest(api_url, "POST", f"/rooms/{room_id}/join", m)
            assert r.status_code == 200, r.text
        else:
            r = rest(api_url, "POST", f"/rooms/{room_id}/invite", owner, json={"user_id": m.id})
            assert r.status_code == 204, r.text
    return room_id


def stored_messages(api_url: str, user: User, room_id: int) -> list[Frame]:
    out: list[Frame] = []
    after = 0
    while True:
        r = rest(
            api_url,
            "GET",
            "/messages",
            user,
            params={"room_id": room_id, "after": after, "limit": 200},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["messages"])
        if not body["has_more"] or not body["messages"]:
            return out
        after = body["messages"][-1]["seq"]


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition with a deadline (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class Client:
    """One socket; a reader task records every frame and the close code."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, origin: str | None = None, **kw: Any) -> Client:
        return cls(await connect(url, origin=origin, open_timeout=10, **kw))  # type: ignore[arg-type]

    @classmethod
    async def authed(cls, url: str, token: str, origin: str | None = None) -> Client:
        client = await cls.open(url, origin)
        await client.send({"type": "auth", "token": token})
        await client.expect(lambda f: f["type"] == "auth_ok", "auth_ok")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            self.close_reason = rcvd.reason if rcvd else ""
            self.close_code = rcvd.code if rcvd else 1006

    async def send(self, frame: Frame | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def expect(self, pred: Callable[[Frame], bool], what: str, timeout: float = 10) -> Frame:
        found: list[Frame] = []

        def check() -> bool:
            found[:] = [f for f in self.frames if pred(f)]
            return bool(found) or self.close_code is not None

        await eventually(check, timeout, what)
        assert found, f"socket closed ({self.close_code} {self.close_reason}) before {what}"
        return found[0]

    async def closed(self, timeout: float = 10) -> int:
        await eventually(lambda: self.close_code is not None, timeout, "close")
        assert self.close_code is not None
        return self.close_code

    async def request(self, frame: Frame, pred: Callable[[Frame], bool], what: str) -> Frame:
        ref = uuid.uuid4().hex[:8]
        await self.send({**frame, "ref": ref})
        return await self.expect(lambda f: f.get("ref") == ref and pred(f), what)

    async def join(self, room_id: int) -> Frame:
        return await self.request(
            {"type": "join", "room_id": room_id}, lambda f: True, "join reply"
        )

    def events(self, room_id: int | None = None) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f["type"] == "event" and (room_id is None or f["room_id"] == room_id)
        ]

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


def handshake_status(exc: BaseException) -> int:
    assert isinstance(exc, InvalidStatus), repr(exc)
    return exc.response.status_code


@dataclass
class Resilient:
    """A well-behaved app client: reconnects across replicas with backoff + full jitter,
    resumes from the last seq seen per room, fills seq gaps, resends unacked messages."""

    urls: list[str]
    user: User
    rooms: list[int]
    origin: str | None = None
    seen: dict[int, dict[int, Frame]] = field(default_factory=dict)  # room -> seq -> message
    duplicates: int = 0
    acked: dict[str, Frame] = field(default_factory=dict)
    unacked: dict[str, Frame] = field(default_factory=dict)
    closes: list[int] = field(default_factory=list)
    connects: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None
    _stop: bool = False

    def start(self) -> None:
        for r in self.rooms:
            self.seen.setdefault(r, {})
        self._task = asyncio.create_task(self._run())

    def high(self, room: int) -> int:
        return max(self.seen[room], default=0)

    async def _run(self) -> None:
        backoff = 0.1
        i = 0
        while not self._stop:
            url = self.urls[i % len(self.urls)]
            i += 1
            try:
                async with connect(url, origin=self.origin, open_timeout=5) as ws:  # type: ignore[arg-type]
                    self._ws = ws
                    await ws.send(json.dumps({"type": "auth", "token": self.user.token}))
                    resume = {str(r): self.high(r) for r in self.rooms}
                    await ws.send(json.dumps({"type": "resume", "rooms": resume}))
                    self.connects += 1
                    backoff = 0.1
                    for frame in list(self.unacked.values()):
                        await ws.send(json.dumps(frame))
                    async for raw in ws:
                        await self._on(ws, json.loads(raw))
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
                    self.closes.append(exc.rcvd.code)
            finally:
                self._ws = None
                self.ready.clear()
            if not self._stop:
                await asyncio.sleep(random.uniform(0, backoff))
                backoff = min(backoff * 2, 2.0)

    async def _on(self, ws: ClientConnection, f: Frame) -> None:
        t = f["type"]
        if t == "resumed" or t == "reset":
            self.ready.set()
        elif t == "event" and f["event"] == "message.created":
            room, seq = f["room_id"], f["seq"]
            if seq in self.seen[room]:
                if not f.get("replay"):
                    self.duplicates += 1  # the gateway delivered a live event twice
                return
            high = self.high(room)
            self.seen[room][seq] = f["message"]
            if seq > high + 1 and not f.get("replay"):
                await ws.send(
                    json.dumps(
                        {"type": "fetch", "room_id": room, "after_seq": high, "before_seq": seq}
                    )
                )
        elif t == "ack":
            self.acked[f["client_msg_id"]] = f["message"]
            self.unacked.pop(f["client_msg_id"], None)
        elif t == "nack" and not f["retryable"]:
            self.unacked.pop(f["client_msg_id"], None)

    async def say(self, room: int, content: str) -> str:
        cmid = uuid.uuid4().hex
        frame = {"type": "message", "room_id": room, "client_msg_id": cmid, "content": content}
        self.unacked[cmid] = frame
        ws = self._ws
        if ws is not None:
            try:
                await ws.send(json.dumps(frame))
            except ConnectionClosed:
                pass  # resent after reconnect
        return cmid

    async def stop(self) -> None:
        self._stop = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def metric(ops_url: str, sample: str) -> float:
    """One sample of the gateway's /metrics (`name` or `name{label="x"}`); 0 when absent."""
    for line in httpx.get(ops_url + "/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
