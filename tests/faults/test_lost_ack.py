"""Scenario 6: the connection is cut after commit, before the ack reaches the client."""

from __future__ import annotations

import uuid

from chat_testkit.client import Client, Resilient, create_room, eventually, rest, stored_messages
from fault_client import users
from fault_oracle import check_oracle
from fault_relay import AckEater
from fault_scenario import stop_all, traffic
from fault_stack import ORIGIN, Api, Gateway


async def test_lost_ack_retry_returns_the_original(api: Api, pair: list[Gateway]) -> None:
    """An ack lost with its connection: the retry (same client_msg_id) returns the same row."""
    alice, bob = users(api.url, 2)
    room = create_room(api.url, alice, bob)
    eater = await AckEater(pair[0].port).start()
    a = await Client.authed(eater.url, alice.token, ORIGIN)
    await a.send({"type": "join", "room_id": room})
    await a.expect(lambda f: f["type"] == "joined", "joined")
    frame = {"type": "message", "room_id": room, "client_msg_id": uuid.uuid4().hex, "content": "x"}
    await a.send(frame)
    await eventually(lambda: a.close_code is not None, 15, "connection cut by the relay")
    assert len(eater.eaten) == 1 and not any(f["type"] == "ack" for f in a.frames)
    original = eater.eaten[0]["message"]
    # Retry on the other replica, directly: the API answers with the original row.
    b = await Client.authed(pair[1].url, alice.token, ORIGIN)
    await b.send({"type": "join", "room_id": room})  # the gateway stores for joined rooms only
    await b.expect(lambda f: f["type"] == "joined", "joined")
    await b.send({**frame, "ref": "retry"})
    ack = await b.expect(lambda f: f.get("ref") == "retry", "retry answer")
    assert ack["type"] == "ack"
    assert ack["message"]["id"] == original["id"]
    assert ack["message"]["seq"] == original["seq"]
    again = rest(
        api.url,
        "POST",
        "/messages",
        alice,
        json={k: frame[k] for k in ("room_id", "client_msg_id", "content")},
    )
    assert again.status_code == 200 and again.json()["id"] == original["id"]
    rows = [
        m
        for m in stored_messages(api.url, bob, room)
        if m["client_msg_id"] == frame["client_msg_id"]
    ]
    assert len(rows) == 1
    await b.close()
    await eater.stop()


async def test_lost_acks_under_traffic(api: Api, pair: list[Gateway]) -> None:
    """Every 4th ack is lost with its connection; resilient clients converge on the oracle."""
    members = users(api.url, 4)
    room = create_room(api.url, members[0], *members[1:])
    eaters = [await AckEater(g.port, every=4).start() for g in pair]
    clients = []
    for i, u in enumerate(members):
        urls = [eaters[i % 2].url, eaters[(i + 1) % 2].url]
        c = Resilient(urls, u, [room], ORIGIN)
        c.start()
        clients.append(c)
    await eventually(lambda: all(c.connected for c in clients), 20, "all connected")
    await traffic(clients, room, 15, "lost-ack", pause=0.05)
    await eventually(lambda: sum(len(e.eaten) for e in eaters) >= 5, 30, "acks eaten")
    for e in eaters:
        e.armed = False  # let the retries through so the run ends
    rep = await check_oracle(
        api.url, room, clients, "6 lost ack", acks_lost=sum(len(e.eaten) for e in eaters)
    )
    eaten = {m["client_msg_id"]: m["message"]["id"] for e in eaters for m in e.eaten}
    for c in clients:
        for cmid, msg in c.acked.items():
            if cmid in eaten:
                assert msg["id"] == eaten[cmid], "the retry's ack names the original row"
    assert rep.failed_reported == 0
    await stop_all(clients)
    for e in eaters:
        await e.stop()
