"""Event streams: every change to a room, or one that concerns a user, is the next event of
that stream (gap-free), replayable after a cursor, and published on Redis once committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from api_testing import Api, User, item, store
from chat_contracts.channels import room_channel, user_channel
from chat_contracts.events import Envelope, EventType, decode_envelope
from chat_contracts.identity import VALIDATE_TOKEN_PATH
from chat_contracts.limits import ID_MAX, NAME_MAX, PAGE_MAX, TOPIC_MAX
from chat_testkit.redis import RedisServer

pytestmark = pytest.mark.integration

Json = dict[str, Any]


async def room_page(
    api: Api, user: User, room_id: int, after: int = 0, limit: int = PAGE_MAX
) -> Json:
    resp = await api.client.get(
        f"/api/rooms/{room_id}/events", params={"after": after, "limit": limit}, headers=user.auth
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def user_page(api: Api, user: User, after: int = 0, limit: int = PAGE_MAX) -> Json:
    resp = await api.client.get(
        "/api/users/me/events", params={"after": after, "limit": limit}, headers=user.auth
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def replay(read: Callable[[int], Any], after: int = 0) -> tuple[list[Json], list[Json]]:
    """Every event after `after`, page by page (a page's last event seq is the next cursor),
    and the pages read."""
    events: list[Json] = []
    pages: list[Json] = []
    while True:
        page = await read(after)
        pages.append(page)
        events += page["events"]
        if not page["has_more"]:
            return events, pages
        after = page["events"][-1]["event_seq"]


async def room_events(api: Api, user: User, room_id: int, after: int = 0) -> list[Json]:
    page = await room_page(api, user, room_id, after)
    assert not page["has_more"]
    return list(page["events"])


async def user_events(api: Api, user: User, after: int = 0) -> list[Json]:
    page = await user_page(api, user, after)
    assert not page["has_more"]
    return list(page["events"])


async def room_head(api: Api, user: User, room_id: int) -> int:
    resp = await api.client.get(f"/api/rooms/{room_id}", headers=user.auth)
    assert resp.status_code == 200, resp.text
    return int(resp.json()["event_seq"])


async def user_head(api: Api, user: User) -> int:
    return int((await user_page(api, user, limit=1))["head"])


def kinds(events: list[Json]) -> list[tuple[int, str]]:
    return [(e["event_seq"], e["event"]) for e in events]


def profile(user: User, display_name: str | None = None) -> Json:
    return {"id": user.id, "username": user.username, "display_name": display_name or user.username}


async def invite(api: Api, inviter: User, room_id: int, user: User) -> None:
    resp = await api.client.post(
        f"/api/rooms/{room_id}/invite", json={"user_id": user.id}, headers=inviter.auth
    )
    assert resp.status_code == 204, resp.text


async def join(api: Api, user: User, room_id: int) -> Json:
    resp = await api.client.post(f"/api/rooms/{room_id}/join", headers=user.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def sent(user: User, room_id: int, content: str = "hello") -> Json:
    resp = await user.send(room_id, content)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def edit(api: Api, user: User, message_id: int, content: str) -> Json:
    resp = await api.client.patch(
        f"/api/messages/{message_id}", json={"content": content}, headers=user.auth
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def delete(api: Api, user: User, message_id: int) -> Json:
    resp = await api.client.delete(f"/api/messages/{message_id}", headers=user.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def patch_room(api: Api, user: User, room_id: int, **body: Any) -> Json:
    resp = await api.client.patch(f"/api/rooms/{room_id}", json=body, headers=user.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def remove(api: Api, actor: User, room_id: int, user: User) -> None:
    resp = await api.client.delete(f"/api/rooms/{room_id}/members/{user.id}", headers=actor.auth)
    assert resp.status_code == 204, resp.text


async def leave(api: Api, user: User, room_id: int) -> None:
    resp = await api.client.post(f"/api/rooms/{room_id}/leave", headers=user.auth)
    assert resp.status_code == 204, resp.text


async def mark_read(api: Api, user: User, room_id: int, seq: int) -> Json:
    resp = await api.client.put(f"/api/rooms/{room_id}/read", json={"seq": seq}, headers=user.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def history(api: Api, user: User, room_id: int) -> list[Json]:
    resp = await api.client.get(
        "/api/messages", params={"room_id": room_id, "limit": PAGE_MAX}, headers=user.auth
    )
    assert resp.status_code == 200, resp.text
    return list(resp.json()["messages"])


# --- the room stream ---------------------------------------------------------------------


async def test_every_room_change_takes_the_next_event_seq(api: Api) -> None:
    """Sends (REST and batch), edits, deletes, invites, renames, leaves and removals each take
    the next event seq; a message's version is its last event, seq counts creations only."""
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    rid = (await api.room(alice, kind="private"))["id"]
    assert await room_head(api, alice, rid) == 0
    expected = 0

    async def next_head() -> int:
        nonlocal expected
        expected += 1
        assert await room_head(api, alice, rid) == expected
        return expected

    await invite(api, alice, rid, bob)
    await next_head()
    await invite(api, alice, rid, carol)
    await next_head()
    a = await sent(alice, rid, "a")
    assert (a["seq"], a["version"]) == (1, await next_head())
    (b,) = await store(api, [item(bob, rid, "b")])
    assert b["status"] == 201 and (b["message"]["seq"], b["message"]["version"]) == (2, 4)
    assert await next_head() == 4
    c, d = await store(api, [item(alice, rid, "c"), item(bob, rid, "d")])
    assert [(r["message"]["seq"], r["message"]["version"]) for r in (c, d)] == [(3, 5), (4, 6)]
    expected += 1
    assert await next_head() == 6
    edited = await edit(api, alice, a["id"], "a2")
    assert (edited["seq"], edited["version"]) == (1, await next_head())
    gone = await delete(api, bob, b["message"]["id"])
    assert (gone["seq"], gone["version"], gone["deleted"]) == (2, await next_head(), True)
    renamed = await patch_room(api, alice, rid, name="renamed")
    assert renamed["event_seq"] == await next_head() == 9
    assert (await patch_room(api, carol, rid, topic="a topic"))["event_seq"] == await next_head()
    await leave(api, bob, rid)
    await next_head()
    await remove(api, alice, rid, carol)
    assert await next_head() == 12

    room = (await api.client.get(f"/api/rooms/{rid}", headers=alice.auth)).json()
    assert room["last_seq"] == 4  # creations only: edits and deletes take no timeline seq
    versions = {m["content"]: (m["seq"], m["version"]) for m in await history(api, alice, rid)}
    assert versions == {"a2": (1, 7), "": (2, 8), "c": (3, 5), "d": (4, 6)}
    assert kinds(await room_events(api, alice, rid)) == [
        (1, "member.invited"),
        (2, "member.invited"),
        (5, "message.created"),
        (6, "message.created"),
        (7, "message.updated"),
        (8, "message.deleted"),
        (9, "room.updated"),
        (10, "room.updated"),
        (11, "member.left"),
        (12, "member.removed"),
    ]


async def test_joins_leaves_and_removals_in_a_public_room_are_events(api: Api) -> None:
    """In a public room joining, leaving, removing yourself (= leaving) and being removed
    each take the next event seq, with the member and count after it."""
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    rid = (await api.room(alice))["id"]
    assert (await join(api, bob, rid))["event_seq"] == 1
    await sent(alice, rid)
    assert (await join(api, carol, rid))["event_seq"] == 3
    assert (await join(api, carol, rid))["event_seq"] == 3  # joined already: no change
    await remove(api, alice, rid, bob)
    await remove(api, carol, rid, carol)
    assert await room_head(api, alice, rid) == 5
    member_events = [e for e in await room_events(api, alice, rid) if e["data"] is not None]
    assert [(e["event_seq"], e["event"], e["data"]) for e in member_events] == [
        (1, "member.joined", {"user": profile(bob), "actor_id": bob.id, "member_count": 2}),
        (3, "member.joined", {"user": profile(carol), "actor_id": carol.id, "member_count": 3}),
        (4, "member.removed", {"user": profile(bob), "actor_id": alice.id, "member_count": 2}),
        (5, "member.left", {"user": profile(carol), "actor_id": carol.id, "member_count": 1}),
    ]


async def test_replay_hands_out_each_changed_message_once_in_its_current_state(
    api: Api,
) -> None:
    """After a cursor, each changed message comes once at its last version (edited then
    deleted: once, as message.deleted), member and room events with their data."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice, name="plans")
    rid = room["id"]
    await join(api, bob, rid)  # 1
    m1, m2, m3 = [await sent(alice, rid, f"m{i}") for i in (1, 2, 3)]  # 2, 3, 4
    cursor = await room_head(api, alice, rid)
    assert cursor == 4
    await edit(api, alice, m1["id"], "m1 edited")  # 5
    await delete(api, alice, m1["id"])  # 6
    await edit(api, alice, m2["id"], "m2 edited")  # 7
    await patch_room(api, bob, rid, topic="lunch")  # 8
    m4 = await sent(bob, rid, "m4")  # 9

    page = await room_page(api, bob, rid)
    assert (page["head"], page["has_more"]) == (9, False)
    events = page["events"]
    assert kinds(events) == [
        (1, "member.joined"),
        (4, "message.created"),
        (6, "message.deleted"),
        (7, "message.updated"),
        (8, "room.updated"),
        (9, "message.created"),
    ]
    by_seq = {e["event_seq"]: e for e in events}
    assert by_seq[1]["data"] == {"user": profile(bob), "actor_id": bob.id, "member_count": 2}
    assert by_seq[1]["message"] is None and by_seq[1]["room_id"] == rid
    assert by_seq[8]["data"] == {"id": rid, "name": "plans", "topic": "lunch", "actor_id": bob.id}
    deleted = by_seq[6]["message"]
    assert (deleted["id"], deleted["seq"], deleted["version"]) == (m1["id"], 1, 6)
    assert deleted["deleted"] is True and deleted["content"] == "" and by_seq[6]["seq"] == 1
    updated = by_seq[7]["message"]
    assert (updated["id"], updated["content"], updated["version"]) == (m2["id"], "m2 edited", 7)
    assert updated["edited_at"] is not None
    assert by_seq[4]["message"] == m3 and by_seq[9]["message"] == m4
    # The replay and the history agree on every message's current state.
    current = sorted((e["message"] for e in events if e["message"]), key=lambda m: m["seq"])
    assert current == await history(api, bob, rid)

    after = await room_page(api, bob, rid, after=cursor)
    assert kinds(after["events"]) == kinds(events)[2:] and after["head"] == 9
    assert after["events"] == events[2:]
    tail = await room_page(api, bob, rid, after=9)
    assert tail == {"events": [], "head": 9, "has_more": False}
    beyond = await room_page(api, bob, rid, after=50)
    assert beyond == {"events": [], "head": 9, "has_more": False}
    for limit in (1, 2, 4, 5, 6):
        paged, pages = await replay(lambda c, n=limit: room_page(api, bob, rid, c, n))
        assert paged == events, limit
        assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
        assert all(p["head"] == 9 and len(p["events"]) <= limit for p in pages)
        assert len(pages) == -(-len(events) // limit)  # the last page says has_more false
    exact = await room_page(api, bob, rid, limit=len(events))
    assert exact["events"] == events and exact["has_more"] is False


async def test_room_events_refuse_outsiders_and_bad_params(api: Api) -> None:
    """Outsiders get 404 for a private room and 403 for a public one (also once they left);
    no token is 401; bad cursors and limits are 422."""
    alice, bob, eve = await api.user(), await api.user(), await api.user()
    private = (await api.room(alice, kind="private"))["id"]
    public = (await api.room(alice))["id"]
    await join(api, bob, public)
    await leave(api, bob, public)

    async def status(user: User | None, room_id: int, **params: Any) -> int:
        resp = await api.client.get(
            f"/api/rooms/{room_id}/events", params=params, headers=user.auth if user else {}
        )
        return resp.status_code

    assert await status(eve, private) == 404
    assert await status(eve, public) == 403
    assert await status(bob, public) == 403
    assert await status(alice, 10**9) == 404
    assert await status(None, public) == 401
    for params in (
        {"after": -1},
        {"after": ID_MAX + 1},
        {"after": "x"},
        {"limit": 0},
        {"limit": PAGE_MAX + 1},
        {"limit": "many"},
    ):
        assert await status(alice, public, **params) == 422, params
    assert await status(alice, public, after=ID_MAX, limit=PAGE_MAX) == 200


# --- user streams ------------------------------------------------------------------------


async def test_opening_a_dm_adds_the_room_for_both_users(api: Api) -> None:
    """A new DM is room.added on both users' streams (each their own view); reopening it
    adds nothing."""
    alice, bob = await api.user(), await api.user()
    opened = await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    assert opened.status_code == 201
    dm = opened.json()
    (mine,) = await user_events(api, alice)
    (theirs,) = await user_events(api, bob)
    assert (mine["event"], mine["event_seq"], mine["data"]) == ("room.added", 1, dm)
    assert (theirs["event"], theirs["event_seq"]) == ("room.added", 1)
    bob_view = (await api.client.get(f"/api/rooms/{dm['id']}", headers=bob.auth)).json()
    assert theirs["data"] == bob_view and bob_view["kind"] == "dm" and bob_view["member_count"] == 2
    again = await api.client.post("/api/dms", json={"user_id": alice.id}, headers=bob.auth)
    assert again.status_code == 200 and again.json()["id"] == dm["id"]
    assert (await user_head(api, alice), await user_head(api, bob)) == (1, 1)


async def test_invite_adds_the_room_for_the_invitee(api: Api) -> None:
    """An invite is member.invited on the room's stream and room.added on the invitee's,
    with history there but not unread."""
    alice, bob = await api.user(), await api.user()
    rid = (await api.room(alice, kind="private", name="team"))["id"]
    (created,) = await user_events(api, alice)
    assert created["event"] == "room.added" and created["data"]["id"] == rid
    await sent(alice, rid, "before you came")
    await sent(alice, rid, "still before")
    await invite(api, alice, rid, bob)
    (added,) = await user_events(api, bob)
    assert added["event"] == "room.added" and added["event_seq"] == 1
    data = added["data"]
    assert (data["id"], data["name"], data["kind"], data["member_count"]) == (
        rid,
        "team",
        "private",
        2,
    )
    assert (data["last_seq"], data["last_read_seq"], data["unread"], data["event_seq"]) == (
        2,
        2,
        0,
        3,
    )
    (invited,) = [e for e in await room_events(api, alice, rid) if e["event"] == "member.invited"]
    assert invited["event_seq"] == 3
    assert invited["data"] == {"user": profile(bob), "actor_id": alice.id, "member_count": 2}
    # Inviting a member again changes nothing.
    await invite(api, alice, rid, bob)
    assert await room_head(api, alice, rid) == 3 and await user_head(api, bob) == 1


async def test_remove_and_leave_end_the_membership_on_both_streams(api: Api) -> None:
    """Removal is member.removed + room.removed(removed) for the member; leaving is
    member.left + room.removed(left); the former member then sees nothing of the room."""
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    rid = (await api.room(alice, kind="private"))["id"]
    await invite(api, alice, rid, bob)
    await invite(api, alice, rid, carol)
    await remove(api, alice, rid, bob)
    await leave(api, carol, rid)
    assert kinds(await room_events(api, alice, rid)) == [
        (1, "member.invited"),
        (2, "member.invited"),
        (3, "member.removed"),
        (4, "member.left"),
    ]
    removed, left = await room_events(api, alice, rid, after=2)
    assert removed["data"] == {"user": profile(bob), "actor_id": alice.id, "member_count": 2}
    assert left["data"] == {"user": profile(carol), "actor_id": carol.id, "member_count": 1}
    assert [(e["event_seq"], e["event"], e["data"]) for e in await user_events(api, bob)] == [
        (1, "room.added", (await user_events(api, bob))[0]["data"]),
        (2, "room.removed", {"room_id": rid, "reason": "removed"}),
    ]
    assert [(e["event"], e["data"]) for e in await user_events(api, carol, after=1)] == [
        ("room.removed", {"room_id": rid, "reason": "left"})
    ]
    gone = await api.client.get(f"/api/rooms/{rid}/events", headers=bob.auth)
    assert gone.status_code == 404
    # The creator's own stream only had the room's creation.
    assert [e["event"] for e in await user_events(api, alice)] == ["room.added"]


async def test_display_name_change_reaches_the_user_and_every_co_member_only(api: Api) -> None:
    """user.updated goes once to the user and once to each co-member (however many rooms
    they share), never to strangers; an unchanged name adds nothing."""
    alice, bob, carol, dave = [await api.user() for _ in range(4)]
    general = (await api.room(alice))["id"]
    await join(api, bob, general)
    await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    secret = (await api.room(carol, kind="private"))["id"]
    await invite(api, carol, secret, alice)
    elsewhere = (await api.room(bob))["id"]
    await join(api, dave, elsewhere)  # dave shares a room with bob, not with alice
    heads = {u.id: await user_head(api, u) for u in (alice, bob, carol, dave)}

    resp = await api.client.put(
        "/api/users/me", json={"display_name": "Alice A."}, headers=alice.auth
    )
    assert resp.status_code == 200 and resp.json()["display_name"] == "Alice A."
    for member in (alice, bob, carol):
        (event,) = await user_events(api, member, after=heads[member.id])
        assert event["event"] == "user.updated"
        assert event["event_seq"] == heads[member.id] + 1
        assert event["data"] == profile(alice, "Alice A.")
    assert await user_head(api, dave) == heads[dave.id]
    assert await user_events(api, dave, after=heads[dave.id]) == []
    same = await api.client.put(
        "/api/users/me", json={"display_name": "Alice A."}, headers=alice.auth
    )
    assert same.status_code == 200
    assert [await user_head(api, u) for u in (alice, bob, carol)] == [
        heads[u.id] + 1 for u in (alice, bob, carol)
    ]
    # Later member events name the user by their new display name.
    await leave(api, alice, general)
    left = (await room_events(api, bob, general))[-1]
    assert left["event"] == "member.left" and left["data"]["user"] == profile(alice, "Alice A.")


async def test_moving_the_read_marker_is_an_event_with_the_servers_unread_count(
    api: Api,
) -> None:
    """A PUT that moves the marker is read.moved with the unread count the server answered;
    one that moves nothing (same, older, or already at the end) adds no event."""
    alice, bob = await api.user(), await api.user()
    rid = (await api.room(alice))["id"]
    await join(api, bob, rid)
    for i in range(3):
        await sent(alice, rid, f"m{i}")
    start = await user_head(api, bob)
    head = await room_head(api, bob, rid)
    moved = await mark_read(api, bob, rid, 1)
    at_head = {"last_seq": 3, "event_seq": head}
    assert moved == {"room_id": rid, "last_read_seq": 1, "unread": 2, **at_head}
    (event,) = await user_events(api, bob, after=start)
    assert (event["event"], event["event_seq"], event["data"]) == ("read.moved", start + 1, moved)
    assert await mark_read(api, bob, rid, 1) == moved
    assert await mark_read(api, bob, rid, 0) == moved
    assert await user_head(api, bob) == start + 1
    to_end = await mark_read(api, bob, rid, 10**6)
    assert to_end == {"room_id": rid, "last_read_seq": 3, "unread": 0, **at_head}
    assert await mark_read(api, bob, rid, 10**6) == to_end
    events = await user_events(api, bob, after=start)
    assert [(e["event_seq"], e["event"], e["data"]) for e in events] == [
        (start + 1, "read.moved", moved),
        (start + 2, "read.moved", to_end),
    ]
    room = (await api.client.get(f"/api/rooms/{rid}", headers=bob.auth)).json()
    assert (room["last_read_seq"], room["unread"]) == (3, 0)


async def test_logout_and_password_change_revoke_sessions_on_the_user_stream(api: Api) -> None:
    """Logout is session.revoked naming the session; a password change is session.revoked
    for every session (session_id null); the user's seqs stay gap-free."""
    alice = await api.user()
    second = await api.login(alice.username)
    checked = await api.internal.post(
        VALIDATE_TOKEN_PATH, json={"token": alice.tokens["access_token"]}
    )
    sid = checked.json()["sid"]
    assert (await api.client.post("/api/logout", headers=alice.auth)).status_code == 204
    changed = await api.client.put(
        "/api/users/me",
        json={"current_password": "correct horse 1", "new_password": "another pw 2"},
        headers={"Authorization": f"Bearer {second['access_token']}"},
    )
    assert changed.status_code == 200
    fresh = await api.login(alice.username, "another pw 2")
    reader = User(api, alice.id, alice.username, fresh)
    page = await user_page(api, reader)
    assert [(e["event_seq"], e["event"], e["data"]) for e in page["events"]] == [
        (1, "session.revoked", {"user_id": alice.id, "session_id": sid, "reason": "logout"}),
        (
            2,
            "session.revoked",
            {"user_id": alice.id, "session_id": None, "reason": "password_changed"},
        ),
    ]
    assert (page["head"], page["has_more"]) == (2, False)


async def test_user_stream_pages_and_validate_token_answers_its_head(api: Api) -> None:
    """GET /users/me/events pages like one page, seqs 1..head with no gap; validate-token's
    user_seq is the head; bad params are 422."""
    alice, bob = await api.user(), await api.user()
    rooms = [(await api.room(alice, name=f"r{i}"))["id"] for i in range(3)]
    await join(api, bob, rooms[0])
    await sent(bob, rooms[0])
    await mark_read(api, alice, rooms[0], 1)
    await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    await api.client.put("/api/users/me", json={"display_name": "Al"}, headers=alice.auth)
    whole = await user_page(api, alice)
    assert whole["has_more"] is False and whole["head"] == 6
    assert [e["event_seq"] for e in whole["events"]] == list(range(1, 7))
    assert [e["event"] for e in whole["events"]] == [
        "room.added",
        "room.added",
        "room.added",
        "read.moved",
        "room.added",
        "user.updated",
    ]
    assert all(e["room_id"] is None and e["message"] is None for e in whole["events"])
    for limit in (1, 2, 5):
        paged, pages = await replay(lambda c, n=limit: user_page(api, alice, c, n))
        assert paged == whole["events"], limit
        assert all(p["head"] == 6 for p in pages) and pages[-1]["has_more"] is False
        assert all(p["has_more"] for p in pages[:-1])
    assert (await user_page(api, alice, after=4))["events"] == whole["events"][4:]
    assert await user_page(api, alice, after=6) == {"events": [], "head": 6, "has_more": False}
    checked = await api.internal.post(
        VALIDATE_TOKEN_PATH, json={"token": alice.tokens["access_token"]}
    )
    assert checked.status_code == 200 and checked.json()["user_seq"] == 6
    fresh = await api.user()
    checked = await api.internal.post(
        VALIDATE_TOKEN_PATH, json={"token": fresh.tokens["access_token"]}
    )
    assert checked.json()["user_seq"] == 0
    for params in ({"after": -1}, {"limit": 0}, {"limit": PAGE_MAX + 1}, {"after": "x"}):
        resp = await api.client.get("/api/users/me/events", params=params, headers=alice.auth)
        assert resp.status_code == 422, params
    assert (await api.client.get("/api/users/me/events")).status_code == 401


# --- published after commit --------------------------------------------------------------


class Listener:
    """A real Redis subscription to some room and user channels."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.early: list[dict[str, Any]] = []  # events read while waiting for a confirmation

    async def subscribe(self, *channels: str) -> None:
        """Returns once Redis confirmed each subscription, so nothing published after it
        can be missed."""
        await self.pubsub.subscribe(*channels)
        pending = set(channels)
        async with asyncio.timeout(10):
            while pending:
                msg = await self.pubsub.get_message(timeout=1.0)
                if msg is None:
                    continue
                if msg["type"] == "subscribe":
                    pending.discard(msg["channel"].decode())
                else:
                    self.early.append(msg)

    async def next(self) -> tuple[str, Envelope]:
        """The next event on any subscribed channel (bounded: a missing one fails)."""
        msg = self.early.pop(0) if self.early else None
        async with asyncio.timeout(10):
            while msg is None:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        return msg["channel"].decode(), decode_envelope(msg["data"])

    async def take(self, count: int) -> list[tuple[str, Envelope]]:
        return [await self.next() for _ in range(count)]

    async def close(self) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()


@pytest.fixture
async def listener(redis_server: RedisServer) -> Any:
    made = Listener(redis_server.url)
    yield made
    await made.close()


async def test_room_and_user_events_are_published_with_their_stream_and_seq(
    api_factory, redis_server: RedisServer, listener: Listener
) -> None:
    """Each committed event is published on its stream's channel: room events carry room_id
    and the room's event_seq, user events user_id and the user's; each equals the replay."""
    api: Api = await api_factory(redis_url=redis_server.url)
    alice, bob = await api.user(), await api.user()
    await listener.subscribe(user_channel(alice.id), user_channel(bob.id))
    rid = (await api.room(alice, kind="private"))["id"]
    await listener.subscribe(room_channel(rid))
    await invite(api, alice, rid, bob)
    message = await sent(alice, rid, "hi")
    await mark_read(api, bob, rid, 1)
    (batched,) = await store(api, [item(bob, rid, "batched")])
    await edit(api, alice, message["id"], "hi!")
    await patch_room(api, bob, rid, name="new name", topic="t")
    await remove(api, alice, rid, bob)
    await api.client.put("/api/users/me", json={"display_name": "A"}, headers=alice.auth)

    heard = await listener.take(11)
    room_ch, alice_ch, bob_ch = room_channel(rid), user_channel(alice.id), user_channel(bob.id)
    assert [(ch, e.type.value) for ch, e in heard] == [
        (alice_ch, "room.added"),
        (room_ch, "member.invited"),
        (bob_ch, "room.added"),
        (room_ch, "message.created"),
        (bob_ch, "read.moved"),
        (room_ch, "message.created"),
        (room_ch, "message.updated"),
        (room_ch, "room.updated"),
        (room_ch, "member.removed"),
        (bob_ch, "room.removed"),
        (alice_ch, "user.updated"),  # bob no longer shares a room with alice
    ]
    on_room = [e for ch, e in heard if ch == room_ch]
    assert all(e.room_id == rid and e.user_id is None and e.v == 2 for e in on_room)
    assert [e.event_seq for e in on_room] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in on_room] == [None, 1, 2, 1, None, None]
    assert on_room[1].data == message and on_room[2].data == batched["message"]
    assert on_room[3].data["content"] == "hi!" and on_room[3].data["version"] == 4
    for user, channel in ((alice, alice_ch), (bob, bob_ch)):
        mine = [e for ch, e in heard if ch == channel]
        assert all(e.user_id == user.id and e.room_id is None for e in mine)
        assert [e.event_seq for e in mine] == list(range(1, len(mine) + 1))
    # What was published is what a replay hands out (the edited message at its last version).
    replayed = {e["event_seq"]: e for e in await room_events(api, alice, rid)}
    for envelope in on_room:
        event = replayed.get(envelope.event_seq)
        if event is None:
            assert envelope.event_seq == 2  # superseded by the edit at 4
            continue
        assert event["event"] == envelope.type.value
        assert (event["message"] or event["data"]) == envelope.data
    bob_heard = [(e.event_seq, e.type.value, e.data) for ch, e in heard if ch == bob_ch]
    bob_replayed = [(e["event_seq"], e["event"], e["data"]) for e in await user_events(api, bob)]
    assert bob_heard == bob_replayed


async def test_failed_actions_write_and_publish_nothing(
    api_factory, redis_server: RedisServer, listener: Listener
) -> None:
    """A refused action (403 remove by a non-creator, 409 edit or delete of a deleted
    message, 422 rename) writes no event, publishes none and leaves no gap."""
    api: Api = await api_factory(redis_url=redis_server.url)
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    rid = (await api.room(alice, kind="private"))["id"]
    await invite(api, alice, rid, bob)
    await invite(api, alice, rid, carol)
    doomed = await sent(bob, rid, "soon gone")
    await delete(api, bob, doomed["id"])
    room_before = await room_head(api, alice, rid)
    user_before = {u.id: await user_head(api, u) for u in (alice, bob, carol)}
    await listener.subscribe(room_channel(rid), *(user_channel(u.id) for u in (alice, bob, carol)))

    msg = f"/api/messages/{doomed['id']}"
    refusals: list[tuple[User, str, str, Json | None, int]] = [
        (bob, "DELETE", f"/api/rooms/{rid}/members/{carol.id}", None, 403),  # not the creator
        (bob, "PATCH", msg, {"content": "back"}, 409),  # deleted
        (bob, "DELETE", msg, None, 409),  # deleted already
        (alice, "PATCH", msg, {"content": "mine"}, 403),  # not the sender
        (bob, "PATCH", f"/api/rooms/{rid}", {"name": " "}, 422),
        (alice, "DELETE", f"/api/rooms/{rid}/members/{10**9}", None, 404),
        (carol, "POST", f"/api/rooms/{rid}/join", None, 200),  # a member already
        (carol, "PUT", f"/api/rooms/{rid}/read", {"seq": 0}, 200),  # moves nothing
    ]
    for user, method, path, body, status in refusals:
        resp = await api.client.request(method, path, json=body, headers=user.auth)
        assert resp.status_code == status, (method, path, resp.text)
    assert await room_head(api, alice, rid) == room_before
    assert {u.id: await user_head(api, u) for u in (alice, bob, carol)} == user_before

    after = await sent(alice, rid, "next")
    assert after["version"] == room_before + 1
    await mark_read(api, carol, rid, after["seq"])
    (ch1, first), (ch2, second) = await listener.take(2)
    assert (ch1, first.type, first.event_seq) == (
        room_channel(rid),
        EventType.MESSAGE_CREATED,
        room_before + 1,
    )
    assert (ch2, second.type, second.event_seq) == (
        user_channel(carol.id),
        EventType.READ_MOVED,
        user_before[carol.id] + 1,
    )
    assert [e["event_seq"] for e in await room_events(api, alice, rid, after=room_before)] == [
        room_before + 1
    ]


# --- concurrency -------------------------------------------------------------------------


async def test_concurrent_changes_number_the_room_stream_without_gaps(api_factory) -> None:
    """Sends (REST and batch), edits and joins racing through three API apps on one database
    end with event seqs 1..N exactly: no duplicate, no gap; the timeline is gap-free too."""
    apis: list[Api] = [await api_factory(db_pool_timeout_seconds=60) for _ in range(3)]
    api = apis[0]
    owner = await api.user()
    rid = (await api.room(owner))["id"]
    members = [await api.user() for _ in range(5)]
    for member in members:
        await join(api, member, rid)
    originals = {m.id: [await sent(m, rid, f"{m.id}-{i}") for i in range(2)] for m in members}
    newcomers = [await api.user() for _ in range(8)]
    seen: list[int] = [m["version"] for ms in originals.values() for m in ms]

    def on(index: int, user: User) -> User:
        """The same user, talking to another of the apps."""
        return User(apis[index % len(apis)], user.id, user.username, user.tokens)

    async def rest_send(i: int, user: User) -> list[int]:
        resp = await on(i, user).send(rid, f"rest {i}")
        assert resp.status_code == 201, resp.text
        return [resp.json()["version"]]

    async def batch_send(i: int, user: User) -> list[int]:
        target = apis[i % len(apis)]
        results = await store(target, [item(user, rid, f"b{i}a"), item(user, rid, f"b{i}b")])
        assert [r["status"] for r in results] == [201, 201], results
        return [r["message"]["version"] for r in results]

    async def edit_one(i: int, user: User, message: Json) -> list[int]:
        target = apis[i % len(apis)]
        return [(await edit(target, user, message["id"], f"edit {i}"))["version"]]

    async def join_one(i: int, user: User) -> list[int]:
        await join(apis[i % len(apis)], user, rid)
        return []  # its event seq is read from the replay below

    work = []
    for i, member in enumerate(members):
        work += [rest_send(i, member), rest_send(i + 1, member), batch_send(i + 2, member)]
        work += [edit_one(i, member, originals[member.id][0])]
        work += [edit_one(i + 1, member, originals[member.id][1])]
    work += [join_one(i, user) for i, user in enumerate(newcomers)]
    for answer in await asyncio.gather(*work):
        seen += answer

    events, _ = await replay(lambda c: room_page(api, owner, rid, c, 50))
    member_events = [e for e in events if e["event"] == "member.joined"]
    seen += [e["event_seq"] for e in member_events]
    head = await room_head(api, owner, rid)
    assert len(seen) == len(set(seen)), "an event seq was handed out twice"
    assert sorted(seen) == list(range(1, head + 1))
    assert head == len(members) + 10 + 20 + 10 + 8
    # The count after each join, in stream order, is one more each time.
    counts = [e["data"]["member_count"] for e in member_events]
    assert counts == list(range(2, 2 + len(members) + len(newcomers)))
    timeline = await history(api, owner, rid)
    assert [m["seq"] for m in timeline] == list(range(1, 10 + 20 + 1))
    # Each message is in the replay once, at the version the history shows.
    replayed = {e["message"]["id"]: e["message"] for e in events if e["message"]}
    assert replayed == {m["id"]: m for m in timeline}


async def test_one_users_concurrent_room_changes_do_not_deadlock(api_factory) -> None:
    """A user creating rooms, joining rooms and opening DMs all at once gets every answer,
    and their stream numbers them 1..N."""
    api: Api = await api_factory(db_pool_timeout_seconds=60)
    alice, bob = await api.user(), await api.user()
    others = [await api.user() for _ in range(4)]
    publics = [(await api.room(bob, name=f"p{i}"))["id"] for i in range(4)]

    async def create(i: int) -> int:
        resp = await api.client.post(
            "/api/rooms", json={"name": f"mine {i}", "kind": "public"}, headers=alice.auth
        )
        return resp.status_code

    async def enter(room_id: int) -> int:
        return (await api.client.post(f"/api/rooms/{room_id}/join", headers=alice.auth)).status_code

    async def dm(other: User) -> int:
        resp = await api.client.post("/api/dms", json={"user_id": other.id}, headers=alice.auth)
        return resp.status_code

    statuses = await asyncio.gather(
        *(create(i) for i in range(4)), *(enter(r) for r in publics), *(dm(o) for o in others)
    )
    assert statuses == [201] * 4 + [200] * 4 + [201] * 4
    page = await user_page(api, alice)
    assert [e["event_seq"] for e in page["events"]] == list(range(1, 13)) and page["head"] == 12


async def test_co_members_renaming_at_once_do_not_deadlock(api_factory) -> None:
    """Users who share rooms changing their display names at the same moment all succeed,
    and each hears every co-member's change once."""
    api: Api = await api_factory(db_pool_timeout_seconds=60)
    users = [await api.user() for _ in range(6)]
    rid = (await api.room(users[0]))["id"]
    for user in users[1:]:
        await join(api, user, rid)
    heads = {u.id: await user_head(api, u) for u in users}
    answers = await asyncio.gather(
        *(
            api.client.put("/api/users/me", json={"display_name": f"n{i}"}, headers=u.auth)
            for i, u in enumerate(users)
        )
    )
    assert [a.status_code for a in answers] == [200] * len(users)
    for user in users:
        events = await user_events(api, user, after=heads[user.id])
        assert [e["event_seq"] for e in events] == list(
            range(heads[user.id] + 1, heads[user.id] + 1 + len(users))
        )
        assert sorted(e["data"]["id"] for e in events) == sorted(u.id for u in users)


# --- who may change a room ---------------------------------------------------------------


async def test_only_the_creator_removes_members_and_dms_have_none_to_remove(api: Api) -> None:
    """Removing others is for the room's creator (403 otherwise); nobody is removed from a
    DM or leaves it (403); outsiders get 404 (private) / 403 (public); none writes an event."""
    alice, bob, carol, eve = [await api.user() for _ in range(4)]
    public = (await api.room(alice))["id"]
    await join(api, bob, public)
    await join(api, carol, public)
    private = (await api.room(alice, kind="private"))["id"]
    await invite(api, alice, private, bob)
    await invite(api, alice, private, carol)
    await invite(api, bob, private, eve)  # any member may invite; eve is in now
    dm = (await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)).json()
    outsider = await api.user()
    heads = {r: await room_head(api, alice, r) for r in (public, private, dm["id"])}

    async def status(actor: User, room_id: int, user_id: int) -> tuple[int, str]:
        resp = await api.client.delete(
            f"/api/rooms/{room_id}/members/{user_id}", headers=actor.auth
        )
        return resp.status_code, resp.json()["detail"]

    not_creator = (403, "only the room's creator can remove members")
    assert await status(bob, public, carol.id) == not_creator
    assert await status(bob, private, carol.id) == not_creator
    assert await status(eve, private, alice.id) == not_creator
    assert await status(alice, dm["id"], bob.id) == (
        403,
        "cannot remove anyone from a direct message",
    )
    assert await status(alice, dm["id"], alice.id) == (403, "cannot leave a direct message")
    assert (await status(outsider, private, bob.id))[0] == 404
    assert (await status(outsider, public, bob.id))[0] == 403
    assert (await status(outsider, dm["id"], bob.id))[0] == 404
    assert await status(alice, public, outsider.id) == (404, "not a member of this room")
    assert (await status(alice, 10**9, bob.id))[0] == 404
    assert {r: await room_head(api, alice, r) for r in heads} == heads
    # The creator may remove anyone, and may be left by anyone.
    await remove(api, alice, private, eve)
    await remove(api, bob, private, bob)
    assert kinds(await room_events(api, alice, private, after=heads[private])) == [
        (heads[private] + 1, "member.removed"),
        (heads[private] + 2, "member.left"),
    ]


async def test_any_member_renames_a_room_but_not_a_dm(api: Api) -> None:
    """PATCH /rooms/{id}: any member renames or sets the topic (room.updated, the new view
    answered); a DM is 403; outsiders 404 (private) / 403 (public); no change, no event."""
    alice, bob, eve = [await api.user() for _ in range(3)]
    public = (await api.room(alice, name="old"))["id"]
    await join(api, bob, public)
    private = (await api.room(alice, kind="private"))["id"]
    dm = (await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)).json()

    view = await patch_room(api, bob, public, name="  new  ", topic="  what we do  ")
    assert (view["name"], view["topic"], view["event_seq"]) == ("new", "what we do", 2)
    listed = (await api.client.get(f"/api/rooms/{public}", headers=alice.auth)).json()
    assert (listed["name"], listed["topic"], listed["event_seq"]) == ("new", "what we do", 2)
    assert (await patch_room(api, alice, public, topic=""))["topic"] == ""
    unchanged = await patch_room(api, alice, public, name="new")
    assert unchanged["event_seq"] == 3
    assert (await patch_room(api, alice, public))["event_seq"] == 3
    events = [e for e in await room_events(api, alice, public) if e["event"] == "room.updated"]
    assert [(e["event_seq"], e["data"]) for e in events] == [
        (2, {"id": public, "name": "new", "topic": "what we do", "actor_id": bob.id}),
        (3, {"id": public, "name": "new", "topic": "", "actor_id": alice.id}),
    ]

    async def status(user: User, room_id: int, body: Json) -> int:
        resp = await api.client.patch(f"/api/rooms/{room_id}", json=body, headers=user.auth)
        return resp.status_code

    assert await status(alice, dm["id"], {"name": "ours"}) == 403
    assert await status(bob, dm["id"], {"topic": "ours"}) == 403
    assert await status(eve, private, {"name": "mine"}) == 404
    assert await status(eve, public, {"name": "mine"}) == 403
    assert await status(alice, 10**9, {"name": "x"}) == 404
    assert (await api.client.patch(f"/api/rooms/{public}", json={"name": "x"})).status_code == 401
    assert await room_head(api, alice, public) == 3
    assert await room_head(api, alice, dm["id"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "\x1c\x1f"},  # str.strip() removes these: the name would be stored empty
        {"name": "\u0085"},
        {"name": "\ufeff"},
        {"name": "n" * (NAME_MAX + 1)},
        {"name": "a\x00b"},
        {"name": 5},
        {"topic": "a\x00b"},
        {"topic": "t" * (TOPIC_MAX + 1)},
        {"topic": ["t"]},
        {"name": "ok", "kind": "private"},
    ],
    ids=[
        "empty-name",
        "blank-name",
        "separators-name",
        "nel-name",
        "bom-name",
        "long-name",
        "nul-name",
        "int-name",
        "nul-topic",
        "long-topic",
        "list-topic",
        "unknown-field",
    ],
)
async def test_bad_room_updates_are_422_and_change_nothing(api: Api, body: Json) -> None:
    """An oversized, blank (whatever the whitespace) or NUL name, a NUL or oversized topic,
    a wrong type or an unknown field is 422, and the room stays as it was."""
    alice = await api.user()
    room = await api.room(alice, name="kept")
    resp = await api.client.patch(f"/api/rooms/{room['id']}", json=body, headers=alice.auth)
    assert resp.status_code == 422, resp.text
    after = (await api.client.get(f"/api/rooms/{room['id']}", headers=alice.auth)).json()
    assert (after["name"], after["topic"], after["event_seq"]) == ("kept", "", 0)


async def test_patch_on_the_public_room_list_is_method_not_allowed(api: Api) -> None:
    """PATCH /rooms/public is the list's 405 (Allow: GET), not a 422 from PATCH /rooms/{id}
    reading "public" as an id."""
    alice = await api.user()
    resp = await api.client.patch("/api/rooms/public", json={"name": "x"}, headers=alice.auth)
    assert resp.status_code == 405 and resp.headers["allow"] == "GET"
    room = await api.room(alice)
    assert (await patch_room(api, alice, room["id"], name="y"))["name"] == "y"
    paths = (await api.client.get("/api/openapi.json")).json()["paths"]
    assert "patch" in paths["/api/rooms/{room_id}"] and "patch" not in paths["/api/rooms/public"]
