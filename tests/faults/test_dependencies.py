"""Scenarios 3-5: Redis, PostgreSQL and the API restart under traffic; gateways stay up."""

from __future__ import annotations

import asyncio
import time

import httpx
from chat_testkit.client import Client, eventually
from fault_client import register
from fault_oracle import check_oracle
from fault_scenario import acked, spread, stop_all, traffic
from fault_stack import ORIGIN, Api, Gateway
from websockets.asyncio.client import connect


def _ready(gw: Gateway) -> bool:
    try:
        return httpx.get(gw.ops + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_redis_restart_during_traffic(api: Api, pair: list[Gateway]) -> None:
    """Redis restarts mid-traffic: stores keep acking, gateways resubscribe, oracle holds."""
    clients, room = spread(api, pair, 4)
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    sending = asyncio.create_task(traffic(clients, room, 40, "redis", pause=0.05))
    await eventually(lambda: acked(clients) >= 20, 20, "traffic flowing")
    started = time.monotonic()
    await asyncio.to_thread(api.redis.restart)
    await eventually(lambda: all(_ready(g) for g in pair), 30, "gateways ready again")
    recovery = time.monotonic() - started
    await sending
    await traffic(clients, room, 3, "after")
    rep = await check_oracle(
        api.url, room, clients, "3 Redis restart", broker_recovery_seconds=round(recovery, 2)
    )
    assert rep.failed_reported == 0, "a Redis outage must not fail any message"
    assert rep.reconnects == 0, "sockets survive a Redis restart"
    await stop_all(clients)


async def test_postgres_fast_restart_during_traffic(api: Api, pair: list[Gateway]) -> None:
    """PostgreSQL fast restart mid-traffic: nacks are retryable, retries land exactly once."""
    clients, room = spread(api, pair, 4)
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    sending = asyncio.create_task(traffic(clients, room, 40, "pg", pause=0.05))
    await eventually(lambda: acked(clients) >= 20, 20, "traffic flowing")
    started = time.monotonic()
    before = acked(clients)
    await asyncio.to_thread(api.pg.restart)
    await eventually(lambda: acked(clients) > before + 4, 40, "acks after the restart")
    recovery = time.monotonic() - started
    await sending
    rep = await check_oracle(
        api.url, room, clients, "4 PostgreSQL fast restart", db_recovery_seconds=round(recovery, 2)
    )
    assert rep.failed_reported == 0, "a short database restart must not fail any message"
    await stop_all(clients)


async def _refused_code(url: str, token: str) -> int:
    """A brand-new socket's auth while the API is down: the gateway's close code."""
    async with connect(url, origin=ORIGIN, open_timeout=10) as ws:
        client = Client(ws)
        await client.send({"type": "auth", "token": token})
        await eventually(lambda: client.close_code is not None, 15, "close after auth")
        assert not any(f["type"] == "auth_ok" for f in client.frames)
        assert client.close_code is not None
        return client.close_code


async def test_api_killed_and_restarted(api: Api, pair: list[Gateway]) -> None:
    """API down: new handshakes close 1013, open sockets get retryable nacks; then recover."""
    clients, room = spread(api, pair, 4, give_up_seconds=120)
    fresh = register(api.url)  # never shown to a gateway, so not in any validation cache
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    sending = asyncio.create_task(traffic(clients, room, 40, "api", pause=0.05))
    await eventually(lambda: acked(clients) >= 20, 20, "traffic flowing")
    api.kill()
    killed = time.monotonic()
    await eventually(lambda: sum(c.nacks for c in clients) > 0, 15, "nacks while API down")
    codes = [await _refused_code(gw.url, fresh.token) for gw in pair]
    await eventually(lambda: not any(_ready(g) for g in pair), 15, "gateways report unready")
    phases = {"refusals_checked": round(time.monotonic() - killed, 2)}
    await asyncio.to_thread(api.start)
    phases["api_up"] = round(time.monotonic() - killed, 2)
    await eventually(lambda: all(_ready(g) for g in pair), 30, "gateways ready again")
    recovery = time.monotonic() - killed
    await sending
    rep = await check_oracle(
        api.url,
        room,
        clients,
        "5 API killed and restarted",
        handshake_close_codes=codes,
        api_outage_seconds=round(recovery, 2),
        phases=phases,
    )
    assert codes == [1013, 1013], "new handshakes are refused with 1013 (retry later)"
    assert rep.failed_reported == 0, "every nack was retryable and the retry landed"
    assert rep.nacks > 0
    await stop_all(clients)
