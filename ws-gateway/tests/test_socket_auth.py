"""Socket admission after the first frame: the per-user socket limit."""

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
