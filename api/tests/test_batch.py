"""The gateway's batch store: each item answered as the single send would answer it alone."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from api_testing import JWT_SECRET, Api, User, item, store
from chat_contracts.batch import BATCH_MAX_ITEMS, BATCH_PATH
from chat_contracts.tokens import TokenType, issue_token

pytestmark = pytest.mark.integration


async def history(api: Api, user: User, room_id: int) -> list[dict[str, Any]]:
    resp = await api.client.get(
        "/api/messages", params={"room_id": room_id, "limit": 200}, headers=user.auth
    )
    assert resp.status_code == 200, resp.text
    return list(resp.json()["messages"])


async def test_batch_stores_in_order_and_moves_read_markers(api: Api) -> None:
    """Items get consecutive seqs in item order, readable by history; senders' markers move."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    senders = [alice, bob, alice, alice, bob]
    results = await store(api, [item(u, room["id"], f"m{i}") for i, u in enumerate(senders)])
    assert [r["status"] for r in results] == [201] * 5
    assert [r["message"]["seq"] for r in results] == [1, 2, 3, 4, 5]
    assert [r["message"]["sender_id"] for r in results] == [u.id for u in senders]
    stored = await history(api, bob, room["id"])
    assert stored == [r["message"] for r in results]
    views = {}
    for user in (alice, bob):
        view = await api.client.get(f"/api/rooms/{room['id']}", headers=user.auth)
        views[user.id] = view.json()
    assert views[alice.id]["last_read_seq"] == 4 and views[alice.id]["unread"] == 1
    assert views[bob.id]["last_read_seq"] == 5 and views[bob.id]["unread"] == 0
    assert views[alice.id]["last_seq"] == 5
    # The single send continues the same sequence.
    assert (await alice.send(room["id"])).json()["seq"] == 6


async def test_repeats_inside_and_across_batches_answer_the_original(api: Api) -> None:
    """A client id twice in one batch, or again in a later one, is 200 with the stored original."""
    alice = await api.user()
    room = await api.room(alice)
    first = await store(api, [item(alice, room["id"], "once", "c-1")] * 2)
    assert [r["status"] for r in first] == [201, 200]
    assert first[0]["message"] == first[1]["message"]
    again = await store(
        api, [item(alice, room["id"], "once", "c-1"), item(alice, room["id"], "next", "c-2")]
    )
    assert [r["status"] for r in again] == [200, 201]
    assert again[0]["message"] == first[0]["message"] and again[1]["message"]["seq"] == 2
    single = await alice.send(room["id"], "once", client_msg_id="c-2")
    assert single.status_code == 200 and single.json() == again[1]["message"]
    assert [m["seq"] for m in await history(api, alice, room["id"])] == [1, 2]


async def test_client_id_reused_for_another_room_is_409(api: Api) -> None:
    """Inside one batch or across calls, a client id bound to one room is refused in another."""
    alice = await api.user()
    room, other = await api.room(alice), await api.room(alice)
    results = await store(
        api, [item(alice, room["id"], "a", "same"), item(alice, other["id"], "b", "same")]
    )
    assert [r["status"] for r in results] == [201, 409]
    assert results[1]["detail"] == "client_msg_id already used for another room"
    later = await store(api, [item(alice, other["id"], "b", "same")])
    assert later[0]["status"] == 409 and later[0]["message"] is None
    assert await history(api, alice, other["id"]) == []


async def test_membership_and_unknown_rooms_per_item(api: Api) -> None:
    """Outsiders: 403 for public rooms, 404 for private ones and unknown rooms; others pass."""
    alice, eve = await api.user(), await api.user()
    public = await api.room(alice)
    private = await api.room(alice, kind="private")
    results = await store(
        api,
        [
            item(eve, public["id"]),
            item(alice, public["id"], "ok"),
            item(eve, private["id"]),
            item(eve, 10**9),
        ],
    )
    assert [(r["status"], r["detail"]) for r in results] == [
        (403, "not a member of this room"),
        (201, None),
        (404, "room not found"),
        (404, "room not found"),
    ]
    assert [m["content"] for m in await history(api, alice, public["id"])] == ["ok"]
    assert await history(api, alice, private["id"]) == []


async def test_bad_expired_and_revoked_tokens_are_401_per_item(api: Api) -> None:
    """Forged, expired, wrong-type and logged-out tokens fail only their own items."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    claims = api.state.tokens.decode(alice.tokens["access_token"], TokenType.ACCESS)
    expired, _ = issue_token(
        user_id=alice.id,
        token_type=TokenType.ACCESS,
        ttl_seconds=-60,
        key=JWT_SECRET,
        issuer="chat-api",
        audience="chat",
        session_id=claims.sid,
        version=claims.ver,
    )
    await api.client.post("/api/logout", headers=bob.auth)  # bob's token: signed, but revoked
    good = item(alice, room["id"], "kept")
    results = await store(
        api,
        [
            {**good, "token": "not-a-jwt", "client_msg_id": "x1"},
            {**good, "token": expired, "client_msg_id": "x2"},
            {**good, "token": alice.tokens["refresh_token"], "client_msg_id": "x3"},
            item(bob, room["id"]),
            good,
        ],
    )
    assert [(r["status"], r["detail"]) for r in results] == [
        (401, "invalid token"),
        (401, "token expired"),
        (401, "invalid token"),  # a refresh token: the wrong type is only logged
        (401, "token revoked"),
        (201, None),
    ]
    assert [m["content"] for m in await history(api, alice, room["id"])] == ["kept"]


async def test_malformed_item_fails_alone(api: Api) -> None:
    """Items breaking the send rules get their own 422; the rest are stored, gapless."""
    alice = await api.user()
    room = await api.room(alice)
    results = await store(
        api,
        [
            item(alice, room["id"], "first"),
            item(alice, room["id"], "   "),
            item(alice, True, "x"),
            item(alice, room["id"], "x", "c" * 65),
            item(alice, room["id"], 5),
            item(alice, room["id"], "last"),
        ],
    )
    assert [r["status"] for r in results] == [201, 422, 422, 422, 422, 201]
    assert results[1]["detail"].startswith("body.content: ")
    assert results[2]["detail"].startswith("body.room_id: ")
    assert results[3]["detail"].startswith("body.client_msg_id: ")
    assert [r["message"]["seq"] for r in (results[0], results[5])] == [1, 2]
    assert [m["content"] for m in await history(api, alice, room["id"])] == ["first", "last"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"items": []}',
        b'{"items": [{"token": "t", "room_id": 1, "content": "x"}]}',
        b'{"items": [{"token": "t", "room_id": 1, "content": "x", "client_msg_id": "a", "z": 1}]}',
        b'{"items": "nope"}',
    ],
)
async def test_malformed_requests_are_422(api: Api, body: bytes) -> None:
    """A body that is not a batch at all fails whole, as FastAPI answers any bad body."""
    resp = await api.internal.post(
        BATCH_PATH, content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422, resp.text


async def test_oversized_batch_is_422_and_stores_nothing(api: Api) -> None:
    """More than BATCH_MAX_ITEMS items are refused whole; the maximum itself is accepted."""
    alice = await api.user()
    room = await api.room(alice)
    too_many = [item(alice, room["id"]) for _ in range(BATCH_MAX_ITEMS + 1)]
    resp = await api.internal.post(BATCH_PATH, json={"items": too_many})
    assert resp.status_code == 422
    assert await history(api, alice, room["id"]) == []
    results = await store(api, too_many[:BATCH_MAX_ITEMS])
    assert [r["message"]["seq"] for r in results] == list(range(1, BATCH_MAX_ITEMS + 1))


async def test_concurrent_batches_keep_room_sequences_gapless(api: Api) -> None:
    """8 concurrent batches of 50 over shared rooms: every item stored once, seqs 1..n per room."""
    users = [await api.user() for _ in range(4)]
    rooms = [await api.room(users[0]) for _ in range(3)]
    for user in users[1:]:
        for room in rooms:
            await api.client.post(f"/api/rooms/{room['id']}/join", headers=user.auth)

    def batch(task: int) -> list[dict[str, Any]]:
        # Rooms in a different order per task, so lock order would matter if it were not fixed.
        order = rooms[task % 3 :] + rooms[: task % 3]
        return [item(users[(task + i) % 4], order[i % 3]["id"], f"{task}.{i}") for i in range(50)]

    batches = [batch(task) for task in range(8)]
    answers = await asyncio.gather(*(store(api, b) for b in batches))
    seqs: dict[int, list[int]] = defaultdict(list)
    for sent, results in zip(batches, answers, strict=True):
        for one, result in zip(sent, results, strict=True):
            assert result["status"] == 201, result
            assert result["message"]["content"] == one["content"]
            seqs[result["message"]["room_id"]].append(result["message"]["seq"])
    for room in rooms:
        assert sorted(seqs[room["id"]]) == list(range(1, len(seqs[room["id"]]) + 1))
        stored = await history(api, users[0], room["id"])
        assert [m["seq"] for m in stored] == sorted(seqs[room["id"]])
    assert sum(len(s) for s in seqs.values()) == 400


async def test_concurrent_batches_racing_on_one_client_id(api: Api) -> None:
    """Batches and single sends racing with the same client ids store each id exactly once."""
    alice = await api.user()
    room = await api.room(alice)
    ids = [f"race-{i}" for i in range(20)]
    calls = [store(api, [item(alice, room["id"], c, c) for c in ids]) for _ in range(6)]
    singles = [alice.send(room["id"], c, client_msg_id=c) for c in ids[::5]]
    answers, replies = await asyncio.gather(asyncio.gather(*calls), asyncio.gather(*singles))
    by_id: dict[str, set[int]] = defaultdict(set)
    created = 0
    for results in answers:
        for result in results:
            assert result["status"] in (200, 201), result
            created += result["status"] == 201
            by_id[result["message"]["client_msg_id"]].add(result["message"]["id"])
    for reply in replies:
        assert reply.status_code in (200, 201)
        created += reply.status_code == 201
        by_id[reply.json()["client_msg_id"]].add(reply.json()["id"])
    assert created == 20 and all(len(v) == 1 for v in by_id.values())
    assert [m["seq"] for m in await history(api, alice, room["id"])] == list(range(1, 21))
