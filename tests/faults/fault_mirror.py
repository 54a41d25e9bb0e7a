"""What a client knows of a room, rebuilt only from the frames it received, and the checks
that hold it against the database: `Mirrored` is `Resilient` with a trace of every frame
both ways; `mirror` folds the trace into messages (by id, newest version) and members
(member events by event seq, from the membership the client knew at its start).

Separate from `Resilient.seen` on purpose: the fold here trusts no client state, only
the frames, so it checks the client's bookkeeping as well as the gateway's delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from chat_testkit.client import Frame, Resilient, User, eventually, rest, stored_messages
from websockets.asyncio.client import ClientConnection

JOINS = ("member.joined", "member.invited")
GONE = ("member.left", "member.removed")
SUBSCRIBED = ("joined", "resumed", "reset")


@dataclass
class Mirrored(Resilient):
    """A `Resilient` that records ("out", frame), ("in", frame) and ("left", {room_id})
    (the app's own leave, after its REST call returned) in arrival order."""

    trace: list[tuple[str, Frame]] = field(default_factory=list)

    async def _send(self, ws: ClientConnection, frame: Frame) -> None:
        # Before the send: a subscribe that never left only makes `leaks` laxer.
        self.trace.append(("out", frame))
        await super()._send(ws, frame)

    async def _on(self, ws: ClientConnection, f: Frame) -> None:
        self.trace.append(("in", f))
        await super()._on(ws, f)

    def leave_room(self, room: int) -> None:
        self.trace.append(("left", {"room_id": room}))
        super().leave_room(room)


@dataclass(frozen=True)
class Start:
    """The membership a client knew when it started: the room as of `event_seq`."""

    event_seq: int
    members: dict[int, tuple[str, str]]


@dataclass
class View:
    messages: dict[int, tuple[int, int, str, bool]]  # id -> (seq, version, content, deleted)
    members: dict[int, tuple[str, str]]  # user id -> (username, display_name)
    member_count: int

    def diff(self, other: View) -> list[str]:
        out = []
        for mid in sorted(self.messages.keys() | other.messages.keys()):
            mine, theirs = self.messages.get(mid), other.messages.get(mid)
            if mine != theirs:
                out.append(f"message {mid}: client {mine} != database {theirs}")
        if self.members != other.members:
            out.append(f"members: client {self.members} != database {other.members}")
        if self.member_count != other.member_count:
            out.append(f"member_count: client {self.member_count} != {other.member_count}")
        return out


def _events(trace: Iterable[tuple[str, Frame]], room: int) -> Iterable[Frame]:
    for way, f in trace:
        if way == "in" and f["type"] == "event" and f["room_id"] == room:
            yield f


def mirror(client: Mirrored, room: int, start: Start) -> View:
    """The room as the client's frames describe it."""
    messages: dict[int, tuple[int, int, str, bool]] = {}
    member_events: dict[int, Frame] = {}
    for f in _events(list(client.trace), room):
        m = f.get("message")
        if m is not None:
            held = messages.get(m["id"])
            if held is None or m["version"] > held[1]:
                messages[m["id"]] = (m["seq"], m["version"], m["content"], m["deleted"])
        elif f["event"] in JOINS + GONE and f["event_seq"] > start.event_seq:
            member_events[f["event_seq"]] = f
    members = dict(start.members)
    count = len(members)
    for seq in sorted(member_events):
        f = member_events[seq]
        user = f["data"]["user"]
        if f["event"] in JOINS:
            members[user["id"]] = (user["username"], user["display_name"])
        else:
            members.pop(user["id"], None)
        count = f["data"]["member_count"]
    return View(messages, members, count)


def room_members(api_url: str, user: User, room: int) -> dict[int, tuple[str, str]]:
    r = rest(api_url, "GET", f"/rooms/{room}/members", user)
    assert r.status_code == 200, r.text
    return {u["id"]: (u["username"], u["display_name"]) for u in r.json()}


def start_of(api_url: str, user: User, room: int) -> Start:
    r = rest(api_url, "GET", f"/rooms/{room}", user)
    assert r.status_code == 200, r.text
    return Start(int(r.json()["event_seq"]), room_members(api_url, user, room))


def database(api_url: str, user: User, room: int) -> View:
    """The room as PostgreSQL holds it (REST history and members, read as `user`)."""
    messages = {
        m["id"]: (m["seq"], m["version"], m["content"], m["deleted"])
        for m in stored_messages(api_url, user, room)
    }
    r = rest(api_url, "GET", f"/rooms/{room}", user)
    assert r.status_code == 200, r.text
    return View(messages, room_members(api_url, user, room), int(r.json()["member_count"]))


def room_stream(api_url: str, user: User, room: int) -> list[dict[str, Any]]:
    """Every event of the room's stream (GET /rooms/{id}/events, all pages, compacted)."""
    out: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(base_url=api_url, timeout=15) as http:
        while True:
            r = http.get(
                f"/api/rooms/{room}/events",
                params={"after": after, "limit": 200},
                headers={"Authorization": f"Bearer {user.token}"},
            )
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page["events"])
            if not page["has_more"] or not page["events"]:
                return out
            after = page["events"][-1]["event_seq"]


def live_after_leave(client: Mirrored, room: int) -> list[Frame]:
    """Live room events that reached the client after its own live member.left and before
    the gateway confirmed a new subscription (joined/resumed/reset): must be none, the
    gateway unsubscribes a member's sockets at their member.left."""
    out: list[Frame] = []
    gone = False
    for way, f in list(client.trace):
        if way != "in" or f.get("room_id") != room:
            continue
        if f["type"] in SUBSCRIBED:
            gone = False
        elif f["type"] == "event" and not f.get("replay"):
            if gone:
                out.append(f)
            user = (f.get("data") or {}).get("user") or {}
            if f["event"] in GONE and user.get("id") == client.user.id:
                gone = True
    return out


def _subscribes(f: Frame, room: int) -> bool:
    if f["type"] == "join":
        return bool(f["room_id"] == room)
    return f["type"] == "resume" and str(room) in f["rooms"]


def leaks(client: Mirrored, room: int, stream: list[dict[str, Any]]) -> list[str]:
    """Room events past the user's leave (event seq above its member.left in the
    database) that reached the client before it subscribed again after that leave."""
    lefts = [
        e["event_seq"]
        for e in stream
        if e["event"] in GONE and (e.get("data") or {}).get("user", {}).get("id") == client.user.id
    ]
    trace = list(client.trace)
    marks = [i for i, (way, f) in enumerate(trace) if way == "left" and f["room_id"] == room]
    assert len(marks) == len(lefts), f"{len(marks)} leaves made, {len(lefts)} in the stream"
    out = []
    for left_seq, mark in zip(lefts, marks, strict=True):
        until = next(
            (
                i
                for i in range(mark, len(trace))
                if trace[i][0] == "out" and _subscribes(trace[i][1], room)
            ),
            len(trace),
        )
        for i in range(until):
            way, f = trace[i]
            if (
                way == "in"
                and f["type"] == "event"
                and f["room_id"] == room
                and f["event_seq"] > left_seq
            ):
                out.append(f"frame {i} {f['event']} {f['event_seq']} after leave {left_seq}")
    return out


def settled(clients: list[Mirrored]) -> bool:
    """Every client connected, every message and change acked or reported failed."""
    for c in clients:
        c.expire()
    return all(c.connected and not c.in_flight for c in clients)


async def check_mirrors(
    api_url: str,
    room: int,
    clients: list[Mirrored],
    in_room: list[bool],
    start: Start,
    timeout: float = 30,
) -> View:
    """Every client settled; every member's mirror equals the database; no client heard
    the room between its leave and its next subscription. Returns the database view."""
    await eventually(lambda: settled(clients), 40, "every client connected, nothing in flight")
    members = [c for c, inside in zip(clients, in_room, strict=True) if inside]
    assert members, "somebody stays in the room to read it"
    db = database(api_url, members[0].user, room)
    assert set(db.members) == {c.user.id for c in members}, "the machine's model of members"
    try:
        await eventually(
            lambda: all(mirror(c, room, start) == db for c in members), timeout, "mirrors"
        )
    except AssertionError:
        for c in members:
            diff = mirror(c, room, start).diff(db)
            assert not diff, f"{c.user.username}'s frames disagree with the database: {diff}"
        raise
    stream = room_stream(api_url, members[0].user, room)
    for c in clients:
        heard = [(f["event"], f["event_seq"]) for f in live_after_leave(c, room)]
        assert not heard, f"{c.user.username} heard the room after leaving: {heard}"
        found = leaks(c, room, stream)
        assert not found, f"{c.user.username} got events of a room it had left: {found}"
    return db


def check_changes(db: View, results: Iterable[Frame]) -> None:
    """Nothing acknowledged is lost: each message's stored version is at least the newest
    acked one (equal: same content and state), and an acked delete stays deleted.
    `results`: every message as an ack or a REST answer gave it back."""
    newest: dict[int, Frame] = {}
    deleted = set()
    for m in results:
        if m["deleted"]:
            deleted.add(m["id"])
        held = newest.get(m["id"])
        if held is None or m["version"] > held["version"]:
            newest[m["id"]] = m
    for mid, m in newest.items():
        _seq, version, content, gone = db.messages[mid]
        assert version >= m["version"], f"message {mid}: acked version {m['version']} lost"
        if version == m["version"]:
            assert (content, gone) == (m["content"], m["deleted"]), f"message {mid} differs"
    for mid in deleted:
        assert db.messages[mid][3], f"message {mid}: acked delete undone"
