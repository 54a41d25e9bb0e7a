"""Test-side clients shared by every suite that talks to the real services: REST helpers
for the API, `Client` (one socket recording every frame) and `Resilient`, a well-behaved
app client (reconnect across replicas + resume + gap fill + resend; retryable nacks are
retried on the same socket with backoff, and a message or change still unacknowledged after
`give_up_seconds` is reported failed, as an app shows the user; rooms joined and left as the
user does over REST)."""

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
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

Frame = dict[str, Any]
_users = itertools.count(1)


@dataclass
class User:
    id: int
    username: str
    password: str
    token: str
    refresh: str


def register(api_url: str, prefix: str = "u", *, password: str | None = None) -> User:
    """A new user, registered and logged in (password random unless given)."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}{next(_users)}"
    password = password or "pw-" + uuid.uuid4().hex[:12]
    with httpx.Client(base_url=api_url, timeout=15) as http:
        r = http.post("/api/register", json={"username": name, "password": password})
        assert r.status_code == 201, r.text
        return login(http, name, password)


def login(http: httpx.Client, username: str, password: str) -> User:
    """Fresh tokens for an existing user, through `http` (base URL the API's or the
    ingress's; the e2e suite's verifies nginx's certificate)."""
    r = http.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    tokens = body["access_token"], body["refresh_token"]
    return User(int(body["user"]["id"]), username, password, *tokens)


def rest(api: str | httpx.Client, method: str, path: str, user: User, **kw: Any) -> httpx.Response:
    """`method /api{path}` as `user` (bearer token); `api` is a base URL, or a client to send
    it through (the e2e suite's goes through nginx and verifies its certificate)."""
    headers = {"Authorization": f"Bearer {user.token}"}
    if isinstance(api, httpx.Client):
        return api.request(method, "/api" + path, headers=headers, **kw)
    with httpx.Client(base_url=api, timeout=15) as http:
        return http.request(method, "/api" + path, headers=headers, **kw)


def create_room(
    api_url: str, owner: User, *members: User, kind: str = "public", name: str = "room"
) -> int:
    """A room owned by `owner` that `members` joined (public) or were invited to (private)."""
    r = rest(api_url, "POST", "/rooms", owner, json={"name": name, "kind": kind})
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


def room_history(http: httpx.Client, token: str, room_id: int) -> list[Frame]:
    """Every message of the room as the API returns it (GET /api/messages, ascending, all
    pages), through `http` (base URL the API's or the ingress's)."""
    out: list[Frame] = []
    after = 0
    auth = {"Authorization": f"Bearer {token}"}
    while True:
        params = {"room_id": room_id, "after": after, "limit": 200}
        r = http.get("/api/messages", params=params, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["messages"])
        if not body["has_more"] or not body["messages"]:
            return out
        after = body["messages"][-1]["seq"]


def stored_messages(api_url: str, user: User, room_id: int) -> list[Frame]:
    """The oracle: everything PostgreSQL holds for the room, via GET /api/messages."""
    with httpx.Client(base_url=api_url, timeout=15) as http:
        return room_history(http, user.token, room_id)


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
    async def authed(cls, url: str, token: str, origin: str | None = None, **kw: Any) -> Client:
        client = await cls.open(url, origin, **kw)
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
    """Reconnects across replicas with exponential backoff + full jitter, resumes each room
    from the event seq it holds, fills event seq gaps, resends unacked messages (same
    client_msg_id) and unanswered edits/deletes, retries retryable nacks, and reports a
    message or change failed after `give_up_seconds`. `seen` holds each message's newest
    version, as a browser would.

    `rooms` are the rooms the user is in, the ones a reconnect resumes. After the user
    joined one over REST, `join_room` sends `join` on the socket (the next resume includes
    it), then fills what happened since its cursor with `fetch`; after they left one,
    `leave_room` drops it from the resume (the gateway unsubscribed the socket on the
    member.left event). Every frame goes out through `_send` and comes in through `_on`."""

    urls: list[str]
    user: User
    rooms: list[int]
    origin: str | None = None
    give_up_seconds: float = 60.0
    seen: dict[int, dict[int, Frame]] = field(default_factory=dict)  # room -> seq -> message
    # room -> the event seq the client holds the room's state as of (from joined/resumed/
    # fetched, then each next live event); live events past a gap wait in `ahead`.
    cursor: dict[int, int] = field(default_factory=dict)
    ahead: dict[int, set[int]] = field(default_factory=dict)
    live_events: dict[int, set[int]] = field(default_factory=dict)  # room -> live event seqs
    duplicates: int = 0
    gaps: int = 0
    sent: dict[str, Frame] = field(default_factory=dict)
    acked: dict[str, Frame] = field(default_factory=dict)
    unacked: dict[str, Frame] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    nacks: int = 0
    resends: int = 0
    closes: list[int] = field(default_factory=list)
    connects: int = 0
    outages: list[float] = field(default_factory=list)  # seconds from drop to `resumed`
    arrived: dict[str, float] = field(default_factory=dict)  # client_msg_id -> live arrival
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: ClientConnection | None = None
    _task: asyncio.Task[None] | None = None
    _stop: bool = False
    _down_since: float | None = None
    first_sent: dict[str, float] = field(default_factory=dict)
    _retry_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _attempts: dict[str, int] = field(default_factory=dict)
    # Edits and deletes by `ref`: the frame, then its ack's message or the nack's error.
    changes: dict[str, Frame] = field(default_factory=dict)
    changes_unacked: dict[str, Frame] = field(default_factory=dict)
    changes_acked: dict[str, Frame] = field(default_factory=dict)
    changes_failed: dict[str, str] = field(default_factory=dict)
    # Rooms the resume on this socket asks for; none: ready at auth_ok.
    _resuming: set[int] = field(default_factory=set)

    def start(self) -> None:
        for r in self.rooms:
            self.seen.setdefault(r, {})
        self._task = asyncio.create_task(self._run())

    def high(self, room: int) -> int:
        """The newest message seq held (the timeline; event seqs are `cursor`)."""
        return max(self.seen[room], default=0)

    def _hold(self, room: int, head: int) -> None:
        """The client holds the room's state as of `head`; absorb what arrived past it."""
        cursor = max(self.cursor.get(room, 0), head)
        ahead = self.ahead.setdefault(room, set())
        while cursor + 1 in ahead:
            cursor += 1
        self.ahead[room] = {s for s in ahead if s > cursor}
        self.cursor[room] = cursor

    def _apply(self, room: int, message: Frame) -> None:
        held = self.seen[room].get(message["seq"])
        if held is None or message["version"] > held["version"]:
            self.seen[room][message["seq"]] = message

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.ready.is_set()

    @property
    def in_flight(self) -> bool:
        """A message or a change not yet acked nor reported failed."""
        return bool(self.unacked or self.changes_unacked)

    def _ready(self) -> None:
        self.ready.set()
        if self._down_since is not None:
            self.outages.append(time.monotonic() - self._down_since)
            self._down_since = None

    async def _send(self, ws: ClientConnection, frame: Frame) -> None:
        await ws.send(json.dumps(frame))

    async def _run(self) -> None:
        backoff = 0.1
        i = 0
        while not self._stop:
            url = self.urls[i % len(self.urls)]
            i += 1
            try:
                async with connect(url, origin=self.origin, open_timeout=5) as ws:  # type: ignore[arg-type]
                    self._ws = ws
                    await self._send(ws, {"type": "auth", "token": self.user.token})
                    await self._resume(ws, 0)
                    self.connects += 1
                    for frame in [*self.unacked.values(), *self.changes_unacked.values()]:
                        self.resends += 1
                        await self._send(ws, frame)
                    async for raw in ws:
                        await self._on(ws, json.loads(raw))
                        backoff = 0.1
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
                    self.closes.append(exc.rcvd.code)
            finally:
                if self._ws is not None and self._down_since is None:
                    self._down_since = time.monotonic()
                self._ws = None
                self.ready.clear()
            self.expire()
            if not self._stop:
                await asyncio.sleep(random.uniform(0, backoff))
                backoff = min(backoff * 2, 2.0)

    def expire(self) -> None:
        """Give up on messages and changes unacked for too long: the app shows them failed."""
        now = time.monotonic()
        for pending, failed in (
            (self.unacked, self.failed),
            (self.changes_unacked, self.changes_failed),
        ):
            for key in list(pending):
                if now - self.first_sent.get(key, now) > self.give_up_seconds:
                    pending.pop(key)
                    failed[key] = "timed out"

    async def _on(self, ws: ClientConnection, f: Frame) -> None:
        t = f["type"]
        if t == "error" and f.get("ref") == "resume":
            # The API could not replay right now (busy/down): ask again after a pause.
            task = asyncio.create_task(self._resume(ws, random.uniform(0.2, 1.0)))
            self._retry_tasks.add(task)
            task.add_done_callback(self._retry_tasks.discard)
        elif t == "auth_ok" and not self._resuming:
            self._ready()  # in no room: nothing to resume
        elif t in ("resumed", "reset", "fetched"):
            self._hold(f["room_id"], f["event_seq"])
            if t != "fetched":
                self._ready()
        elif t == "joined" and f["room_id"] in self.seen:
            # Subscribed from the room's head: fetch what happened since the state we hold
            # (while the user was out), as for a seq jump.
            room = f["room_id"]
            if f["event_seq"] > self.cursor.get(room, 0):
                self.gaps += 1
                after = self.cursor.get(room, 0)
                await self._send(ws, {"type": "fetch", "room_id": room, "after_event_seq": after})
        elif t == "event" and f["room_id"] in self.seen:
            await self._on_event(ws, f)
        elif t == "ack" and "client_msg_id" in f:
            self.acked[f["client_msg_id"]] = f["message"]
            self.unacked.pop(f["client_msg_id"], None)
        elif t == "ack" and "message_id" in f and f.get("ref") in self.changes_unacked:
            self.changes_unacked.pop(f["ref"])
            self.changes_acked[f["ref"]] = f["message"]
        elif t == "nack" and ("client_msg_id" in f or "message_id" in f):
            self.nacks += 1
            if "client_msg_id" in f:
                key, pending, failed = f["client_msg_id"], self.unacked, self.failed
            else:
                key, pending, failed = f.get("ref"), self.changes_unacked, self.changes_failed
            if not f["retryable"]:
                if pending.pop(key, None) is not None:
                    failed[key] = str(f.get("error", "refused"))
            elif key in pending:
                task = asyncio.create_task(self._retry(key, pending))
                self._retry_tasks.add(task)
                task.add_done_callback(self._retry_tasks.discard)

    async def _on_event(self, ws: ClientConnection, f: Frame) -> None:
        room, event_seq, replay = f["room_id"], f["event_seq"], bool(f.get("replay"))
        if not replay:
            live = self.live_events.setdefault(room, set())
            if event_seq in live:
                self.duplicates += 1  # the gateway delivered a live event twice
            live.add(event_seq)
        if "message" in f:
            if f["event"] == "message.created" and not replay and f["seq"] not in self.seen[room]:
                self.arrived[f["message"]["client_msg_id"]] = time.monotonic()
            self._apply(room, f["message"])
        if replay:
            return  # the closing resumed/fetched frame says what the replay brought
        cursor = self.cursor.get(room, 0)
        if event_seq > cursor + 1:
            self.ahead.setdefault(room, set()).add(event_seq)
            self.gaps += 1
            await self._send(ws, {"type": "fetch", "room_id": room, "after_event_seq": cursor})
        else:
            self._hold(room, event_seq)

    async def _resume(self, ws: ClientConnection, delay: float) -> None:
        if delay:
            # Not for the first resume: a yield there would let say() send a message before
            # the resume, and the gateway refuses messages for rooms the socket has not joined.
            await asyncio.sleep(delay)
        rooms = {str(r): self.cursor.get(r, 0) for r in self.rooms}
        self._resuming = set(self.rooms)
        if not rooms and delay:
            self._ready()  # asked again after the user left its last room: nothing to resume
        try:
            await self._send(ws, {"type": "resume", "rooms": rooms, "ref": "resume"})
        except ConnectionClosed:
            pass

    async def _retry(self, key: str, pending: dict[str, Frame]) -> None:
        """A retryable nack: resend the same frame after a jittered pause (same socket if up)."""
        # Exponential backoff with full jitter per message, so an outage is not hammered.
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        await asyncio.sleep(random.uniform(0.05, min(0.2 * 2**attempt, 3.0)))
        self.expire()
        frame = pending.get(key)
        ws = self._ws
        if frame is None or ws is None:
            return  # acked meanwhile, failed, or resent by the next reconnect
        try:
            self.resends += 1
            await self._send(ws, frame)
        except ConnectionClosed:
            pass

    async def say(self, room: int, content: str) -> str:
        cmid = uuid.uuid4().hex
        frame = {"type": "message", "room_id": room, "client_msg_id": cmid, "content": content}
        self.sent[cmid] = frame
        self.unacked[cmid] = frame
        self.first_sent[cmid] = time.monotonic()
        await self._send_now(frame)
        return cmid

    async def _send_now(self, frame: Frame) -> None:
        ws = self._ws
        if ws is not None:
            try:
                await self._send(ws, frame)
            except ConnectionClosed:
                pass  # resent after reconnect

    async def edit(self, message_id: int, content: str) -> str:
        """Edit an own message over the socket; returns the change's `ref`."""
        return await self._change({"type": "edit", "message_id": message_id, "content": content})

    async def delete(self, message_id: int) -> str:
        """Delete an own message over the socket; returns the change's `ref`."""
        return await self._change({"type": "delete", "message_id": message_id})

    async def _change(self, frame: Frame) -> str:
        ref = "c-" + uuid.uuid4().hex[:12]
        frame = {**frame, "ref": ref}
        self.changes[ref] = frame
        self.changes_unacked[ref] = frame
        self.first_sent[ref] = time.monotonic()
        await self._send_now(frame)
        return ref

    async def join_room(self, room: int) -> None:
        """The user joined `room` (over REST): subscribe this socket; resumes include it."""
        if room not in self.rooms:
            self.rooms.append(room)
        self.seen.setdefault(room, {})
        await self._send_now({"type": "join", "room_id": room})

    def leave_room(self, room: int) -> None:
        """The user left `room` (over REST): later resumes leave it out. What the client
        holds of it stays as it was."""
        if room in self.rooms:
            self.rooms.remove(room)

    def drop(self) -> None:
        """Cut the TCP connection without a closing handshake (a network blip)."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    async def stop(self) -> None:
        self._stop = True
        for task in list(self._retry_tasks):
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
