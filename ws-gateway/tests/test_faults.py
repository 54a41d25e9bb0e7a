"""Faults with real processes: kill -9 a replica, SIGTERM drain, Redis restart, presence TTL."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from conftest import ORIGIN, Api, Gateway, GatewayFactory
from gw_helpers import Client, Resilient, create_room, eventually, register, stored_messages

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def _converse(a: Resilient, b: Resilient, room: int, n: int, tag: str) -> None:
    for i in range(n):
        await a.say(room, f"{tag} a{i}")
        await b.say(room, f"{tag} b{i}")
        await asyncio.sleep(0.01)  # pacing a conversation, not waiting for an outcome


async def _assert_exact(api: Api, room: int, *clients: Resilient) -> None:
    """Every client ends with exactly Postgres's messages, in seq order, no duplicates."""
    for c in clients:
        await eventually(lambda c=c: not c.unacked, 30, "all messages acked")
    stored = stored_messages(api.url, clients[0].user, room)
    want = [(m["seq"], m["id"], m["content"]) for m in stored]
    for c in clients:
        await eventually(lambda c=c: len(c.seen[room]) >= len(stored), 30, "client caught up")
        got = [(seq, m["id"], m["content"]) for seq, m in sorted(c.seen[room].items())]
        assert got == want
        assert c.duplicates == 0
        for cmid, msg in c.acked.items():
            assert any(m["id"] == msg["id"] and m["client_msg_id"] == cmid for m in stored)


def _setup(api: Api, gws: list[Gateway]) -> tuple[Resilient, Resilient, int]:
    alice, bob = register(api.url), register(api.url)
    room = create_room(api.url, alice, bob)
    urls = [g.url for g in gws]
    a = Resilient(urls, alice, [room], ORIGIN)
    b = Resilient(list(reversed(urls)), bob, [room], ORIGIN)
    a.start()
    b.start()
    return a, b, room


async def test_kill_9_replica_clients_resume_on_the_other(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """kill -9 mid-conversation: clients reconnect with backoff+jitter, resume, match Postgres."""
    gws = start_gateways(2, api=api_server)
    a, b, room = _setup(api_server, gws)
    await eventually(lambda: a.connects and b.connects, 15, "both connected")
    await _converse(a, b, room, 15, "before")
    gws[0].proc.kill()
    await _converse(a, b, room, 15, "after")
    await eventually(lambda: a.connects >= 2, 20, "a reconnected to the survivor")
    await _assert_exact(api_server, room, a, b)
    await a.stop()
    await b.stop()


async def test_sigterm_drain(start_gateways: GatewayFactory, api_server: Api) -> None:
    """SIGTERM: readyz 503 while sockets still open, then 1012 closes, exit 0, no acked loss."""
    gws = start_gateways(2, api=api_server, DRAIN_DELAY_SECONDS="1")
    await eventually(lambda: httpx.get(gws[0].ops + "/readyz").status_code == 200, 20, "ready")
    a, b, room = _setup(api_server, gws)
    await eventually(lambda: a.connects and b.connects, 15, "both connected")
    watcher = await Client.authed(gws[0].url, a.user.token, ORIGIN)
    await _converse(a, b, room, 10, "before")
    gws[0].proc.signal(signal.SIGTERM)
    sending = asyncio.create_task(_converse(a, b, room, 20, "during"))
    await eventually(lambda: httpx.get(gws[0].ops + "/readyz").status_code == 503, 10, "unready")
    assert watcher.close_code is None, "sockets must close only after readiness flipped"
    assert await watcher.closed() == 1012
    await sending
    await eventually(lambda: not gws[0].proc.alive(), 30, "drained process exit")
    assert gws[0].proc.proc is not None and gws[0].proc.proc.returncode == 0
    assert 1012 in a.closes
    await _assert_exact(api_server, room, a, b)
    await a.stop()
    await b.stop()


async def test_redis_restart_resubscribes_and_clients_catch_up(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """Redis restarts: messages still stored and acked; gateways resubscribe; nothing missing."""
    gws = start_gateways(2, api=api_server)
    a, b, room = _setup(api_server, gws)
    await eventually(lambda: a.connects and b.connects, 15, "both connected")
    await _converse(a, b, room, 5, "before")
    api_server.redis.stop()
    await _converse(a, b, room, 5, "outage")
    await eventually(lambda: not a.unacked and not b.unacked, 30, "acked without Redis")
    api_server.redis.start()
    for gw in gws:
        await eventually(
            lambda gw=gw: httpx.get(gw.ops + "/readyz").json()["broker"]["subscribed"],
            30,
            "resubscribed",
        )
    await _converse(a, b, room, 5, "after")
    await _assert_exact(api_server, room, a, b)
    assert a.connects == 1 and b.connects == 1, "sockets survive a Redis restart"
    await a.stop()
    await b.stop()


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
