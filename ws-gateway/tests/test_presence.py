"""Presence across replicas: a killed replica's users expire from the shared presence."""

from __future__ import annotations

import pytest
from chat_testkit.client import Client, create_room, register
from conftest import ORIGIN, Api, GatewayFactory

pytestmark = [pytest.mark.integration]


async def test_killed_replica_users_go_offline_within_ttl(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """kill -9 a replica: its users drop out of presence on the other replica within the TTL."""
    gws = start_gateways(2, api=api_server, PRESENCE_TTL_SECONDS="3")
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob)
    a = await Client.authed(gws[0].url, alice.token, ORIGIN)
    await a.join(room)
    b = await Client.authed(gws[1].url, bob.token, ORIGIN)
    await b.join(room)
    await a.expect(
        lambda f: f["type"] == "presence" and bob.id in f.get("joined", []), "bob online"
    )
    gws[1].proc.kill()
    # TTL 3 s + one presence interval (1 s) + scheduling slack on a 2-core machine.
    left = await a.expect(
        lambda f: f["type"] == "presence" and bob.id in f.get("left", []), "bob offline", timeout=6
    )
    assert left["online"] == [alice.id]
    await a.close()
