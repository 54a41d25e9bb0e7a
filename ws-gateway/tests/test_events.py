"""Room and user event streams through two replicas on one Redis (resume.py, intake.py):
changes made while a client was away are applied after its resume, on either replica,
and user events reach every socket of the user wherever it is connected."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from chat_testkit.client import Client, User, create_room, register, rest, room_history
from conftest import ORIGIN, Api, Gateway, GatewayFactory

pytestmark = pytest.mark.integration
Frame = dict[str, Any]


@pytest.fixture(scope="module")
def pair(module_gateways: GatewayFactory, api_server: Api) -> list[Gateway]:
    return module_gateways(2, api=api_server)


class Mirror:
    """A client's view of one room, built only from event frames (as a browser would)."""

    def __init__(self) -> None:
        self.messages: dict[int, Frame] = {}
        self.members: set[int] = set()
        self.name = ""
        self.cursor = 0

    def apply(self, frame: Frame) -> None:
        if "message" in frame:
            msg = frame["message"]
            held = self.messages.get(msg["id"])
            if held is None or msg["version"] > held["version"]:
                self.messages[msg["id"]] = msg
        elif frame["event"] in ("member.joined", "member.invited"):
            self.members.add(frame["data"]["user"]["id"])
        elif frame["event"] in ("member.left", "member.removed"):
            self.members.discard(frame["data"]["user"]["id"])
        elif frame["event"] == "room.updated":
            self.name = frame["data"]["name"]
        self.cursor = max(self.cursor, frame["event_seq"])


def _send(api_url: str, user: User, room: int, content: str) -> Frame:
    body = {"room_id": room, "content": content, "client_msg_id": uuid.uuid4().hex}
    r = rest(api_url, "POST", "/messages", user, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _db_state(api_url: str, user: User, room: int) -> tuple[dict[int, Frame], set[int], str]:
    with httpx.Client(base_url=api_url) as http:
        messages = {m["id"]: m for m in room_history(http, user.token, room)}
    members = rest(api_url, "GET", f"/rooms/{room}/members", user).json()
    name = rest(api_url, "GET", f"/rooms/{room}", user).json()["name"]
    return messages, {m["id"] for m in members}, name


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
async def test_changes_made_while_away_are_applied_after_resume_on_either_replica(
    api_server: Api, pair: list[Gateway], order: str
) -> None:
    """Edits, deletes, joins, leaves and a rename made while the socket was gone are all in
    the resume replay; the mirror then equals the database, and live events continue."""
    first, second = pair if order == "a-then-b" else pair[::-1]
    alice, bob, carol = (register(api_server.url) for _ in range(3))
    room = create_room(api_server.url, alice, bob)
    mirror = Mirror()
    mirror.members = {alice.id, bob.id}
    kept = _send(api_server.url, alice, room, f"kept-{order}")
    doomed = _send(api_server.url, bob, room, f"doomed-{order}")
    c = await Client.authed(first.url, alice.token, ORIGIN)
    joined = await c.join(room)
    mirror.cursor = joined["event_seq"]
    mirror.messages = {m["id"]: m for m in (kept, doomed)}
    await c.close()
    # Away: every kind of room change.
    edited = rest(api_server.url, "PATCH", f"/messages/{kept['id']}", alice, json={"content": "v2"})
    assert edited.status_code == 200
    assert rest(api_server.url, "DELETE", f"/messages/{doomed['id']}", bob).status_code == 200
    assert rest(api_server.url, "POST", f"/rooms/{room}/join", carol).status_code == 200
    _send(api_server.url, carol, room, f"hello-{order}")
    assert rest(api_server.url, "POST", f"/rooms/{room}/leave", bob).status_code == 204
    renamed = rest(api_server.url, "PATCH", f"/rooms/{room}", alice, json={"name": "renamed"})
    assert renamed.status_code == 200
    c = await Client.authed(second.url, alice.token, ORIGIN)
    await c.send({"type": "resume", "rooms": {str(room): mirror.cursor}})
    resumed = await c.expect(lambda f: f["type"] == "resumed", "resumed")
    for frame in c.events(room):
        assert frame.get("replay") is True
        mirror.apply(frame)
    assert resumed["event_seq"] == renamed.json()["event_seq"] == mirror.cursor
    messages, members, name = _db_state(api_server.url, alice, room)
    assert mirror.messages == messages
    assert mirror.members == members == {alice.id, carol.id}
    assert mirror.name == name == "renamed"
    # Live again: the next change arrives as the next event seq.
    _send(api_server.url, carol, room, f"after-{order}")
    live = await c.expect(lambda f: f["type"] == "event" and not f.get("replay"), "live event")
    assert live["event_seq"] == mirror.cursor + 1
    await c.close()


async def test_user_events_reach_every_socket_of_the_user_on_both_replicas(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A new DM, a private-room invite and a co-member's rename reach the user's sockets on
    both replicas at once; a read marker moved on one device reaches the other."""
    alice, bob = register(api_server.url), register(api_server.url)
    sockets = [await Client.authed(gw.url, bob.token, ORIGIN) for gw in pair]
    dm = rest(api_server.url, "POST", "/dms", alice, json={"user_id": bob.id})
    assert dm.status_code == 201
    private = create_room(api_server.url, alice, bob, kind="private")
    assert rest(api_server.url, "PUT", "/users/me", alice, json={"display_name": "Al"}).is_success
    _send(api_server.url, alice, private, "unread one")
    moved = rest(api_server.url, "PUT", f"/rooms/{private}/read", bob, json={"seq": 1})
    assert moved.is_success and moved.json()["unread"] == 0
    for s in sockets:
        added = await s.expect(
            lambda f: (
                f["type"] == "user_event"
                and f["event"] == "room.added"
                and f["data"]["id"] == private
            ),
            "invite",
        )
        await s.expect(
            lambda f: f["type"] == "user_event" and f["data"].get("display_name") == "Al",
            "rename",
        )
        read = await s.expect(
            lambda f: f["type"] == "user_event" and f["event"] == "read.moved", "read moved"
        )
        assert read["data"] == moved.json()  # the event is what the PUT answered
        kinds = [(f["event"], f["user_seq"]) for f in s.frames if f["type"] == "user_event"]
        assert [k for k, _ in kinds] == ["room.added", "room.added", "user.updated", "read.moved"]
        assert [n for _, n in kinds] == [1, 2, 3, 4], "one gap-free stream, once each"
        assert added["data"]["kind"] == "private"
    for s in sockets:
        await s.close()


async def test_a_removed_member_stops_receiving_the_room(
    api_server: Api, pair: list[Gateway]
) -> None:
    """After member.removed the removed user's socket is unsubscribed: later room events do
    not reach it and its sends there are refused as not joined."""
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob, kind="private")
    b = await Client.authed(pair[1].url, bob.token, ORIGIN)
    await b.join(room)
    r = rest(api_server.url, "DELETE", f"/rooms/{room}/members/{bob.id}", alice)
    assert r.status_code == 204
    removed = await b.expect(lambda f: f.get("event") == "member.removed", "member.removed")
    assert removed["data"]["user"]["id"] == bob.id
    await b.expect(lambda f: f.get("event") == "room.removed", "room.removed")
    _send(api_server.url, alice, room, "secret after removal")
    nack = await b.request(
        {"type": "message", "room_id": room, "client_msg_id": "late", "content": "x"},
        lambda f: f["type"] == "nack",
        "nack",
    )
    assert nack["retryable"] is False and "not joined" in nack["error"]
    assert not [f for f in b.events(room) if "message" in f], "nothing of the room after it"
    await b.close()


async def test_user_stream_resumes_from_its_cursor(api_server: Api, pair: list[Gateway]) -> None:
    """What concerned the user while they were away is replayed by `resume` with user_seq,
    then `user_resumed` names the head."""
    alice, bob = register(api_server.url), register(api_server.url)
    c = await Client.authed(pair[0].url, bob.token, ORIGIN)
    start = next(f for f in c.frames if f["type"] == "auth_ok")["user_seq"]
    await c.close()
    room = create_room(api_server.url, alice, bob, kind="private")
    assert rest(api_server.url, "POST", "/dms", alice, json={"user_id": bob.id}).status_code == 201
    c = await Client.authed(pair[1].url, bob.token, ORIGIN)
    await c.send({"type": "resume", "user_seq": start})
    done = await c.expect(lambda f: f["type"] == "user_resumed", "user_resumed")
    replayed = [f for f in c.frames if f["type"] == "user_event"]
    assert replayed[0]["data"]["id"] == room
    assert [f["user_seq"] for f in replayed] == [start + 1, start + 2] == [1, 2]
    assert done["user_seq"] == start + 2
    await c.close()
