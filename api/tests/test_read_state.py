"""The unread count a marker move answers (and puts in read.moved) names the room head it was
counted at, taken in the same snapshot: a client adds only what it holds above that head."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from api_testing import Api, User

pytestmark = pytest.mark.integration

Json = dict[str, Any]


async def _read(api: Api, user: User, room_id: int, seq: int) -> Json:
    resp = await api.client.put(f"/api/rooms/{room_id}/read", json={"seq": seq}, headers=user.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_the_answer_names_the_head_it_counted_at(api: Api) -> None:
    """Deleted messages are not counted; the head is the room's, message and event seq."""
    alice, bob = await api.user(), await api.user()
    rid = (await api.room(alice))["id"]
    assert (await api.client.post(f"/api/rooms/{rid}/join", headers=bob.auth)).status_code == 200
    ids = [(await alice.send(rid, f"m{i}")).json()["id"] for i in range(3)]
    assert (await api.client.delete(f"/api/messages/{ids[1]}", headers=alice.auth)).is_success
    room = (await api.client.get(f"/api/rooms/{rid}", headers=bob.auth)).json()
    assert await _read(api, bob, rid, 1) == {
        "room_id": rid,
        "last_read_seq": 1,
        "unread": 1,
        "last_seq": 3,
        "event_seq": room["event_seq"],
    }


async def test_counts_taken_while_messages_land_match_their_head(api_factory: Any) -> None:
    """Sends through three apps race marker moves: every answer's count is exactly the
    messages between its marker and its head. A head read apart from the count (or from an
    entity the session loaded before the count) is behind it under this race."""
    apis: list[Api] = [await api_factory(db_pool_timeout_seconds=60) for _ in range(3)]
    alice, bob = await apis[0].user(), await apis[0].user()
    rid = (await apis[0].room(alice))["id"]
    await apis[0].client.post(f"/api/rooms/{rid}/join", headers=bob.auth)

    async def send(i: int) -> None:
        resp = await User(apis[i % 3], alice.id, alice.username, alice.tokens).send(rid, f"s{i}")
        assert resp.status_code == 201, resp.text

    async def read(i: int) -> Json:
        return await _read(apis[(i + 1) % 3], bob, rid, i)

    sends = [send(i) for i in range(60)]
    reads = [read(i) for i in range(1, 60, 2)]
    answers = [a for a in await asyncio.gather(*sends, *reads) if a is not None]
    assert len(answers) == 30
    for answer in answers:
        assert answer["last_read_seq"] <= answer["last_seq"] <= 60, answer
        assert answer["unread"] == answer["last_seq"] - answer["last_read_seq"], answer
        assert answer["event_seq"] >= answer["last_seq"], answer
