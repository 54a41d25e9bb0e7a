"""Events reach Redis after commit: what REST stores, live sockets hear about."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis
from api_testing import Api, item, next_envelope, store
from chat_api.models import Message
from chat_api.publisher import Publisher
from chat_contracts.channels import room_channel, user_channel
from chat_contracts.events import Envelope, EventType
from chat_testkit.redis import RedisServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def test_message_lifecycle_is_published(api_factory, redis_server: RedisServer) -> None:
    """Create, edit and delete each publish one envelope on the room channel, with the seq."""
    api: Api = await api_factory(redis_url=redis_server.url)
    alice = await api.user()
    room = await api.room(alice)
    client = aioredis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe(room_channel(room["id"]))
    try:
        sent = (await alice.send(room["id"], "over rest", client_msg_id="r1")).json()
        created = await next_envelope(pubsub)
        assert created.type is EventType.MESSAGE_CREATED
        assert created.room_id == room["id"] and created.seq == sent["seq"] == 1
        assert created.data["content"] == "over rest" and created.data["id"] == sent["id"]
        # A duplicate send stores nothing new and so publishes nothing new.
        await alice.send(room["id"], "over rest", client_msg_id="r1")
        await api.client.patch(
            f"/api/messages/{sent['id']}", json={"content": "edited"}, headers=alice.auth
        )
        updated = await next_envelope(pubsub)
        assert updated.type is EventType.MESSAGE_UPDATED and updated.data["content"] == "edited"
        await api.client.delete(f"/api/messages/{sent['id']}", headers=alice.auth)
        deleted = await next_envelope(pubsub)
        assert deleted.type is EventType.MESSAGE_DELETED and deleted.data["deleted"] is True
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_logout_and_password_change_publish_revocations(
    api_factory, redis_server: RedisServer
) -> None:
    """Gateways learn of logouts (one session) and password changes (every session) on the
    user's stream."""
    api: Api = await api_factory(redis_url=redis_server.url)
    alice = await api.user()
    client = aioredis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe(user_channel(alice.id))
    try:
        second = await api.login(alice.username)
        await api.client.post("/api/logout", headers=alice.auth)
        env = await next_envelope(pubsub)
        assert env.type is EventType.SESSION_REVOKED and env.user_id == alice.id
        assert env.data["user_id"] == alice.id and env.data["session_id"]
        await api.client.put(
            "/api/users/me",
            json={"current_password": "correct horse 1", "new_password": "another pw 2"},
            headers={"Authorization": f"Bearer {second['access_token']}"},
        )
        env = await next_envelope(pubsub)
        assert env.data == {"user_id": alice.id, "session_id": None, "reason": "password_changed"}
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_redis_outage_does_not_lose_the_message(
    api_factory, redis_server: RedisServer
) -> None:
    """With Redis unreachable the send still commits and answers 201 (resume delivers it later)."""
    api: Api = await api_factory(redis_url="redis://127.0.0.1:1/0")
    alice = await api.user()
    room = await api.room(alice)
    resp = await alice.send(room["id"], "stored anyway")
    assert resp.status_code == 201
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert [m["content"] for m in page["messages"]] == ["stored anyway"]


class CommitWitness:
    """Wraps the real publisher; checks from another connection that each event is committed."""

    def __init__(self, inner: Publisher, engine: AsyncEngine) -> None:
        self.inner, self.engine = inner, engine
        self.seen_uncommitted: list[int] = []

    async def publish_many(self, events: Sequence[tuple[str, Envelope]]) -> bool:
        ids = [envelope.data["id"] for _, envelope in events]
        async with self.engine.connect() as conn:
            found = set(await conn.scalars(select(Message.id).where(Message.id.in_(ids))))
        self.seen_uncommitted += [i for i in ids if i not in found]
        return await self.inner.publish_many(events)

    async def publish(self, channel: str, envelope: Envelope) -> bool:
        return await self.publish_many([(channel, envelope)])

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


async def test_only_created_messages_are_published_after_commit(
    api_factory, redis_server: RedisServer
) -> None:
    """One event per stored message, in seq order, each already committed; refusals publish none."""
    api: Api = await api_factory(redis_url=redis_server.url)
    witness = CommitWitness(api.state.publisher, api.state.engine)
    api.state.publisher = witness
    alice, eve = await api.user(), await api.user()
    room = await api.room(alice)
    client = aioredis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe(room_channel(room["id"]))
    try:
        await store(api, [item(alice, room["id"], "old", "dup")])
        assert (await next_envelope(pubsub)).data["client_msg_id"] == "dup"
        results = await store(
            api,
            [
                item(alice, room["id"], "a"),
                item(alice, room["id"], "old", "dup"),  # already stored: 200
                item(eve, room["id"]),  # not a member: 403
                {**item(alice, room["id"]), "token": "bad"},  # 401
                item(alice, room["id"], ""),  # 422
                item(alice, room["id"], "b", "twice"),
                item(alice, room["id"], "b", "twice"),  # repeat inside the batch: 200
            ],
        )
        assert [r["status"] for r in results] == [201, 200, 403, 401, 422, 201, 200]
        created = [results[0]["message"], results[5]["message"]]
        heard = [await next_envelope(pubsub) for _ in created]
        assert [e.type for e in heard] == [EventType.MESSAGE_CREATED] * 2
        assert [e.data for e in heard] == [json.loads(json.dumps(m)) for m in created]
        assert [e.seq for e in heard] == [2, 3]
        # Nothing else was published for that batch: the next event is the next send.
        marker = (await alice.send(room["id"], "marker")).json()
        assert (await next_envelope(pubsub)).data["id"] == marker["id"]
        assert witness.seen_uncommitted == []
    finally:
        await pubsub.aclose()
        await client.aclose()
