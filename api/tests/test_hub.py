"""The embedded broker (chat_api/hub.py): positions, gap-free reconnects, resync, shutdown,
and the internal route's answers to bad or misplaced requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from api_testing import Api
from chat_api import hub as hub_module
from chat_api.hub import LocalHub
from chat_contracts.events import Envelope, EventType
from chat_testkit import RedisServer


def _env(i: int) -> Envelope:
    return Envelope(type=EventType.MESSAGE_CREATED, room_id=1, seq=i, data={"i": i})


async def _lines(stream: AsyncIterator[bytes], count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        out += [orjson.loads(line) for line in (await anext(stream)).splitlines()]
    return out


async def test_stream_starts_at_the_head_and_numbers_events() -> None:
    """A new follower gets no history, then every event in order with its position."""
    hub = LocalHub()
    await hub.publish("c", _env(1))
    stream = hub.stream(None, None)
    assert await _lines(stream, 1) == [{"hub": hub.hub_id, "n": 1, "resync": False}]
    await hub.publish_many([("c", _env(2)), ("c", _env(3))])
    got = await _lines(stream, 2)
    assert [(line["n"], line["event"]["seq"]) for line in got] == [(2, 2), (3, 3)]


async def test_reconnect_with_position_misses_nothing() -> None:
    """after=n&hub=<this hub>: what was published while away is replayed first."""
    hub = LocalHub()
    await hub.publish_many([("c", _env(i)) for i in (1, 2, 3)])
    stream = hub.stream(1, hub.hub_id)
    hello, *events = await _lines(stream, 3)
    assert hello["resync"] is False
    assert [line["n"] for line in events] == [2, 3]


@pytest.mark.parametrize(
    ("after", "hub_id", "held"),
    [(1, "another-process", 10), (9, None, 10), (1, "same", 2)],
    ids=["other process", "position ahead of the head", "behind the buffer"],
)
async def test_a_position_that_cannot_be_served_asks_for_resync(
    after: int, hub_id: str | None, held: int
) -> None:
    """A follower is never told 'no gap' when events went by that it cannot get."""
    hub = LocalHub(buffer_max=held)
    await hub.publish_many([("c", _env(i)) for i in range(1, 6)])
    hello = (await _lines(hub.stream(after, hub.hub_id if hub_id == "same" else hub_id), 1))[0]
    assert hello == {"hub": hub.hub_id, "n": 5, "resync": True}


async def test_quiet_stream_sends_heartbeats_and_shutdown_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Silence is filled with {"n"} lines; shutdown() (SIGTERM) ends every stream."""
    monkeypatch.setattr(hub_module, "HEARTBEAT_SECONDS", 0.01)
    hub = LocalHub()
    stream = hub.stream(None, None)
    await _lines(stream, 1)
    assert await _lines(stream, 1) == [{"n": 0}]
    hub.shutdown()
    with pytest.raises(StopAsyncIteration):
        while True:
            await anext(stream)


@pytest.mark.parametrize(
    "query",
    ["after=-1", "after=x", "after=1.5", f"after={2**53}", "hub=", "hub=" + "h" * 65],
)
async def test_bad_stream_parameters_are_422(api: Api, query: str) -> None:
    """Malformed positions or hub ids are refused before any stream starts."""
    resp = await api.internal.get(f"/events/stream?{query}")
    assert resp.status_code == 422, resp.text


async def test_stream_is_404_when_events_go_to_redis(
    api_factory: Any, redis_server: RedisServer
) -> None:
    """With REDIS_URL the API publishes there; a follower is told so, not left waiting."""
    api = await api_factory(redis_url=redis_server.url)
    resp = await api.internal.get("/events/stream")
    assert resp.status_code == 404 and resp.json()["detail"] == "events are published to Redis"
