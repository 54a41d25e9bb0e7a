"""Identical GETs share one API call while it waits for a connection, and only until it is
sent (api_client.py): against the real API, through a relay that holds answers back so
"waiting" and "sent" are states the test sets, not timings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from chat_testkit.client import create_room, eventually, register
from conftest import Api
from prometheus_client import REGISTRY
from ws_gateway.api_client import ApiClient
from ws_gateway.http import api_client

pytestmark = pytest.mark.integration


class HoldingRelay:
    """TCP relay to the API that forwards requests at once and answers only once released;
    `requests` counts the HTTP requests that went through."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests = 0
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers += [writer, up_writer]

        async def requests() -> None:
            while chunk := await reader.read(65536):
                self.requests += chunk.count(b" HTTP/1.1\r\n")
                up_writer.write(chunk)
                await up_writer.drain()
            up_writer.close()

        async def answers() -> None:
            while chunk := await up_reader.read(65536):
                await self.release.wait()
                writer.write(chunk)
                await writer.drain()
            writer.close()

        await asyncio.gather(requests(), answers(), return_exceptions=True)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await asyncio.gather(*(w.wait_closed() for w in self.writers), return_exceptions=True)
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()


@pytest.fixture
async def relay(api_server: Api) -> AsyncIterator[HoldingRelay]:
    held = HoldingRelay(int(api_server.url.rsplit(":", 1)[1]))
    await held.start()
    yield held
    held.release.set()
    await held.close()


def _shared(op: str) -> float:
    return REGISTRY.get_sample_value("chat_gateway_api_shared_total", {"op": op}) or 0.0


async def test_gets_waiting_for_a_connection_share_one_call(
    api_server: Api, relay: HoldingRelay
) -> None:
    """With the one connection busy, five lookups of one room by one token and two replays
    from one cursor wait as one call each; a different token or cursor gets its own."""
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob)
    http = api_client(timeout=30, max_connections=1)
    api = ApiClient(http, relay.url, "/api")
    shared_rooms, shared_events = _shared("get_room"), _shared("room_events")
    busy = asyncio.create_task(api.get_room(bob.token, room))  # sent: holds the connection
    await eventually(lambda: relay.requests == 1, 10, "first lookup sent")

    async def pages(token: str, after: int) -> int:
        return sum([len(p.events) async for p in api.room_events(token, room, after)])

    lookups = [asyncio.create_task(api.get_room(alice.token, room)) for _ in range(5)]
    replays = [asyncio.create_task(pages(alice.token, 0)) for _ in range(2)]
    others = [asyncio.create_task(pages(alice.token, 1)), asyncio.create_task(pages(bob.token, 0))]
    await eventually(lambda: _shared("get_room") - shared_rooms == 4, 10, "lookups joined")
    await eventually(lambda: _shared("room_events") - shared_events == 1, 10, "replay joined")
    relay.release.set()
    rooms = await asyncio.gather(busy, *lookups)
    assert {r["id"] for r in rooms} == {room}
    counts = await asyncio.gather(*replays, *others)
    assert counts[0] == counts[1] == counts[3] and counts[2] == counts[0] - 1
    # busy + 1 shared lookup + 1 shared replay + one each for the other cursor and token
    assert relay.requests == 5
    await http.aclose()


async def test_a_get_asked_after_the_identical_one_was_sent_is_its_own(
    api_server: Api, relay: HoldingRelay
) -> None:
    """A call already at the API may have read its answer before the later caller started
    buffering live events: the later caller must not take that answer."""
    alice = register(api_server.url)
    room = create_room(api_server.url, alice)
    http = api_client(timeout=30, max_connections=4)
    api = ApiClient(http, relay.url, "/api")
    before = _shared("get_room")
    first = asyncio.create_task(api.get_room(alice.token, room))
    await eventually(lambda: relay.requests == 1, 10, "first lookup sent")
    second = asyncio.create_task(api.get_room(alice.token, room))
    await eventually(lambda: relay.requests == 2, 10, "second lookup sent on its own")
    relay.release.set()
    assert (await first)["id"] == (await second)["id"] == room
    assert _shared("get_room") == before
    await http.aclose()
