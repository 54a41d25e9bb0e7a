"""The broker without Redis (the embedded `make run` mode): the in-process broker delivers."""

from __future__ import annotations

import pytest
from chat_testkit.client import Client, create_room, register
from conftest import ORIGIN, Api, Gateway
from gw_helpers import message_frame

pytestmark = pytest.mark.integration


async def test_in_process_broker_delivers_and_is_ready(api_server: Api, solo: Gateway) -> None:
    """Without Redis, messages stored through the gateway reach room members on it."""
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob)
    a = await Client.authed(solo.url, alice.token, ORIGIN)
    b = await Client.authed(solo.url, bob.token, ORIGIN)
    await a.join(room)
    await b.join(room)
    await a.send(message_frame(room, "local"))
    ack = await a.expect(lambda f: f["type"] == "ack", "ack")
    ev = await b.expect(lambda f: f["type"] == "event", "event")
    assert ev["seq"] == ack["message"]["seq"] and ev["message"]["content"] == "local"
    await a.close()
    await b.close()
