"""Scenario building blocks: members spread over replicas, paced traffic."""

from __future__ import annotations

import asyncio

from chat_testkit.client import Resilient, create_room
from fault_client import users
from fault_stack import ORIGIN, Api, Gateway


def spread(
    api: Api, gws: list[Gateway], n: int, give_up_seconds: float = 60.0
) -> tuple[list[Resilient], int]:
    """n members of one room, client i first connecting to replica i % 2."""
    members = users(api.url, n)
    room = create_room(api.url, members[0], *members[1:])
    urls = [g.url for g in gws]
    clients = []
    for i, u in enumerate(members):
        order = urls[i % len(urls) :] + urls[: i % len(urls)]
        c = Resilient(order, u, [room], ORIGIN, give_up_seconds)
        c.start()
        clients.append(c)
    return clients, room


async def traffic(
    clients: list[Resilient], room: int, rounds: int, tag: str, pause: float = 0.01
) -> None:
    for i in range(rounds):
        for k, c in enumerate(clients):
            await c.say(room, f"{tag} {k}.{i}")
        await asyncio.sleep(pause)  # pacing a conversation, not waiting for an outcome


def acked(clients: list[Resilient]) -> int:
    return sum(len(c.acked) for c in clients)


async def stop_all(clients: list[Resilient]) -> None:
    for c in clients:
        await c.stop()


def latencies(clients: list[Resilient], cmids: set[str]) -> list[float]:
    """Send-to-live-delivery seconds for the given messages, over every receiving client."""
    sent_at: dict[str, float] = {}
    for c in clients:
        sent_at.update({k: v for k, v in c.first_sent.items() if k in cmids})
    return [
        at - sent_at[cmid] for c in clients for cmid, at in c.arrived.items() if cmid in sent_at
    ]
