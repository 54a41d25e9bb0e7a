"""Fan-out fast path: direct writes while a socket keeps up, the queue once it falls behind."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from chat_contracts.channels import room_channel
from chat_contracts.events import EventType, MessageData, encode_envelope, message_event
from conftest import ORIGIN, Api, GatewayFactory
from gw_helpers import Client, create_room, eventually, metric, register

pytestmark = pytest.mark.integration


async def _publish(r: aioredis.Redis, room: int, sender: int, first: int, count: int) -> None:
    """Events straight onto the room channel, exactly as the API publishes them."""
    async with r.pipeline(transaction=False) as pipe:
        for seq in range(first, first + count):
            m = MessageData.model_validate(
                {
                    "id": 20_000_000 + seq,
                    "room_id": room,
                    "seq": seq,
                    "sender_id": sender,
                    "content": f"{seq:08d}" + "y" * 3900,
                    "created_at": "2026-01-01T00:00:00Z",
                }
            )
            pipe.publish(
                room_channel(room), encode_envelope(message_event(EventType.MESSAGE_CREATED, m))
            )
        await pipe.execute()


async def test_paused_reader_falls_back_to_queue_and_gets_everything_in_order(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """A socket that stops reading is served from its queue; after resuming it has every
    event exactly once and in seq order, and the reading socket never stalled."""
    gw = start_gateways(1, api=api_server, SEND_QUEUE_MAX="100000")[0]
    alice = register(api_server.url)
    room = create_room(api_server.url, alice)
    reader = await Client.authed(gw.url, alice.token, ORIGIN)
    await reader.join(room)
    paused = await Client.authed(gw.url, alice.token, ORIGIN)
    await paused.join(room)
    out_before = metric(gw.ops, 'chat_gateway_frames_out_total{type="event"}')
    # Kernel buffers fill first, then the gateway's transport buffer, then its queue.
    paused.ws.transport.pause_reading()
    r = aioredis.Redis.from_url(api_server.redis.url)
    batch, sent = 25, 0
    while metric(gw.ops, "chat_gateway_frames_queued_total") < 200 and sent < 6000:
        await _publish(r, room, alice.id, sent + 1, batch)
        sent += batch
        await eventually(lambda s=sent: len(reader.events(room)) >= s, 30, "reader keeps up")
    # A few more while the paused socket is queued: these must not overtake queued frames.
    await _publish(r, room, alice.id, sent + 1, batch)
    sent += batch
    await r.aclose()
    assert metric(gw.ops, "chat_gateway_frames_queued_total") >= 200, "queue path not reached"
    paused.ws.transport.resume_reading()
    await eventually(lambda: len(paused.events(room)) >= sent, 60, "paused socket catches up")
    for client in (reader, paused):
        seqs = [f["seq"] for f in client.events(room)]
        assert seqs == list(range(1, sent + 1))
        assert all(
            f["message"]["content"].startswith(f"{f['seq']:08d}") for f in client.events(room)
        )
    assert paused.close_code is None and reader.close_code is None
    # Counted once per fan-out, for every socket it reached.
    out_after = metric(gw.ops, 'chat_gateway_frames_out_total{type="event"}')
    assert out_after - out_before == 2 * sent
    await reader.close()
    await paused.close()


async def test_gateway_offers_no_permessage_deflate(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """Compression is not negotiated: each frame is encoded once for every socket."""
    gw = start_gateways(1, api=api_server)[0]
    alice = register(api_server.url)
    client = await Client.authed(gw.url, alice.token, ORIGIN)
    assert "Sec-WebSocket-Extensions" not in client.ws.response.headers
    assert client.ws.protocol.extensions == []
    await client.close()
