"""Socket admission after the first frame: the per-user socket limit, the wire version."""

from __future__ import annotations

import pytest
from chat_testkit.client import Client, eventually, register
from conftest import ORIGIN, Api, Gateway
from gw_helpers import metric

pytestmark = pytest.mark.integration


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
    assert [(a["protocol"], a["ref"], a["user_id"]) for a in answers] == [(2, "a", user.id)] * 3
    assert all(a["user_seq"] == 0 for a in answers), "a new user's stream is empty"
