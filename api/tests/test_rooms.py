"""Rooms: public/private/DM visibility, membership on every read and write, read markers."""

from __future__ import annotations

import asyncio

import pytest
from api_testing import Api

pytestmark = pytest.mark.integration


async def test_public_room_lifecycle(api: Api) -> None:
    """Create, list, join, see members, leave: membership follows each step."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice, name="general")
    assert room["member_count"] == 1 and room["kind"] == "public"
    listed = await api.client.get("/api/rooms/public", headers=bob.auth)
    assert room["id"] in [r["id"] for r in listed.json()]
    assert (await api.client.get(f"/api/rooms/{room['id']}", headers=bob.auth)).status_code == 403
    joined = await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    assert joined.status_code == 200 and joined.json()["member_count"] == 2
    again = await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    assert again.status_code == 200 and again.json()["member_count"] == 2
    members = await api.client.get(f"/api/rooms/{room['id']}/members", headers=alice.auth)
    assert sorted(m["id"] for m in members.json()) == sorted([alice.id, bob.id])
    mine = await api.client.get("/api/rooms", headers=bob.auth)
    assert room["id"] in [r["id"] for r in mine.json()]
    assert (
        await api.client.post(f"/api/rooms/{room['id']}/leave", headers=bob.auth)
    ).status_code == 204
    assert (await bob.send(room["id"])).status_code == 403
    mine = await api.client.get("/api/rooms", headers=bob.auth)
    assert room["id"] not in [r["id"] for r in mine.json()]


async def test_invite_only_into_private_rooms(api: Api) -> None:
    """Inviting into a public room is 403 and adds nobody; a DM is 403 as before."""
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    public = await api.room(alice)
    resp = await api.client.post(
        f"/api/rooms/{public['id']}/invite", json={"user_id": bob.id}, headers=alice.auth
    )
    assert resp.status_code == 403
    assert resp.json() == {"detail": "cannot invite into a public room; users join it themselves"}
    members = await api.client.get(f"/api/rooms/{public['id']}/members", headers=alice.auth)
    assert [m["id"] for m in members.json()] == [alice.id]
    assert (await bob.send(public["id"])).status_code == 403
    dm = await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    resp = await api.client.post(
        f"/api/rooms/{dm.json()['id']}/invite", json={"user_id": carol.id}, headers=alice.auth
    )
    assert resp.status_code == 403


async def test_private_room_is_invisible_to_outsiders(api: Api) -> None:
    """Outsiders get 404 on everything of a private room; invited members get in."""
    alice, bob, eve = await api.user(), await api.user(), await api.user()
    room = await api.room(alice, kind="private", name="secret")
    rid = room["id"]
    for method, path in (
        ("GET", f"/api/rooms/{rid}"),
        ("GET", f"/api/rooms/{rid}/members"),
        ("POST", f"/api/rooms/{rid}/join"),
        ("GET", f"/api/messages?room_id={rid}"),
    ):
        assert (await api.client.request(method, path, headers=eve.auth)).status_code == 404, path
    assert (await eve.send(rid)).status_code == 404
    invite = await api.client.post(
        f"/api/rooms/{rid}/invite", json={"user_id": bob.id}, headers=eve.auth
    )
    assert invite.status_code == 404
    public = await api.client.get("/api/rooms/public", headers=eve.auth)
    assert rid not in [r["id"] for r in public.json()]
    invite = await api.client.post(
        f"/api/rooms/{rid}/invite", json={"user_id": bob.id}, headers=alice.auth
    )
    assert invite.status_code == 204
    assert (await bob.send(rid)).status_code == 201
    missing = await api.client.post(
        f"/api/rooms/{rid}/invite", json={"user_id": 10**9}, headers=alice.auth
    )
    assert missing.status_code == 404


async def test_dm_is_one_room_per_pair_even_concurrently(api: Api) -> None:
    """Opening a DM from both sides at once yields one room; repeats are 200."""
    alice, bob, eve = await api.user(), await api.user(), await api.user()
    a, b = await asyncio.gather(
        api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth),
        api.client.post("/api/dms", json={"user_id": alice.id}, headers=bob.auth),
    )
    assert {a.status_code, b.status_code} <= {200, 201} and 201 in {a.status_code, b.status_code}
    assert a.json()["id"] == b.json()["id"] and a.json()["kind"] == "dm"
    again = await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    assert again.status_code == 200 and again.json()["id"] == a.json()["id"]
    rid = a.json()["id"]
    assert (await api.client.get(f"/api/rooms/{rid}", headers=eve.auth)).status_code == 404
    assert (await api.client.post(f"/api/rooms/{rid}/leave", headers=alice.auth)).status_code == 403
    assert (
        await api.client.post("/api/dms", json={"user_id": alice.id}, headers=alice.auth)
    ).status_code == 403
    assert (
        await api.client.post("/api/dms", json={"user_id": 10**9}, headers=alice.auth)
    ).status_code == 404


async def test_unread_counts_and_read_markers(api: Api) -> None:
    """Others' messages count as unread until marked; markers never move back."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    for _ in range(3):
        assert (await alice.send(room["id"])).status_code == 201

    async def unread(user: object) -> tuple[int, int]:
        rooms = (await api.client.get("/api/rooms", headers=user.auth)).json()  # type: ignore[attr-defined]
        mine = next(r for r in rooms if r["id"] == room["id"])
        return mine["unread"], mine["last_read_seq"]

    assert await unread(bob) == (3, 0)
    assert await unread(alice) == (0, 3)
    moved = await api.client.put(f"/api/rooms/{room['id']}/read", json={"seq": 2}, headers=bob.auth)
    assert moved.status_code == 200
    head = (await api.client.get(f"/api/rooms/{room['id']}", headers=bob.auth)).json()
    assert moved.json() == {
        "room_id": room["id"],
        "last_read_seq": 2,
        "unread": 1,
        "last_seq": 3,
        "event_seq": head["event_seq"],
    }
    assert await unread(bob) == (1, 2)
    await api.client.put(f"/api/rooms/{room['id']}/read", json={"seq": 1}, headers=bob.auth)
    assert await unread(bob) == (1, 2)
    await api.client.put(f"/api/rooms/{room['id']}/read", json={"seq": 10**6}, headers=bob.auth)
    assert await unread(bob) == (0, 3)
    bad = await api.client.put(f"/api/rooms/{room['id']}/read", json={"seq": -1}, headers=bob.auth)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "kind": "public"},
        {"name": "x" * 65, "kind": "public"},
        {"name": "ok", "kind": "dm"},
        {"name": "ok"},
        {"name": "ok", "kind": "public", "owner": 1},
    ],
)
async def test_room_create_validation(api: Api, body: dict[str, object]) -> None:
    """Bad room bodies are 422 and create nothing."""
    alice = await api.user()
    resp = await api.client.post("/api/rooms", json=body, headers=alice.auth)
    assert resp.status_code == 422
    assert (await api.client.get("/api/rooms", headers=alice.auth)).json() == []


async def test_rooms_require_authentication(api: Api) -> None:
    """Every room route is 401 without a token."""
    for method, path in (
        ("GET", "/api/rooms"),
        ("POST", "/api/rooms"),
        ("GET", "/api/rooms/public"),
        ("POST", "/api/dms"),
        ("PUT", "/api/rooms/1/read"),
    ):
        assert (await api.client.request(method, path, json={})).status_code == 401, path
