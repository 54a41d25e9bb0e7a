"""server.py: handshake policy, no compression negotiated, the ops server, SIGTERM exit."""

from __future__ import annotations

import signal

import httpx
import pytest
from chat_testkit import RedisServer
from chat_testkit.client import Client, eventually, handshake_status, register
from conftest import ORIGIN, Api, Gateway, GatewayFactory
from pydantic import ValidationError
from websockets.asyncio.client import connect
from ws_gateway.config import Settings


@pytest.fixture(scope="module")
def gateway(module_gateways: GatewayFactory, redis_server: RedisServer) -> Gateway:
    return module_gateways(1, redis_url=redis_server.url, AUTH_TIMEOUT_SECONDS="1")[0]


async def test_wrong_origin_is_refused_with_403(gateway: Gateway) -> None:
    """A browser page from another origin cannot open a socket."""
    with pytest.raises(Exception) as info:
        await connect(gateway.url, origin="http://evil.example", open_timeout=5)  # type: ignore[arg-type]
    assert handshake_status(info.value) == 403


@pytest.mark.parametrize(
    "origin",
    [
        ORIGIN + "/",  # a trailing slash
        ORIGIN.upper(),  # case of scheme and host
        ORIGIN.replace("http", "HTTP"),
        ORIGIN + ":80",  # the default port spelled out
        ORIGIN + "/path",
        ORIGIN.replace("http:", "https:"),
        ORIGIN + ".evil.example",
        "null",
    ],
)
async def test_origin_must_match_exactly(gateway: Gateway, origin: str) -> None:
    """The allow-list is exact: only the serialization browsers send passes
    (ALLOWED_ORIGINS is http://chat.test); any other spelling of it is 403."""
    with pytest.raises(Exception) as info:
        await connect(gateway.url, origin=origin, open_timeout=5)  # type: ignore[arg-type]
    assert handshake_status(info.value) == 403
    client = await Client.open(gateway.url, ORIGIN)
    await client.close()


def test_allowed_origins_config_is_canonicalised_or_refused() -> None:
    """Config entries may be written loosely (case, default port, trailing slash) and match
    the canonical header; an entry that is not an origin stops start-up."""
    settings = Settings(allowed_origins=" HTTPS://Chat.Example:443/ , http://[::1]:8080,*")
    assert settings.origins == frozenset({"https://chat.example", "http://[::1]:8080", "*"})
    strict = Settings(allowed_origins="HTTPS://Chat.Example:443/")
    assert strict.origin_allowed("https://chat.example")
    assert not strict.origin_allowed("https://chat.example:443")
    for bad in ("chat.example", "https://chat.example/app", "ws://chat.example", "http://h:x"):
        with pytest.raises(ValidationError, match="not an origin"):
            Settings(allowed_origins=bad)


async def test_token_in_url_is_refused_with_400(gateway: Gateway) -> None:
    """Tokens never travel in the URL: ?token= is refused before the upgrade."""
    for query in ("?token=abc", "?access_token=x", "?x=eyJhbGciOiJIUzI1NiJ9.e30.sig"):
        with pytest.raises(Exception) as info:
            await connect(gateway.url + query, origin=ORIGIN, open_timeout=5)  # type: ignore[arg-type]
        assert handshake_status(info.value) == 400


async def test_unknown_path_is_404(gateway: Gateway) -> None:
    """Only /ws upgrades."""
    with pytest.raises(Exception) as info:
        await connect(gateway.url.replace("/ws", "/other"), origin=ORIGIN, open_timeout=5)  # type: ignore[arg-type]
    assert handshake_status(info.value) == 404


async def test_no_auth_frame_closes_1008(gateway: Gateway) -> None:
    """A socket that never authenticates is closed with 1008 after the auth timeout."""
    client = await Client.open(gateway.url, ORIGIN)
    assert await client.closed() == 1008


@pytest.mark.parametrize(
    "first",
    ["{bad json", b"\x00\x01binary", '{"type":"join","room_id":1}', '{"type":"what"}'],
)
async def test_non_auth_first_frame_closes_1008(gateway: Gateway, first: str | bytes) -> None:
    """Anything but a valid auth frame first is a policy violation."""
    client = await Client.open(gateway.url, ORIGIN)
    await client.send(first)
    assert await client.closed() == 1008
    # ...and the server keeps serving others.
    assert httpx.get(gateway.ops + "/healthz").status_code == 200
    other = await Client.open(gateway.url, ORIGIN)
    await other.close()


async def test_oversized_frame_closes_1009(gateway: Gateway) -> None:
    """A frame over the size limit is closed with 1009."""
    client = await Client.open(gateway.url, ORIGIN)
    await client.send('{"type":"auth","token":"' + "x" * 70_000 + '"}')
    assert await client.closed() == 1009


async def test_api_down_auth_closes_1013(gateway: Gateway) -> None:
    """When the API cannot validate, the client is told to retry later (1013), not refused."""
    client = await Client.open(gateway.url, ORIGIN)
    await client.send({"type": "auth", "token": "whatever"})
    assert await client.closed() == 1013


def test_ops_endpoints(gateway: Gateway) -> None:
    """healthz 200, readyz 503 while the API is unreachable (with reasons), metrics exported."""
    assert httpx.get(gateway.ops + "/healthz").json()["replica"] == gateway.replica
    ready = httpx.get(gateway.ops + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["api"] is False
    text = httpx.get(gateway.ops + "/metrics").text
    for name in (
        "chat_gateway_connections",
        "chat_gateway_frames_in_total",
        "chat_gateway_frames_out_total",
        "chat_gateway_acks_total",
        "chat_gateway_nacks_total",
        "chat_gateway_resume_replayed_total",
        "chat_gateway_redis_errors_total",
        "chat_gateway_api_request_seconds",
        "chat_gateway_message_ack_seconds",
        "chat_gateway_message_delivery_seconds",
        "chat_gateway_pubsub_roundtrip_seconds",
        "chat_gateway_canary_failures_total",
        "chat_gateway_frames_queued_total",
        "chat_gateway_slow_consumers_total",
        "chat_gateway_store_batch_size",
        "chat_gateway_store_queue_depth",
    ):
        assert name in text, name


async def test_canary_round_trip_is_measured(gateway: Gateway) -> None:
    """Each replica's probe goes through Redis and back; the round trip is observed."""

    def observed() -> bool:
        text = httpx.get(gateway.ops + "/metrics").text
        line = next(
            x
            for x in text.splitlines()
            if x.startswith("chat_gateway_pubsub_roundtrip_seconds_count")
        )
        return float(line.split()[-1]) >= 2

    await eventually(observed, 15, "two canary round trips")
    broker = httpx.get(gateway.ops + "/readyz").json()["broker"]
    assert broker["subscribed"] is True and broker["healthy"] is True


async def test_sigterm_with_no_sockets_exits_0(
    start_gateways: GatewayFactory, redis_server: RedisServer
) -> None:
    """SIGTERM: the process drains and exits 0."""
    gateway = start_gateways(1, redis_url=redis_server.url)[0]
    gateway.proc.signal(signal.SIGTERM)
    await eventually(lambda: not gateway.proc.alive(), 20, "exit")
    assert gateway.proc.proc is not None and gateway.proc.proc.returncode == 0


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
