"""Soak (opt-in: `make soak`, marker `soak`): scenarios 1-5 and 9 in rotation under steady
traffic for SOAK_SECONDS, then the same oracle as every scenario.

The short scenarios prove each fault once; this proves they compose: a replica restarted
after a kill -9 must survive the Redis restart that follows, a client that resumed after
a drain must resume again after the API restart, and gateway memory must not creep.
Access tokens live at most 15 minutes and the clients here never refresh, so a soak is
capped below that.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

import pytest
from chat_testkit.client import Resilient, create_room, eventually
from chat_testkit.nginx import Nginx
from fault_client import register
from fault_oracle import check_oracle
from fault_stack import ORIGIN, PAIR_ENV, Api, Gateway, GatewayLauncher

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
TOKEN_LIFETIME_CAP = 840  # the API's access-token TTL is at most 900 s
CLIENTS = 12  # half through nginx, half straight to a replica
PACE_SECONDS = 0.25  # a busy room: ~48 messages/s in total

pytestmark = [pytest.mark.soak, pytest.mark.timeout(int(SOAK_SECONDS) + 600)]


async def _kill_9(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    gws[n % 2].proc.kill()
    await asyncio.to_thread(gws[n % 2].restart)


async def _drain(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    gw = gws[n % 2]
    gw.proc.signal(signal.SIGTERM)
    await eventually(lambda: not gw.proc.alive(), 60, "drained replica exits")
    assert gw.proc.proc is not None and gw.proc.proc.returncode == 0, "drain exits 0"
    await asyncio.to_thread(gw.restart)


async def _redis(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    await asyncio.to_thread(api.redis.restart)


async def _postgres(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    await asyncio.to_thread(api.pg.restart)


async def _api(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    api.kill()
    await asyncio.to_thread(api.start)


async def _nginx(api: Api, gws: list[Gateway], proxy: Nginx, n: int) -> None:
    proxy.reload()


Fault = Callable[[Api, list[Gateway], Nginx, int], Awaitable[None]]
FAULTS: list[tuple[str, Fault]] = [
    ("kill -9 gateway", _kill_9),
    ("redis restart", _redis),
    ("SIGTERM drain", _drain),
    ("postgres restart", _postgres),
    ("nginx reload", _nginx),
    ("api restart", _api),
]


async def _talk(clients: list[Resilient], room: int, until: float) -> int:
    rounds = 0
    while time.monotonic() < until:
        for k, c in enumerate(clients):
            await c.say(room, f"soak {k}.{rounds}")
        rounds += 1
        await asyncio.sleep(PACE_SECONDS)  # pacing a conversation, not waiting for an outcome
    return rounds


async def test_soak_faults_in_rotation(
    api: Api, gateways: GatewayLauncher, nginx: Callable[..., Nginx]
) -> None:
    assert SOAK_SECONDS <= TOKEN_LIFETIME_CAP, (
        f"SOAK_SECONDS={SOAK_SECONDS:g} outlives the clients' access tokens "
        f"(cap {TOKEN_LIFETIME_CAP} s)"
    )
    gws = gateways(2, **PAIR_ENV)
    proxy = nginx([f"127.0.0.1:{g.port}" for g in gws])
    members = [register(api.url) for _ in range(CLIENTS)]  # fresh tokens for the whole run
    room = create_room(api.url, members[0], *members[1:])
    direct = [g.url for g in gws]
    clients = [
        Resilient(
            [proxy.ws_url] if i % 2 else direct[i % 4 // 2 :] + direct[: i % 4 // 2],
            u,
            [room],
            ORIGIN,
            give_up_seconds=120,
        )
        for i, u in enumerate(members)
    ]
    for c in clients:
        c.start()
    await eventually(lambda: all(c.connected for c in clients), 30, "all connected")
    rss_start = [g.rss_kib() for g in gws]

    started = time.monotonic()
    talking = asyncio.create_task(_talk(clients, room, started + SOAK_SECONDS))
    every = max(SOAK_SECONDS / (2 * len(FAULTS)), 10.0)  # about two rounds of the rotation
    recoveries: dict[str, list[float]] = {}
    n = 0
    while time.monotonic() + every < started + SOAK_SECONDS:
        await asyncio.sleep(every)  # steady traffic between faults is the point of a soak
        name, fault = FAULTS[n % len(FAULTS)]
        t0 = time.monotonic()
        await fault(api, gws, proxy, n // len(FAULTS))
        await eventually(lambda: all(c.connected for c in clients), 90, f"recovered: {name}")
        recoveries.setdefault(name, []).append(round(time.monotonic() - t0, 2))
        n += 1
    rounds = await talking
    rss_end = [g.rss_kib() for g in gws]

    rep = await check_oracle(
        api.url,
        room,
        clients,
        "soak",
        seconds=SOAK_SECONDS,
        rounds=rounds,
        faults_injected=n,
        recovery_seconds=recoveries,
        gateway_rss_kib_start=rss_start,
        gateway_rss_kib_end=rss_end,
    )
    assert n >= len(FAULTS), "every fault ran at least once"
    assert rep.failed_reported == 0, "no fault here lasts past the clients' 120 s give-up"
    assert rep.stored == rep.sent == rounds * CLIENTS, "every message sent was stored once"
    for c in clients:
        await c.stop()
