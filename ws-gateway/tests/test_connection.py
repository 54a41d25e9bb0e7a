"""connection.py: frame-once fan-out (one serialized frame written to every socket that
keeps up) and the bounded queue a socket that falls behind is served from.

The gateway side here is the real thing in-process (a `websockets` server, `Connection`,
`RoomIndex.broadcast_envelope`); clients are raw TCP sockets driving websockets' sans-I/O
`ClientProtocol`, so the tests see the exact bytes on the wire and a real client parses them.
The queue-fallback test runs a real gateway process and publishes onto Redis.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis
from chat_contracts.channels import room_channel
from chat_contracts.events import (
    Envelope,
    EventType,
    MessageData,
    encode_envelope,
    message_event,
)
from chat_testkit.client import Client, create_room, eventually, register
from conftest import ORIGIN, Api, GatewayFactory
from gw_helpers import metric
from prometheus_client import REGISTRY
from websockets.asyncio.server import ServerConnection, serve
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri
from ws_gateway.connection import Connection, StreamState
from ws_gateway.rooms import RoomIndex

ROOM = 7


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _event(seq: int, content: str = "hi") -> Envelope:
    msg = MessageData.model_validate(
        {
            "id": 1000 + seq,
            "room_id": ROOM,
            "seq": seq,
            "version": seq,
            "sender_id": 1,
            "content": content,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    return message_event(EventType.MESSAGE_CREATED, msg)


def _websockets_own_bytes(payload: bytes) -> bytes:
    """What websockets itself writes for a server text frame (its sans-I/O send_text)."""
    proto = ServerProtocol(state=State.OPEN)
    proto.send_text(payload)
    return b"".join(proto.data_to_send())


@dataclass
class Side:
    """The gateway's half: every accepted socket becomes a Connection joined to ROOM."""

    index: RoomIndex = field(default_factory=RoomIndex)
    conns: list[Connection] = field(default_factory=list)
    port: int = 0


@asynccontextmanager
async def gateway_side(
    *, compression: str | None = None, sndbuf: int | None = None, queue_max: int = 10_000
) -> AsyncIterator[Side]:
    side = Side()

    async def handler(ws: ServerConnection) -> None:
        if sndbuf is not None:
            ws.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf
            )
        conn = Connection(ws, queue_max=queue_max, rate=1e6, burst=1e6)
        conn.rooms[ROOM] = StreamState(buffer=None)
        side.index.add_connection(conn)
        side.index.join(conn, ROOM)
        side.conns.append(conn)
        try:
            await ws.wait_closed()
        finally:
            side.index.remove_connection(conn)
            await conn.finish(2)

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        side.port = server.sockets[0].getsockname()[1]
        yield side


class RawClient:
    """A TCP socket speaking WebSocket through websockets' ClientProtocol; keeps raw bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.proto: ClientProtocol
        self.raw = bytearray()  # every byte received after the handshake response
        self.frames: list[Frame] = []

    @classmethod
    async def open(
        cls, side: Side, *, deflate: bool = False, rcvbuf: int | None = None
    ) -> RawClient:
        before = len(side.conns)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", side.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        self = cls(reader, writer)
        exts = [ClientPerMessageDeflateFactory()] if deflate else None
        self.proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{side.port}/"), extensions=exts)
        self.proto.send_request(self.proto.connect())
        writer.write(b"".join(self.proto.data_to_send()))
        self.proto.receive_data(await reader.readuntil(b"\r\n\r\n"))
        (response,) = self.proto.events_received()
        assert isinstance(response, Response) and response.status_code == 101
        await eventually(lambda: len(side.conns) > before, 10, "server-side connection")
        return self

    async def read_text_frames(self, count: int) -> list[Frame]:
        """Read until `count` text frames arrived in total (beyond that: kept for later)."""
        while len([f for f in self.frames if f.opcode is Opcode.TEXT]) < count:
            chunk = await asyncio.wait_for(self.reader.read(65536), 30)
            assert chunk, "server closed the connection"
            self._feed(chunk)
        return [f for f in self.frames if f.opcode is Opcode.TEXT]

    async def read_to_eof(self) -> None:
        """Half-close and read everything the server still sends until it closes."""
        self.writer.write_eof()
        while chunk := await asyncio.wait_for(self.reader.read(65536), 30):
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        self.raw += chunk
        self.proto.receive_data(chunk)
        self.frames += [e for e in self.proto.events_received() if isinstance(e, Frame)]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_every_socket_receives_the_same_valid_frame_bytes() -> None:
    """Every member gets byte-identical frames, equal to websockets' own encoding of the
    event, for all three length encodings; a client parses them back to the events; duplicate
    seqs are still dropped per socket and the counter adds one per socket reached."""
    async with gateway_side() as side:
        clients = [await RawClient.open(side) for _ in range(5)]
        assert all(conn.direct for conn in side.conns)
        before = _counter("chat_gateway_frames_out_total", type="event")
        contents = ["a", "b" * 1000, "c" * 70_000]  # 7-bit, 16-bit and 64-bit lengths
        for seq, content in enumerate(contents, start=1):
            side.index.broadcast_envelope(_event(seq, content))
        side.index.broadcast_envelope(_event(2, "duplicate"))
        for client in clients:
            frames = await client.read_text_frames(len(contents))
            assert [f.fin and not f.rsv1 for f in frames] == [True] * len(contents)
            events = [json.loads(bytes(f.data)) for f in frames]
            assert [(e["seq"], e["message"]["content"]) for e in events] == list(
                enumerate(contents, start=1)
            )
        expected = b"".join(_websockets_own_bytes(bytes(f.data)) for f in frames)
        assert all(bytes(c.raw) == expected for c in clients)
        after = _counter("chat_gateway_frames_out_total", type="event")
        assert after - before == len(clients) * len(contents)
        for client in clients:
            await client.close()


async def test_slow_socket_queues_and_later_gets_everything_in_order() -> None:
    """A socket that stops reading (small kernel buffers) moves to its queue; events keep
    coming while it catches up, none overtakes a queued one, and the reading socket is not
    held back. Counters: one frame out per socket and event, queued frames counted."""
    async with gateway_side(sndbuf=4096) as side:
        fast = await RawClient.open(side)
        slow = await RawClient.open(side, rcvbuf=4096)
        slow_conn = side.conns[1]
        out_before = _counter("chat_gateway_frames_out_total", type="event")
        queued_before = _counter("chat_gateway_frames_queued_total")
        body = "x" * 3000
        seq = 0
        while slow_conn.backlog < 20:  # not reading: kernel, then transport, then queue
            seq += 1
            side.index.broadcast_envelope(_event(seq, f"{seq:08d}{body}"))
            await fast.read_text_frames(seq)
        assert len([f for f in slow.frames if f.opcode is Opcode.TEXT]) == 0
        # Catch up while new events keep arriving: the window where the transport has
        # drained but queued frames are not written yet is where a direct write would overtake.
        reading = asyncio.create_task(slow.read_text_frames(10**9))
        windows = extra = 0
        while slow_conn.backlog > 0 and extra < 200:
            extra += 1
            if slow_conn.transport.get_write_buffer_size() < slow_conn.high_water:
                windows += 1
            seq += 1
            side.index.broadcast_envelope(_event(seq, f"{seq:08d}{body}"))
            await asyncio.sleep(0)
        assert windows > 0, "the overtaking window was never exercised"
        await eventually(
            lambda: len([f for f in slow.frames if f.opcode is Opcode.TEXT]) >= seq,
            30,
            "slow socket catches up",
        )
        reading.cancel()
        for client in (fast, slow):
            frames = [json.loads(bytes(f.data)) for f in await client.read_text_frames(seq)]
            assert [f["seq"] for f in frames] == list(range(1, seq + 1))
            assert all(f["message"]["content"].startswith(f"{f['seq']:08d}") for f in frames)
        out = _counter("chat_gateway_frames_out_total", type="event") - out_before
        queued = _counter("chat_gateway_frames_queued_total") - queued_before
        assert out == 2 * seq
        assert queued >= 20
        assert not slow_conn.closing
        await fast.close()
        await slow.close()


async def test_deflate_socket_is_written_through_its_own_protocol() -> None:
    """With permessage-deflate negotiated the shared bytes would be wrong: that socket's
    frames go through websockets' protocol (compressed, RSV1 set) and still parse back."""
    async with gateway_side(compression="deflate") as side:
        plain = await RawClient.open(side)
        deflated = await RawClient.open(side, deflate=True)
        plain_conn, deflate_conn = side.conns
        assert plain_conn.direct and not deflate_conn.direct
        assert deflate_conn.protocol.extensions
        content = "compressible " * 200
        side.index.broadcast_envelope(_event(1, content))
        (frame,) = await deflated.read_text_frames(1)
        assert json.loads(bytes(frame.data))["message"]["content"] == content
        assert deflated.raw[0] & 0x40, "RSV1: the frame was compressed for this socket"
        (plain_frame,) = await plain.read_text_frames(1)
        assert bytes(plain.raw) == _websockets_own_bytes(bytes(plain_frame.data))
        assert len(deflated.raw) < len(plain.raw)
        await plain.close()
        await deflated.close()


async def test_closing_sockets_are_not_written() -> None:
    """A socket the gateway is closing, one websockets itself is closing (e.g. keepalive
    timeout), and one whose peer started the closing handshake get no data frame after the
    close frame and are not counted; the open one still is."""
    async with gateway_side() as side:
        open_client = await RawClient.open(side)
        closing = [await RawClient.open(side) for _ in range(3)]
        _, ours, by_websockets, by_peer = side.conns
        ours.close(1001, "going away")
        assert not ours.direct
        # Not through Connection.close(): the state check alone must keep the frame out.
        closer = asyncio.create_task(by_websockets.ws.close(1011, "keepalive ping timeout"))
        peer = closing[2]
        peer.proto.send_close(1000, "bye")
        peer.writer.write(b"".join(peer.proto.data_to_send()))
        await eventually(
            lambda: all(c.protocol.state is State.CLOSING for c in (by_websockets, by_peer)),
            10,
            "closing handshakes started",
        )
        assert by_websockets.direct and not by_websockets.transport.is_closing()
        before = _counter("chat_gateway_frames_out_total", type="event")
        side.index.broadcast_envelope(_event(1))
        assert _counter("chat_gateway_frames_out_total", type="event") - before == 1
        assert len(await open_client.read_text_frames(1)) == 1
        for client in closing:
            await client.read_to_eof()
            assert [f.opcode for f in client.frames] == [Opcode.CLOSE]
            # The parser ignores bytes after a close frame: check the wire holds nothing more.
            assert client.raw[0] == 0x88 and len(client.raw) == 2 + (client.raw[1] & 0x7F)
        await closer
        await open_client.close()


async def _publish(r: aioredis.Redis, room: int, sender: int, first: int, count: int) -> None:
    """Events straight onto the room channel, exactly as the API publishes them."""
    async with r.pipeline(transaction=False) as pipe:
        for seq in range(first, first + count):
            m = MessageData.model_validate(
                {
                    "id": 20_000_000 + seq,
                    "room_id": room,
                    "seq": seq,
                    "version": seq,
                    "sender_id": sender,
                    "content": f"{seq:08d}" + "y" * 3900,
                    "created_at": "2026-01-01T00:00:00Z",
                }
            )
            pipe.publish(
                room_channel(room), encode_envelope(message_event(EventType.MESSAGE_CREATED, m))
            )
        await pipe.execute()


@pytest.mark.integration
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
