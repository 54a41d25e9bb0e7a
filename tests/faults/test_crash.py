"""Scenarios 1-2: a gateway replica is killed (-9) or drained (SIGTERM) mid-traffic."""

from __future__ import annotations

import asyncio
import signal

import httpx
from chat_testkit.client import Client, eventually
from fault_oracle import check_oracle
from fault_scenario import spread, stop_all, traffic
from fault_stack import ORIGIN, Api, Gateway


async def test_kill_9_gateway_mid_traffic(api: Api, pair: list[Gateway]) -> None:
    """kill -9 one replica while 6 clients talk: all resume on the survivor, oracle holds."""
    gws = pair
    clients, room = spread(api, gws, 6)
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    sending = asyncio.create_task(traffic(clients, room, 20, "kill9"))
    await eventually(lambda: sum(len(c.acked) for c in clients) >= 30, 20, "traffic flowing")
    on_killed = [c for c in clients if c.urls[0] == gws[0].url]
    assert on_killed, "spread puts clients on the replica that is killed"
    gws[0].proc.kill()
    await sending
    await eventually(
        lambda: all(c.connects >= 2 for c in on_killed), 20, "reconnected to the survivor"
    )
    await traffic(clients, room, 5, "after")
    await check_oracle(api.url, room, clients, "1 kill -9 gateway")
    await stop_all(clients)


async def test_sigterm_drain_mid_traffic(api: Api, pair: list[Gateway]) -> None:
    """SIGTERM one replica mid-traffic: unready, 1012 closes, exit 0, oracle holds."""
    gws = pair
    clients, room = spread(api, gws, 6)
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    sending = asyncio.create_task(traffic(clients, room, 20, "drain"))
    await eventually(lambda: sum(len(c.acked) for c in clients) >= 30, 20, "traffic flowing")
    watcher = await Client.authed(gws[0].url, clients[0].user.token, ORIGIN)
    gws[0].proc.signal(signal.SIGTERM)
    await eventually(lambda: httpx.get(gws[0].ops + "/readyz").status_code == 503, 10, "unready")
    assert watcher.close_code is None, "sockets must close only after readiness flipped"
    assert await watcher.closed() == 1012
    await sending
    await eventually(lambda: not gws[0].proc.alive(), 30, "drained replica exits")
    assert gws[0].proc.proc is not None and gws[0].proc.proc.returncode == 0
    await traffic(clients, room, 5, "after")
    rep = await check_oracle(
        api.url,
        room,
        clients,
        "2 SIGTERM drain",
        closes=sorted({x for c in clients for x in c.closes}),
    )
    assert 1012 in rep.extra["closes"], "drained sockets close with 1012"
    await stop_all(clients)
