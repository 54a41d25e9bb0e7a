"""Both sides of the gateway↔API contract: the gateway's own client code against the real API.

No stubs: the API apps run in-process on a real PostgreSQL (and real Redis for events), and the
gateway's TokenValidator / ApiClient / envelope decoding talk to them exactly as in production.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis
from chat_api.config import Settings
from chat_api.main import create_app, create_internal_app
from chat_api.migrate import upgrade_head
from chat_api.state import AppState
from chat_contracts.channels import ROOM_CHANNEL_PATTERN, room_id_from_channel
from chat_contracts.events import EventType, MessageData, decode_envelope
from chat_testkit.postgres import PostgresServer
from chat_testkit.redis import RedisServer
from ws_gateway.api_client import ApiClient, ApiError
from ws_gateway.auth import TokenRejected, TokenValidator
from ws_gateway.store import StoreBatcher

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    public: httpx.AsyncClient
    client: httpx.AsyncClient  # the gateway's client: routes to both ports
    validator: TokenValidator
    api: ApiClient
    store: StoreBatcher  # how the gateway stores a message frame
    redis_url: str

    async def user(self, name: str) -> str:
        body = {"username": name, "password": "contract-pass"}
        (await self.public.post("/api/register", json=body)).raise_for_status()
        login = await self.public.post("/api/login", json=body)
        return str(login.json()["access_token"])


@pytest.fixture
async def stack(postgres_server: PostgresServer, redis_server: RedisServer) -> AsyncIterator[Stack]:
    url = postgres_server.create_database(f"contract_{secrets.token_hex(4)}")
    await asyncio.to_thread(upgrade_head, url)  # alembic runs its own event loop
    state = AppState.build(
        Settings(
            jwt_secret=secrets.token_hex(32),
            database_url=url,
            redis_url=redis_server.url,
            cookie_secure=False,
            log_json=False,
        )
    )
    # One client routes by host to the two apps, the way the gateway reaches two ports.
    public_t = httpx.ASGITransport(app=create_app(state, owns_state=False))
    internal_t = httpx.ASGITransport(app=create_internal_app(state))
    mounts = {"http://api": public_t, "http://api-internal": internal_t}
    client = httpx.AsyncClient(mounts=mounts)
    public = httpx.AsyncClient(transport=public_t, base_url="http://api")
    try:
        yield Stack(
            public=public,
            client=client,
            validator=TokenValidator(client, "http://api-internal"),
            api=ApiClient(client, "http://api", "/api"),
            store=StoreBatcher(client, "http://api-internal", concurrency=4, queue_max=100),
            redis_url=redis_server.url,
        )
    finally:
        await client.aclose()
        await public.aclose()
        await state.close()


async def test_validate_token_response_is_what_the_gateway_reads(stack: Stack) -> None:
    """The gateway's validator turns a live token into an identity and rejects a forged one."""
    token = await stack.user("contract_a")
    identity = await stack.validator.validate(token)
    assert identity.username == "contract_a" and identity.user_id > 0 and identity.sid
    with pytest.raises(TokenRejected):
        await stack.validator.validate(token[:-2] + "xx")


async def test_message_calls_round_trip_through_the_gateway_client(stack: Stack) -> None:
    """store/edit/delete/replay as the gateway calls them parse into MessageData."""
    token = await stack.user("contract_b")
    headers = {"Authorization": f"Bearer {token}"}
    room = (
        await stack.public.post("/api/rooms", json={"name": "c", "kind": "public"}, headers=headers)
    ).json()
    first = await stack.store.store(token, room_id=room["id"], content="one", client_msg_id="c-1")
    again = await stack.store.store(token, room_id=room["id"], content="one", client_msg_id="c-1")
    assert isinstance(first, MessageData) and first == again and first.seq == 1
    for i in range(2, 6):
        await stack.store.store(token, room_id=room["id"], content=str(i), client_msg_id=f"c-{i}")
    edited = await stack.api.edit_message(token, first.id, "uno")
    assert edited.content == "uno" and edited.seq == 1
    deleted = await stack.api.delete_message(token, first.id)
    assert deleted.deleted and deleted.content == ""
    # Events 1-5 were the sends, 6 the edit, 7 the delete: a replay after 1 hands out each
    # changed message once, at its newest version.
    replay = [
        (e.event.value, e.event_seq, e.seq)
        async for page in stack.api.room_events(token, room["id"], 1)
        for e in page.events
    ]
    assert replay == [
        ("message.created", 2, 2),
        ("message.created", 3, 3),
        ("message.created", 4, 4),
        ("message.created", 5, 5),
        ("message.deleted", 7, 1),
    ]


async def test_api_errors_map_to_gateway_retry_semantics(stack: Stack) -> None:
    """Client mistakes are non-retryable for the gateway (nack retryable=false); outages are."""
    token = await stack.user("contract_c")
    with pytest.raises(ApiError) as missing:
        await stack.api.get_room(token, 10**9)
    assert missing.value.status == 404 and not missing.value.retryable
    async with httpx.AsyncClient() as unreachable:
        dead = ApiClient(unreachable, "http://127.0.0.1:1", "/api")
        with pytest.raises(ApiError) as down:
            await dead.get_room(token, 1)
    assert down.value.status == 0 and down.value.retryable


async def test_published_envelope_is_what_the_gateway_decodes(stack: Stack) -> None:
    """What the API publishes after commit decodes with the shared code on the room pattern."""
    token = await stack.user("contract_d")
    headers = {"Authorization": f"Bearer {token}"}
    room = (
        await stack.public.post("/api/rooms", json={"name": "e", "kind": "public"}, headers=headers)
    ).json()
    redis = aioredis.Redis.from_url(stack.redis_url)
    pubsub = redis.pubsub()
    await pubsub.psubscribe(ROOM_CHANNEL_PATTERN)
    try:
        stored = await stack.store.store(
            token, room_id=room["id"], content="hi", client_msg_id="e-1"
        )
        async with asyncio.timeout(10):
            while (
                msg := await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            ) is None:
                pass
        assert room_id_from_channel(msg["channel"].decode()) == room["id"]
        envelope = decode_envelope(msg["data"])
        assert envelope.type is EventType.MESSAGE_CREATED and envelope.seq == stored.seq
        assert MessageData.model_validate(envelope.data) == stored
    finally:
        await pubsub.aclose()
        await redis.aclose()


async def test_batched_stores_through_the_gateway_batcher(stack: Stack) -> None:
    """The gateway's StoreBatcher against the real batch route: one request, per-item answers
    with the same retry semantics as the single send."""
    owner = await stack.user("contract_f")
    outsider = await stack.user("contract_g")
    headers = {"Authorization": f"Bearer {owner}"}
    room = (
        await stack.public.post(
            "/api/rooms", json={"name": "f", "kind": "private"}, headers=headers
        )
    ).json()
    batcher = StoreBatcher(stack.client, "http://api-internal", concurrency=1, queue_max=100)
    sends = [
        batcher.store(owner, room_id=room["id"], content=f"b{i}", client_msg_id=f"f-{i}")
        for i in range(3)
    ]
    repeat = batcher.store(owner, room_id=room["id"], content="b0", client_msg_id="f-0")
    stranger = batcher.store(outsider, room_id=room["id"], content="no", client_msg_id="g-1")
    forged = batcher.store(owner[:-2] + "xx", room_id=room["id"], content="x", client_msg_id="h")
    *stored, again, refused, bad = await asyncio.gather(
        *sends, repeat, stranger, forged, return_exceptions=True
    )
    assert [m.seq for m in stored if isinstance(m, MessageData)] == [1, 2, 3]
    assert isinstance(again, MessageData) and again == stored[0], "repeat -> the original"
    assert isinstance(refused, ApiError) and refused.status == 404 and not refused.retryable
    assert isinstance(bad, ApiError) and bad.status == 401 and not bad.retryable
    page = (await stack.public.get(f"/api/messages?room_id={room['id']}", headers=headers)).json()
    assert [m["client_msg_id"] for m in page["messages"]] == ["f-0", "f-1", "f-2"]
