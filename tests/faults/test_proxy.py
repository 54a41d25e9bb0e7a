"""Scenarios 9-10: nginx (the Ingress stand-in) in front of both gateway replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from chat_testkit.client import Client, Resilient, create_room, eventually
from chat_testkit.nginx import Nginx
from fault_client import users
from fault_oracle import check_oracle
from fault_scenario import acked, stop_all, traffic
from fault_stack import ORIGIN, Api, Gateway, GatewayLauncher, metric_sum


def _upstreams(gws: list[Gateway]) -> list[str]:
    return [f"127.0.0.1:{g.port}" for g in gws]


def _sockets(gw: Gateway) -> float:
    return metric_sum(gw.metrics(), "chat_gateway_connections")


async def test_nginx_reload_mid_traffic(
    api: Api, pair: list[Gateway], nginx: Callable[..., Nginx]
) -> None:
    """`nginx -s reload` mid-traffic: open sockets keep working, new ones connect, oracle holds."""
    proxy = nginx(_upstreams(pair))
    members = users(api.url, 6)
    room = create_room(api.url, members[0], *members[1:])
    clients = [Resilient([proxy.ws_url], u, [room], ORIGIN) for u in members]
    for c in clients:
        c.start()
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected via nginx")
    per_replica = [_sockets(g) for g in pair]
    sending = asyncio.create_task(traffic(clients, room, 30, "reload", pause=0.05))
    await eventually(lambda: acked(clients) >= 20, 20, "traffic flowing")
    old = proxy.worker_pids()
    started = time.monotonic()
    proxy.reload()  # returns once a new worker runs
    late = await Client.authed(proxy.ws_url, members[0].token, ORIGIN)  # through new workers
    new_workers = time.monotonic() - started
    await sending
    rep = await check_oracle(
        api.url,
        room,
        clients,
        "9 nginx reload",
        sockets_per_replica=per_replica,
        new_workers_after_seconds=round(new_workers, 2),
        old_workers_still_serving=len(old & proxy.worker_pids()),
        sockets_that_reconnected=sum(c.connects > 1 for c in clients),
    )
    assert all(n > 0 for n in per_replica), "nginx spread the sockets over both replicas"
    assert rep.failed_reported == 0
    await late.close()
    await stop_all(clients)


async def _idle(client: Client, seconds: float) -> float:
    """Wait idle until `seconds` pass or the socket is closed; return the time waited."""
    started = time.monotonic()
    await eventually(
        lambda: client.close_code is not None or time.monotonic() - started > seconds,
        seconds + 5,
        "idle period",
    )
    return time.monotonic() - started


async def test_idle_socket_survives_proxy_timeout_thanks_to_pings(
    api: Api, pair: list[Gateway], gateways: GatewayLauncher, nginx: Callable[..., Nginx]
) -> None:
    """5 s proxy read timeout: pinged sockets stay up 8 s idle; unpinged ones are dropped."""
    alice, bob = users(api.url, 2)
    room = create_room(api.url, alice, bob)
    proxy = nginx(_upstreams(pair), ws_timeout=5)
    # The client itself sends no pings: only the gateway's (every 2 s) keep it alive.
    pinged = await Client.authed(proxy.ws_url, alice.token, ORIGIN, ping_interval=None)
    await pinged.send({"type": "join", "room_id": room, "ref": "j"})
    await pinged.expect(lambda f: f.get("ref") == "j", "joined")
    idle_ok = await _idle(pinged, 8)
    assert pinged.close_code is None, "a pinged socket outlives the proxy read timeout"
    await pinged.send(
        {"type": "message", "room_id": room, "client_msg_id": "idle-1", "content": "hi"}
    )
    await pinged.expect(lambda f: f["type"] == "ack", "ack after the idle period")

    # Negative control: the same proxy timeout, a gateway that never pings.
    silent_gw = gateways(1, PING_INTERVAL_SECONDS="3600")[0]
    silent_proxy = nginx(_upstreams([silent_gw]), ws_timeout=5)
    silent = await Client.authed(silent_proxy.ws_url, bob.token, ORIGIN, ping_interval=None)
    dropped_after = await _idle(silent, 12)
    print(
        f"\nFAULTS-REPORT 10 idle: pinged socket alive after {idle_ok:.1f}s idle; "
        f"unpinged socket dropped after {dropped_after:.1f}s (code {silent.close_code})"
    )
    assert silent.close_code is not None, "without pings the proxy drops an idle socket"
    assert dropped_after >= 4.5, "dropped by the 5 s read timeout, not earlier"
    await pinged.close()
