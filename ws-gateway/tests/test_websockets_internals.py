"""The websockets internals fan-out relies on (connection.py), checked on a real served socket.

connection.py writes shared frame bytes straight to `ws.transport`, reads `ws.protocol.state`
and `.extensions`, `ws.send_in_progress` and `ws.write_limit_high`, and falls back to
`protocol.send_text()` + `ws.send_data()`. None of that is websockets' public API, so
ws-gateway/pyproject.toml pins one major; these tests are what a new version must pass before
the pin moves. Each runs on asyncio's loop and on uvloop (what `__main__` runs in production),
against a real `serve(..., port=0)` and a real client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidState, ProtocolError
from websockets.protocol import State
from websockets.server import ServerProtocol
from ws_gateway.connection import Connection, text_frame

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, None]], None]:
    def runner(coro: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as r:
            r.run(asyncio.wait_for(coro, 20))

    return runner


@asynccontextmanager
async def _pair(
    compression: str | None = None,
) -> AsyncIterator[tuple[ServerConnection, ClientConnection]]:
    """A served connection (as the gateway's handler sees it) and the client talking to it."""
    accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()
    release = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await accepted.put(ws)
        await release.wait()

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=compression) as client:
            ws = await asyncio.wait_for(accepted.get(), 5)
            try:
                yield ws, client
            finally:
                release.set()


def _in_progress(ws: ServerConnection) -> asyncio.Future[None] | None:
    return ws.send_in_progress  # read afresh each time (no narrowing across awaits)


def test_served_connection_has_the_attributes_connection_py_reads(run: Any) -> None:
    """protocol, its state and extensions, transport, send_in_progress and the write limit."""

    async def body() -> None:
        async with _pair() as (ws, client):
            assert isinstance(ws.protocol, ServerProtocol)
            assert ws.protocol.state is State.OPEN
            assert ws.protocol.extensions == []  # compression=None: shared bytes are valid
            assert ws.send_in_progress is None
            assert isinstance(ws.write_limit_high, int) and ws.write_limit_high == 2**15
            transport = ws.transport
            assert callable(transport.write)
            assert transport.get_write_buffer_size() == 0
            # websockets hands its write limit to the transport: the same point where
            # transport flow control pauses and ws.send() starts to wait.
            assert transport.get_write_buffer_limits()[1] == ws.write_limit_high
            assert callable(ws.send_data)
            # The fault clients read these on the client side.
            assert client.protocol.close_rcvd is None and callable(client.transport.abort)
            conn = Connection(ws, queue_max=4, rate=100.0, burst=100.0)
            try:
                assert conn.direct and conn.high_water == ws.write_limit_high
                assert conn.protocol is ws.protocol and conn.transport is ws.transport
            finally:
                await conn.finish(1.0)

    run(body())


def test_shared_frame_is_what_send_text_would_write(run: Any) -> None:
    """text_frame() equals send_text()'s bytes; a bare transport.write() of them is one message
    to the client, and the connection still works normally afterwards."""

    async def body() -> None:
        async with _pair() as (ws, client):
            payload = b'{"type":"event","seq":1,"text":"h\xc3\xa9"}'
            ws.protocol.send_text(payload)
            assert ws.protocol.data_to_send() == [text_frame(payload)]
            ws.transport.write(text_frame(payload))
            assert await client.recv() == payload.decode()
            await ws.send("after")  # skipping send_text left the protocol consistent
            assert await client.recv() == "after"
            await client.send("ping")
            assert await ws.recv() == "ping"

    run(body())


def test_send_data_flushes_what_send_text_queued(run: Any) -> None:
    """The non-direct path (an extension negotiated): send_text() then send_data() delivers."""

    async def body() -> None:
        async with _pair(compression="deflate") as (ws, client):
            assert ws.protocol.extensions, (
                "deflate negotiated: connection.py writes no shared bytes"
            )
            conn = Connection(ws, queue_max=4, rate=1.0, burst=1.0)
            try:
                assert not conn.direct
                ws.protocol.send_text(b"through the protocol")
                ws.send_data()
                assert await client.recv() == "through the protocol"
            finally:
                await conn.finish(1.0)

    run(body())


def test_send_in_progress_is_set_during_a_fragmented_send(run: Any) -> None:
    """While ws.send() streams fragments, send_in_progress is a future and send_text() refuses."""

    async def body() -> None:
        async with _pair() as (ws, client):
            go_on = asyncio.Event()

            async def fragments() -> AsyncIterator[str]:
                yield "frag-"
                await go_on.wait()
                yield "done"

            sending = asyncio.create_task(ws.send(fragments()))
            while _in_progress(ws) is None:
                await asyncio.sleep(0.005)
            assert isinstance(_in_progress(ws), asyncio.Future)
            with pytest.raises(ProtocolError):
                ws.protocol.send_text(b"would interleave")
            go_on.set()
            await sending
            assert _in_progress(ws) is None
            assert await client.recv() == "frag-done"

    run(body())


def test_send_waits_once_the_write_buffer_passes_the_limit(run: Any) -> None:
    """Direct writes past write_limit_high make ws.send() wait for the transport to drain."""

    async def body() -> None:
        async with _pair() as (ws, client):
            client.transport.pause_reading()  # the client stops reading: kernel buffers fill
            frame = text_frame(b"x" * 65536)
            for _ in range(2000):  # bounded: kernel buffers on loopback hold a few MB
                if ws.transport.get_write_buffer_size() >= ws.write_limit_high:
                    break
                ws.transport.write(frame)
                await asyncio.sleep(0)
            assert ws.transport.get_write_buffer_size() >= ws.write_limit_high
            sending = asyncio.create_task(ws.send("last"))
            await asyncio.sleep(0.2)
            assert not sending.done(), "ws.send() should wait for the write buffer to drain"
            client.transport.resume_reading()

            async def read_to_last() -> int:
                count = 0
                while (await client.recv()) != "last":
                    count += 1
                return count

            reader = asyncio.create_task(read_to_last())
            await sending
            assert await reader > 0

    run(body())


def test_closing_state_is_not_open_and_send_text_refuses(run: Any) -> None:
    """After a close, protocol.state is no longer State.OPEN and send_text() raises."""

    async def body() -> None:
        async with _pair() as (ws, _client):
            conn = Connection(ws, queue_max=4, rate=1.0, burst=1.0)
            try:
                await ws.close(1012, "drain")
                assert ws.protocol.state is State.CLOSED
                with pytest.raises(InvalidState):
                    ws.protocol.send_text(b"too late")
                assert conn.push(b"too late") is False  # its state check, before any write
            finally:
                await conn.finish(1.0)

    run(body())
