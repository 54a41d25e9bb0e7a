"""Batched message stores (POST /messages/batch on the API's internal port) and the gateway's
HTTP client under API stalls: real API process, stopped and resumed with SIGSTOP/SIGCONT."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from chat_testkit.client import (
    Client,
    Frame,
    create_room,
    eventually,
    handshake_status,
    register,
    stored_messages,
)
from conftest import ORIGIN, Api, Gateway, GatewayFactory
from gw_helpers import metric
from websockets.asyncio.client import connect

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BATCHES = "chat_gateway_store_batch_size_count"
BATCHED = "chat_gateway_store_batch_size_sum"
QUEUED = "chat_gateway_store_queue_depth"


def _msg(room: int, content: str, cmid: str | None = None) -> Frame:
    cmid = cmid or uuid.uuid4().hex
    return {"type": "message", "room_id": room, "client_msg_id": cmid, "content": content}


async def _joined(gw: Gateway, token: str, room: int) -> Client:
    """A socket subscribed to the room: the gateway stores messages only for joined rooms."""
    client = await Client.authed(gw.url, token, ORIGIN)
    assert (await client.join(room))["type"] == "joined"
    return client


def _replies(client: Client, cmid: str) -> list[Frame]:
    return [
        f for f in client.frames if f["type"] in ("ack", "nack") and f.get("client_msg_id") == cmid
    ]


async def _reply(client: Client, cmid: str, timeout: float = 20) -> Frame:
    return await client.expect(
        lambda f: f["type"] in ("ack", "nack") and f.get("client_msg_id") == cmid,
        f"reply to {cmid}",
        timeout,
    )


@contextmanager
def _stopped(api: Api) -> Iterator[None]:
    """The API process frozen (connections still accepted by the kernel, never answered)."""
    api.proc.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        api.proc.signal(signal.SIGCONT)


async def _one_batch_in_flight(gw: Gateway) -> None:
    await eventually(
        lambda: metric(gw.ops, BATCHES) == 1 and metric(gw.ops, QUEUED) == 0,
        10,
        "the first batch in flight",
    )


async def test_burst_from_many_sockets_acked_once_and_stored_once(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """Sends from 8 sockets at once: each acked exactly once, each stored exactly once."""
    gw = start_gateways(1, api=api_server)[0]
    users = [register(api_server.url) for _ in range(4)]
    room = create_room(api_server.url, users[0], *users[1:])
    clients = [await _joined(gw, u.token, room) for u in users for _ in range(2)]
    sent: dict[int, list[str]] = {}

    async def burst(i: int, client: Client) -> None:
        frames = [_msg(room, f"burst {i}.{n}") for n in range(15)]
        sent[i] = [str(f["client_msg_id"]) for f in frames]
        for f in frames:
            await client.send(f)

    await asyncio.gather(*(burst(i, c) for i, c in enumerate(clients)))
    acked: dict[str, int] = {}
    for i, client in enumerate(clients):
        for cmid in sent[i]:
            reply = await _reply(client, cmid)
            assert reply["type"] == "ack", reply
            assert len(_replies(client, cmid)) == 1
            acked[cmid] = reply["message"]["id"]
    stored = stored_messages(api_server.url, users[0], room)
    assert Counter(m["client_msg_id"] for m in stored) == Counter(acked.keys())
    assert {m["client_msg_id"]: m["id"] for m in stored} == acked
    # Every message went out in exactly one batch request.
    assert metric(gw.ops, BATCHED) == len(acked)
    for c in clients:
        await c.close()


async def test_one_batch_answers_each_item_alone(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """Queued sends leave together: a repeated client_msg_id is stored once and acked twice,
    and the API judges each item: the send of a user no longer a member (her membership gone
    before the gateway heard of it) gets the only non-retryable nack."""
    gw = start_gateways(1, api=private_api, STORE_CONCURRENCY="1", API_TIMEOUT_SECONDS="15")[0]
    alice, bob, eve = (register(private_api.url) for _ in range(3))
    room = create_room(private_api.url, alice, bob, eve)
    b1, b2 = [await _joined(gw, bob.token, room) for _ in range(2)]
    a1, a2 = [await _joined(gw, alice.token, room) for _ in range(2)]
    e = await _joined(gw, eve.token, room)
    first, dup, intruder, other = (
        _msg(room, "first"),
        _msg(room, "dup"),
        _msg(room, "x"),
        _msg(room, "b2"),
    )
    with _stopped(private_api):
        await b1.send(first)  # occupies the only batch slot while the API is frozen
        await _one_batch_in_flight(gw)
        for client, frame in ((a1, dup), (a2, dup), (e, intruder), (b2, other)):
            await client.send(frame)
        await eventually(lambda: metric(gw.ops, QUEUED) == 4, 10, "four sends queued")
        # Still subscribed on the socket, no longer a member: the API refuses her item. (A
        # REST leave would be an event, and the gateway would unsubscribe her at once.)
        _drop_membership(private_api.database_url, room, eve.id)
    assert (await _reply(b1, first["client_msg_id"]))["type"] == "ack"
    dup_a1, dup_a2 = await _reply(a1, dup["client_msg_id"]), await _reply(a2, dup["client_msg_id"])
    assert dup_a1["type"] == dup_a2["type"] == "ack"
    assert dup_a1["message"]["id"] == dup_a2["message"]["id"]
    nack = await _reply(e, intruder["client_msg_id"])
    assert nack["type"] == "nack" and nack["retryable"] is False, nack
    assert (await _reply(b2, other["client_msg_id"]))["type"] == "ack"
    assert metric(gw.ops, BATCHES) == 2 and metric(gw.ops, BATCHED) == 5
    stored = stored_messages(private_api.url, alice, room)
    assert sorted(m["content"] for m in stored) == ["b2", "dup", "first"]
    for c in (a1, a2, b1, b2, e):
        await c.close()


def _drop_membership(database_url: str, room_id: int, user_id: int) -> None:
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            "DELETE FROM memberships WHERE room_id = %s AND user_id = %s", (room_id, user_id)
        )


async def test_second_batch_opens_only_when_enough_sends_wait(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """Beside a batch in flight, a few sends wait for it (one request later, together); a
    queue of STORE_PARALLEL_MIN opens a second batch at once."""
    gw = start_gateways(
        1, api=private_api, STORE_CONCURRENCY="4", STORE_PARALLEL_MIN="5", API_TIMEOUT_SECONDS="15"
    )[0]
    users = [register(private_api.url) for _ in range(3)]
    room = create_room(private_api.url, users[0], *users[1:])
    # One socket has one send in the store at a time, so each send here is another socket.
    clients = [await _joined(gw, u.token, room) for u in users for _ in range(2)]
    frames = [_msg(room, f"p{i}") for i in range(6)]
    with _stopped(private_api):
        await clients[0].send(frames[0])
        await _one_batch_in_flight(gw)
        for c, f in zip(clients[1:5], frames[1:5], strict=True):
            await c.send(f)
        await eventually(lambda: metric(gw.ops, QUEUED) == 4, 10, "four sends waiting")
        assert metric(gw.ops, BATCHES) == 1, "below STORE_PARALLEL_MIN no second batch opens"
        await clients[5].send(frames[5])
        await eventually(
            lambda: metric(gw.ops, BATCHES) == 2 and metric(gw.ops, QUEUED) == 0,
            10,
            "five waiting: a second batch opens",
        )
    for c, f in zip(clients, frames, strict=True):
        assert (await _reply(c, str(f["client_msg_id"])))["type"] == "ack"
    assert metric(gw.ops, BATCHES) == 2 and metric(gw.ops, BATCHED) == 6
    for c in clients:
        await c.close()


async def test_full_store_queue_nacks_overloaded_at_once(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """With the queue full the next send is nacked retryable "overloaded" at once; the
    queued ones are stored when the API answers again, and the resend is acked."""
    gw = start_gateways(
        1, api=private_api, STORE_CONCURRENCY="1", STORE_QUEUE_MAX="2", API_TIMEOUT_SECONDS="15"
    )[0]
    alice = register(private_api.url)
    room = create_room(private_api.url, alice)
    clients = [await _joined(gw, alice.token, room) for _ in range(4)]
    frames = [_msg(room, f"m{i}") for i in range(4)]
    with _stopped(private_api):
        await clients[0].send(frames[0])
        await _one_batch_in_flight(gw)
        await clients[1].send(frames[1])
        await clients[2].send(frames[2])
        await eventually(lambda: metric(gw.ops, QUEUED) == 2, 10, "queue full")
        await clients[3].send(frames[3])
        nack = await _reply(clients[3], frames[3]["client_msg_id"])
        assert nack == {**nack, "type": "nack", "retryable": True, "error": "overloaded"}
    for client, frame in zip(clients[:3], frames[:3], strict=True):
        assert (await _reply(client, frame["client_msg_id"]))["type"] == "ack"
    clients[3].frames.clear()
    await clients[3].send(frames[3])
    assert (await _reply(clients[3], frames[3]["client_msg_id"]))["type"] == "ack"
    stored = stored_messages(private_api.url, alice, room)
    assert sorted(m["content"] for m in stored) == ["m0", "m1", "m2", "m3"]
    for c in clients:
        await c.close()


async def test_api_stalled_nacks_retryable_then_recovers(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """API frozen past the timeout: sends are nacked retryable; after it resumes the same
    client_msg_ids are acked and each message is stored once."""
    gw = start_gateways(1, api=private_api, API_TIMEOUT_SECONDS="1")[0]
    alice = register(private_api.url)
    room = create_room(private_api.url, alice)
    clients = [await _joined(gw, alice.token, room) for _ in range(3)]
    frames = [_msg(room, f"stalled {i}") for i in range(3)]
    with _stopped(private_api):
        for client, frame in zip(clients, frames, strict=True):
            await client.send(frame)
        for client, frame in zip(clients, frames, strict=True):
            nack = await _reply(client, frame["client_msg_id"])
            assert nack["type"] == "nack" and nack["retryable"] is True, nack
    for client, frame in zip(clients, frames, strict=True):
        client.frames.clear()
        await client.send(frame)
        assert (await _reply(client, frame["client_msg_id"]))["type"] == "ack"
    stored = stored_messages(private_api.url, alice, room)
    assert Counter(m["client_msg_id"] for m in stored) == Counter(
        f["client_msg_id"] for f in frames
    )
    for c in clients:
        await c.close()


async def test_send_after_a_join_the_api_could_not_answer_is_retryable(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """A join that times out against the frozen API fails `unavailable`; a message for that
    room is then nacked retryable (not joined yet: the client asks again); joined, it is acked."""
    gw = start_gateways(1, api=private_api, API_TIMEOUT_SECONDS="1")[0]
    alice = register(private_api.url)
    room = create_room(private_api.url, alice)
    client = await Client.authed(gw.url, alice.token, ORIGIN)
    frame = _msg(room, "after a failed join")
    with _stopped(private_api):
        failed = await client.join(room)
        assert (failed["type"], failed["code"]) == ("error", "unavailable"), failed
        nack = await client.request(frame, lambda f: True, "nack")
        assert (nack["type"], nack["retryable"]) == ("nack", True), nack
    assert (await client.join(room))["type"] == "joined"
    assert (await client.request(frame, lambda f: True, "ack"))["type"] == "ack"
    await client.close()


async def test_drain_waits_for_the_batch_in_flight(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """SIGTERM while a batch is in flight: the ack still arrives before the 1012 close."""
    gw = start_gateways(1, api=private_api, API_TIMEOUT_SECONDS="15", DRAIN_SECONDS="30")[0]
    alice = register(private_api.url)
    room = create_room(private_api.url, alice)
    client = await _joined(gw, alice.token, room)
    frame = _msg(room, "during drain")
    with _stopped(private_api):
        await client.send(frame)
        await _one_batch_in_flight(gw)
        gw.proc.signal(signal.SIGTERM)

        async def refused() -> bool:
            try:
                async with connect(gw.url, origin=ORIGIN, open_timeout=5):  # type: ignore[arg-type]
                    return False
            except Exception as exc:
                return handshake_status(exc) == 503

        for _ in range(100):
            if await refused():
                break
        else:
            raise AssertionError("the gateway never started draining")
        assert client.close_code is None
    assert await client.closed(30) == 1012
    ack = _replies(client, str(frame["client_msg_id"]))
    assert [f["type"] for f in ack] == ["ack"]
    await eventually(lambda: not gw.proc.alive(), 30, "drained process exit")
    assert gw.proc.proc is not None and gw.proc.proc.returncode == 0


async def test_http_pool_recovers_after_api_stall(
    start_gateways: GatewayFactory, private_api: Api
) -> None:
    """Hundreds of auths time out against a frozen API (all closed 1013); once it answers
    again a new socket authenticates, i.e. no HTTP connection slot was leaked."""
    gw = start_gateways(1, api=private_api, API_TIMEOUT_SECONDS="0.5", API_MAX_CONNECTIONS="8")[0]
    alice = register(private_api.url)
    clients: list[Client] = []
    with _stopped(private_api):
        # Distinct tokens (no single-flight) arriving for several seconds, so slots free up
        # and get reassigned while other waiters give up: where httpcore leaked them.
        async def auth(i: int) -> Client:
            client = await Client.open(gw.url, ORIGIN)
            await client.send({"type": "auth", "token": f"stalled-{i}-{uuid.uuid4().hex}"})
            return client

        for wave in range(120):
            clients += await asyncio.gather(*(auth(wave * 25 + i) for i in range(25)))
        for client in clients:
            assert await client.closed(30) == 1013
    # The API first works through the requests it accepted while frozen, so a fresh socket
    # may still be told 1013 for a while; with leaked slots it would be forever.
    deadline = time.monotonic() + 30
    while True:
        fresh = await Client.open(gw.url, ORIGIN)
        await fresh.send({"type": "auth", "token": alice.token})
        await eventually(
            lambda f=fresh: (
                f.close_code is not None or any(x["type"] == "auth_ok" for x in f.frames)
            ),
            15,
            "auth_ok or close",
        )
        if fresh.close_code is None or time.monotonic() > deadline:
            break
        assert fresh.close_code == 1013
    assert fresh.close_code is None, "no new socket could authenticate after the stall"
    assert [f["user_id"] for f in fresh.frames if f["type"] == "auth_ok"] == [alice.id]
    await fresh.close()
