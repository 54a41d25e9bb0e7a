"""One replica without Redis (the embedded `make run` mode), with small limits."""

from __future__ import annotations

import uuid

import pytest
from conftest import ORIGIN, Api, Gateway, GatewayFactory
from gw_helpers import Client, create_room, eventually, metric, register, rest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def solo(module_gateways: GatewayFactory, api_server: Api) -> Gateway:
    return module_gateways(
        1, api=api_server, REDIS_URL="", MAX_SOCKETS_PER_USER="2", RESUME_CAP="3"
    )[0]


def _msg(room: int, content: str) -> dict[str, object]:
    return {
        "type": "message",
        "room_id": room,
        "client_msg_id": uuid.uuid4().hex,
        "content": content,
    }


async def test_in_process_broker_delivers_and_is_ready(api_server: Api, solo: Gateway) -> None:
    """Without Redis, messages stored through the gateway reach room members on it."""
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob)
    a = await Client.authed(solo.url, alice.token, ORIGIN)
    b = await Client.authed(solo.url, bob.token, ORIGIN)
    await a.join(room)
    await b.join(room)
    await a.send(_msg(room, "local"))
    ack = await a.expect(lambda f: f["type"] == "ack", "ack")
    ev = await b.expect(lambda f: f["type"] == "event", "event")
    assert ev["seq"] == ack["message"]["seq"] and ev["message"]["content"] == "local"
    await a.close()
    await b.close()


async def test_max_sockets_per_user(api_server: Api, solo: Gateway) -> None:
    """A user's third socket is refused with 1008 and a reason, before any auth_ok; the first
    two stay open, and a slot freed by closing one is taken by the next socket."""
    user = register(api_server.url)
    first = await Client.authed(solo.url, user.token, ORIGIN)
    second = await Client.authed(solo.url, user.token, ORIGIN)
    third = await Client.open(solo.url, ORIGIN)
    await third.send({"type": "auth", "token": user.token})
    assert await third.closed() == 1008
    assert third.frames == []  # no auth_ok first
    assert third.close_reason == "too many sockets for this user (limit 2)"
    assert first.close_code is None and second.close_code is None
    await first.close()
    await eventually(lambda: metric(solo.ops, "chat_gateway_connections") == 1, 10, "slot freed")
    fourth = await Client.authed(solo.url, user.token, ORIGIN)
    await second.close()
    await fourth.close()


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
    assert resumed == {"type": "resumed", "room_id": small, "last_seq": 3}
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
    await c.send(_msg(small, "via ws"))
    await c.expect(lambda f: f["type"] == "event" and f["seq"] == 5, "live event after resume")
    await c.close()


async def test_fetch_fills_a_gap(api_server: Api, solo: Gateway) -> None:
    """fetch(after, before) replays exactly that range, then `fetched`."""
    user = register(api_server.url)
    room = create_room(api_server.url, user)
    for i in range(5):
        body = {"room_id": room, "content": f"m{i}", "client_msg_id": f"f{i}"}
        assert rest(api_server.url, "POST", "/messages", user, json=body).status_code == 201
    c = await Client.authed(solo.url, user.token, ORIGIN)
    await c.join(room)
    done = await c.request(
        {"type": "fetch", "room_id": room, "after_seq": 1, "before_seq": 4},
        lambda f: f["type"] == "fetched",
        "fetched",
    )
    assert done["room_id"] == room
    assert [e["seq"] for e in c.events(room)] == [2, 3]
    await c.close()


async def test_auth_ok_names_the_protocol_version_for_old_and_new_clients(
    api_server: Api, solo: Gateway
) -> None:
    """auth_ok carries the wire version: served to a client that announces none (an old
    client) as to one that announces a later version than the gateway speaks."""
    user = register(api_server.url)
    answers = []
    for extra in ({}, {"protocol": 1}, {"protocol": 7}):
        client = await Client.open(solo.url, ORIGIN)
        await client.send({"type": "auth", "token": user.token, "ref": "a", **extra})
        answers.append(await client.expect(lambda f: f["type"] == "auth_ok", "auth_ok"))
        await client.close()
    assert [(a["protocol"], a["ref"], a["user_id"]) for a in answers] == [(1, "a", user.id)] * 3
