"""No Redis anywhere (the `make run` default): the gateway follows the API's event stream,
so REST-made changes and revocations reach its sockets live (ws_gateway/follow.py)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from chat_testkit.client import Client, create_room, eventually, register, rest
from conftest import ORIGIN, Api, Gateway, GatewayFactory

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def solo(module_gateways: GatewayFactory, api_without_redis: Api) -> Gateway:
    return module_gateways(1, api=api_without_redis, REDIS_URL="")[0]


def _ready(gw: Gateway) -> bool:
    return httpx.get(gw.ops + "/readyz", timeout=2).status_code == 200


async def test_rest_messages_edits_and_deletes_arrive_live(
    api_without_redis: Api, solo: Gateway
) -> None:
    """A bot posting, editing and deleting over REST is seen live by a socket, in order."""
    api = api_without_redis
    bot, bob = register(api.url, "bot"), register(api.url)
    room = create_room(api.url, bot, bob)
    b = await Client.authed(solo.url, bob.token, ORIGIN)
    await b.join(room)
    body = {"room_id": room, "content": "from a bot", "client_msg_id": uuid.uuid4().hex}
    created = rest(api.url, "POST", "/messages", bot, json=body)
    assert created.status_code == 201, created.text
    mid = created.json()["id"]
    assert rest(api.url, "PATCH", f"/messages/{mid}", bot, json={"content": "v2"}).is_success
    assert rest(api.url, "DELETE", f"/messages/{mid}", bot).is_success
    await eventually(lambda: len(b.events(room)) == 3, 10, "three live events")
    kinds = [(e["event"], e["message"]["content"]) for e in b.events(room)]
    assert [k for k, _ in kinds] == ["message.created", "message.updated", "message.deleted"]
    assert kinds[0][1] == "from a bot" and kinds[1][1] == "v2"
    await b.close()


async def test_socket_sends_are_delivered_once(api_without_redis: Api, solo: Gateway) -> None:
    """A message sent over a socket comes back once to each member (stream, no local echo)."""
    api = api_without_redis
    alice, bob = register(api.url), register(api.url)
    room = create_room(api.url, alice, bob)
    a = await Client.authed(solo.url, alice.token, ORIGIN)
    b = await Client.authed(solo.url, bob.token, ORIGIN)
    await a.join(room)
    await b.join(room)
    frame = {"type": "message", "room_id": room, "client_msg_id": "c1", "content": "hi"}
    await a.send(frame)
    await a.expect(lambda f: f["type"] == "ack", "ack")
    await b.expect(lambda f: f["type"] == "event", "event")
    # A later REST post is a marker: once it is in, any duplicate of "hi" would be too.
    body = {"room_id": room, "content": "marker", "client_msg_id": "c2"}
    assert rest(api.url, "POST", "/messages", alice, json=body).status_code == 201
    for c in (a, b):
        await eventually(lambda c=c: len(c.events(room)) == 2, 10, "marker")
        assert [e["message"]["content"] for e in c.events(room)] == ["hi", "marker"]
    await a.close()
    await b.close()


async def test_logout_closes_sockets_and_refuses_the_token(
    api_without_redis: Api, solo: Gateway
) -> None:
    """Logout over REST closes the session's open sockets (1008) and the same, cached
    token is refused at `auth` on a new socket."""
    api = api_without_redis
    user = register(api.url)
    open_socket = await Client.authed(solo.url, user.token, ORIGIN)
    assert rest(api.url, "POST", "/logout", user).status_code == 204
    assert await open_socket.closed() == 1008
    assert open_socket.close_reason == "revoked: logout"
    fresh = await Client.open(solo.url, ORIGIN)
    await fresh.send({"type": "auth", "token": user.token})
    assert await fresh.closed() == 1008
    assert not [f for f in fresh.frames if f["type"] == "auth_ok"]


async def test_api_restart_is_followed_again(api_without_redis: Api, solo: Gateway) -> None:
    """The stream breaks when the API restarts; the gateway is unready meanwhile, then
    follows the new process (a resync) and live delivery works again."""
    api = api_without_redis
    alice, bob = register(api.url), register(api.url)
    room = create_room(api.url, alice, bob)
    b = await Client.authed(solo.url, bob.token, ORIGIN)
    await b.join(room)
    api.proc.terminate()
    await eventually(lambda: not _ready(solo), 15, "unready while the API is down")
    api.proc.start(timeout=60)
    await eventually(lambda: _ready(solo), 30, "ready again")
    body = {"room_id": room, "content": "after restart", "client_msg_id": uuid.uuid4().hex}
    assert rest(api.url, "POST", "/messages", alice, json=body).status_code == 201
    ev = await b.expect(lambda f: f["type"] == "event", "live event after the restart")
    assert ev["message"]["content"] == "after restart"
    await b.close()
