"""Scenario definitions: one set of numbers drives our gateway, the Socket.IO peer and the floor.

Socket i belongs to room i % rooms, to user i % users (ours only) and, with two replicas, to
replica (i // rooms) % 2, so every room has members on both replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["fanout", "persist", "idle"]
TARGETS = ("ours", "socketio", "floor")


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    sockets: int
    rooms: int
    rate: float = 0.0  # offered msg/s in total (fanout: open loop)
    duration: float = 10.0  # seconds of sending
    replicas: int = 1
    senders: int = 0  # persist: sockets that send, closed loop
    window: int = 0  # persist: messages in flight per sender
    targets: tuple[str, ...] = TARGETS
    rounds: int = 1  # fanout: repeat, interleaving targets, to quote ranges
    what: str = ""

    def room_of(self, i: int) -> int:
        return i % self.rooms

    def replica_of(self, i: int) -> int:
        return (i // self.rooms) % self.replicas

    def members(self, room: int) -> int:
        return len(range(room, self.sockets, self.rooms))


@dataclass(frozen=True)
class Plan:
    scenarios: tuple[Scenario, ...]
    users: int  # accounts in the API (argon2 makes each one cost ~0.2 s to create)
    workers: int = 2  # load generator processes
    drain: float = 3.0  # seconds to keep receiving after the last send
    label: str = "full"
    # Replicas per target started up front (in parallel); more are added when a scenario needs
    # them and stopped again after it.
    replicas: int = 1
    extra: dict[str, str] = field(default_factory=dict)


FULL = Plan(
    label="full",
    users=50,
    scenarios=(
        # Idle first, on fresh servers, so freed memory of earlier scenarios cannot hide growth.
        Scenario(
            "idle-10k", "idle", sockets=10_000, rooms=100, what="(c) 10,000 idle sockets, 1 replica"
        ),
        Scenario(
            "fanout-1x500",
            "fanout",
            sockets=500,
            rooms=1,
            rate=20,
            duration=10,
            rounds=2,
            what="(a) 1 room x 500 sockets, 20 msg/s offered (10,000 deliveries/s)",
        ),
        Scenario(
            "fanout-1000",
            "fanout",
            sockets=1000,
            rooms=50,
            rate=500,
            duration=10,
            rounds=2,
            what="(a) 1,000 sockets in 50 rooms, 500 msg/s offered (10,000 deliveries/s)",
        ),
        Scenario(
            "replicas-2",
            "fanout",
            sockets=1000,
            rooms=50,
            rate=250,
            duration=10,
            replicas=2,
            targets=("ours", "socketio"),
            what="(d) 2 replicas via Redis, 1,000 sockets in 50 rooms, 250 msg/s offered",
        ),
        Scenario(
            "persist",
            "persist",
            sockets=200,
            rooms=20,
            senders=200,
            window=4,
            duration=15,
            targets=("ours",),
            what="(b) 200 senders x 4 in flight, closed loop, gateway -> API -> PostgreSQL, acks",
        ),
    ),
)

SMOKE = Plan(
    label="smoke",
    users=3,
    replicas=2,
    workers=1,
    drain=1.0,
    scenarios=(
        Scenario("idle", "idle", sockets=12, rooms=2),
        Scenario("fanout", "fanout", sockets=12, rooms=2, rate=20, duration=1.0),
        Scenario(
            "replicas-2",
            "fanout",
            sockets=12,
            rooms=2,
            rate=10,
            duration=1.0,
            replicas=2,
            targets=("ours", "socketio"),
        ),
        Scenario(
            "persist",
            "persist",
            sockets=4,
            rooms=2,
            senders=4,
            window=2,
            duration=1.0,
            targets=("ours",),
        ),
    ),
)
