"""Events reach Redis after commit: what REST stores, live sockets hear about."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from api_testing import Api
from chat_contracts.channels import REVOCATION_CHANNEL, room_channel
from chat_contracts.events import EventType, decode_envelope
from chat_testkit.redis import RedisServer

pytestmark = pytest.mark.integration


async def _next_envelope(pubsub: aioredis.client.PubSub):
    async with asyncio.timeout(10):
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                return decode_envelope(msg["data"])


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
        created = await _next_envelope(pubsub)
        assert created.type is EventType.MESSAGE_CREATED
        assert created.room_id == room["id"] and created.seq == sent["seq"] == 1
        assert created.data["content"] == "over rest" and created.data["id"] == sent["id"]
        # A duplicate send stores nothing new and so publishes nothing new.
        await alice.send(room["id"], "over rest", client_msg_id="r1")
        await api.client.patch(
            f"/api/messages/{sent['id']}", json={"content": "edited"}, headers=alice.auth
        )
        updated = await _next_envelope(pubsub)
        assert updated.type is EventType.MESSAGE_UPDATED and updated.data["content"] == "edited"
        await api.client.delete(f"/api/messages/{sent['id']}", headers=alice.auth)
        deleted = await _next_envelope(pubsub)
        assert deleted.type is EventType.MESSAGE_DELETED and deleted.data["deleted"] is True
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_logout_and_password_change_publish_revocations(
    api_factory, redis_server: RedisServer
) -> None:
    """Gateways learn of logouts (one session) and password changes (every session)."""
    api: Api = await api_factory(redis_url=redis_server.url)
    alice = await api.user()
    client = aioredis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe(REVOCATION_CHANNEL)
    try:
        second = await api.login(alice.username)
        await api.client.post("/api/logout", headers=alice.auth)
        env = await _next_envelope(pubsub)
        assert env.type is EventType.USER_REVOKED
        assert env.data["user_id"] == alice.id and env.data["session_id"]
        await api.client.put(
            "/api/users/me",
            json={"current_password": "correct horse 1", "new_password": "another pw 2"},
            headers={"Authorization": f"Bearer {second['access_token']}"},
        )
        env = await _next_envelope(pubsub)
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
