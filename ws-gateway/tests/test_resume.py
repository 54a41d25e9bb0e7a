"""Replays (resume.py): resume up to the cap then reset, fetch fills a gap, and a gap filled
by `fetch` must not come back live when the late publish finally arrives.

Publishes can reorder (two API workers commit events 5 and 6, 6 is published first): the
socket sees 6 live, the client fetches after 4 and gets 5, and then the delayed live 5
arrives. It must not be delivered again. To hold the publishes back deterministically,
this gateway listens on a Redis of its own, so the test decides what it sees and when.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from chat_contracts.channels import room_channel
from chat_contracts.events import (
    EventType,
    MemberData,
    MessageData,
    UserData,
    encode_envelope,
    message_event,
    room_event,
)
from chat_testkit import RedisServer
from chat_testkit.client import Client, create_room, eventually, register, rest
from conftest import ORIGIN, Api, Gateway, GatewayFactory
from gw_helpers import message_frame

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def held_back(module_gateways: GatewayFactory, api_server: Api, own_redis: RedisServer) -> Gateway:
    return module_gateways(1, api=api_server, redis_url=own_redis.url)[0]


def _publish(r: redis.Redis, stored: dict[str, object]) -> None:
    env = message_event(EventType.MESSAGE_CREATED, MessageData.model_validate(stored))
    r.publish(room_channel(env.room_id or 0), encode_envelope(env))


def _barrier(r: redis.Redis, room: int, event_seq: int) -> None:
    """A later event on the same channel: once it arrives, everything before it has."""
    user = UserData(id=1, username="x", display_name="x")
    env = room_event(
        EventType.MEMBER_JOINED, room, event_seq, MemberData(user=user, actor_id=1, member_count=2)
    )
    r.publish(room_channel(room), encode_envelope(env))


async def test_fetched_seq_is_not_delivered_again_live(
    api_server: Api, held_back: Gateway, own_redis: RedisServer
) -> None:
    alice = register(api_server.url)
    room = create_room(api_server.url, alice)
    c = await Client.authed(held_back.url, alice.token, ORIGIN)
    await c.join(room)
    stored = []
    for i in range(3):
        body = {"room_id": room, "content": f"m{i + 1}", "client_msg_id": f"held-{i}"}
        resp = rest(api_server.url, "POST", "/messages", alice, json=body)
        assert resp.status_code == 201, resp.text
        stored.append(resp.json())
    r = redis.Redis.from_url(own_redis.url)
    try:
        # The gateway subscribes after start-up; publish until the first event lands.
        await eventually(
            lambda: _publish(r, stored[1]) is None and bool(c.events(room)), 10, "live seq 2"
        )
        fetched = await c.request(
            {"type": "fetch", "room_id": room, "after_event_seq": 0},
            lambda f: f["type"] == "fetched",
            "fetched",
        )
        assert fetched["event_seq"] == 3
        _publish(r, stored[0])  # the late live copy of event 1, already fetched
        _barrier(r, room, 4)  # same channel, so it arrives after event 1
        await c.expect(lambda f: f["type"] == "event" and f["event_seq"] == 4, "live event 4")
    finally:
        r.close()
    live = [e["event_seq"] for e in c.events(room) if not e.get("replay")]
    replayed = [e["event_seq"] for e in c.events(room) if e.get("replay")]
    assert replayed == [1, 2, 3], "fetch replays everything after the cursor"
    assert live.count(2) >= 1 and live.count(4) == 1
    assert 1 not in live, "an event the socket already got by fetch must not arrive again live"
    await c.close()


async def test_resume_replays_then_resets_beyond_cap(api_server: Api, solo: Gateway) -> None:
    """resume replays what was missed (<= cap) then `resumed`; more than the cap -> `reset`."""
    user = register(api_server.url)
    small, big = create_room(api_server.url, user), create_room(api_server.url, user)
    for room, count in ((small, 3), (big, 5)):
        for i in range(count):
            body = {"room_id": room, "content": f"m{i}", "client_msg_id": f"{room}-{i}"}
            assert rest(api_server.url, "POST", "/messages", user, json=body).status_code == 201
    c = await Client.authed(solo.url, user.token, ORIGIN)
    await c.send({"type": "resume", "rooms": {str(small): 1, str(big): 0}})
    resumed = await c.expect(lambda f: f["type"] == "resumed", "resumed")
    assert resumed == {"type": "resumed", "room_id": small, "last_seq": 3, "event_seq": 3}
    assert [e["seq"] for e in c.events(small)] == [2, 3]
    reset = await c.expect(lambda f: f["type"] == "reset", "reset")
    assert reset["room_id"] == big and c.events(big) == []
    # After resume the socket is subscribed: a new message arrives live.
    assert (
        rest(
            api_server.url,
            "POST",
            "/messages",
            user,
            json={"room_id": small, "content": "new", "client_msg_id": "n"},
        ).status_code
        == 201
    )
    await c.send(message_frame(small, "via ws"))
    await c.expect(lambda f: f["type"] == "event" and f["seq"] == 5, "live event after resume")
    await c.close()


async def test_fetch_fills_a_gap(api_server: Api, solo: Gateway) -> None:
    """fetch(after_event_seq) replays the room's events after it, then `fetched` with the
    head the socket now holds."""
    user = register(api_server.url)
    room = create_room(api_server.url, user)
    for i in range(5):
        body = {"room_id": room, "content": f"m{i}", "client_msg_id": f"f{i}"}
        assert rest(api_server.url, "POST", "/messages", user, json=body).status_code == 201
    c = await Client.authed(solo.url, user.token, ORIGIN)
    await c.join(room)
    done = await c.request(
        {"type": "fetch", "room_id": room, "after_event_seq": 1},
        lambda f: f["type"] == "fetched",
        "fetched",
    )
    assert (done["room_id"], done["event_seq"]) == (room, 5)
    assert [e["event_seq"] for e in c.events(room)] == [2, 3, 4, 5]
    await c.close()
