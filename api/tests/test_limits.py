"""Abuse limits: login/register throttling (memory and Redis-backed) and body size caps."""

from __future__ import annotations

import json

import pytest
from api_testing import Api
from chat_testkit.redis import RedisServer

pytestmark = pytest.mark.integration


async def _hammer_login(api: Api, username: str, times: int) -> list[int]:
    codes = []
    for _ in range(times):
        resp = await api.client.post(
            "/api/login", json={"username": username, "password": "wrong-pass"}
        )
        codes.append(resp.status_code)
        if resp.status_code == 429:
            retry = resp.headers["retry-after"]
            assert retry.isdigit() and 1 <= int(retry) <= 60
            assert resp.json()["detail"] == "too many attempts, slow down"
    return codes


async def test_retry_after_readable_by_a_cross_origin_page(api_factory) -> None:
    """`make run` serves pages from another origin than the API: CORS exposes Retry-After,
    so the login page can say how long to wait (fetch hides non-safelisted headers)."""
    origin = "http://localhost:3000"
    api: Api = await api_factory(login_rate_per_username="1/minute", cors_origins=origin)
    body = {"username": "nobody_here", "password": "wrong-pass"}
    codes = []
    for _ in range(2):
        resp = await api.client.post("/api/login", json=body, headers={"Origin": origin})
        codes.append(resp.status_code)
    assert codes == [401, 429]
    assert resp.headers["access-control-allow-origin"] == origin
    exposed = resp.headers.get("access-control-expose-headers", "").lower().split(",")
    assert "retry-after" in [h.strip() for h in exposed] and resp.headers["retry-after"]


async def test_login_limited_per_username(api_factory) -> None:
    """The per-username budget trips even when attempts would come from many IPs."""
    api: Api = await api_factory(login_rate_per_username="3/minute")
    user = await api.register()
    codes = await _hammer_login(api, user["username"], 5)
    assert codes == [401, 401, 401, 429, 429]
    # The right password is refused too while the window lasts: no oracle for guessing.
    ok = await api.client.post(
        "/api/login", json={"username": user["username"], "password": "correct horse 1"}
    )
    assert ok.status_code == 429
    # Another username is not affected by this one's budget.
    other = await api.register()
    assert (
        await api.client.post(
            "/api/login", json={"username": other["username"], "password": "correct horse 1"}
        )
    ).status_code == 200


async def test_login_and_register_limited_per_ip(api_factory) -> None:
    """One client address gets a bounded number of attempts across usernames."""
    api: Api = await api_factory(login_rate_per_ip="4/minute", register_rate_per_ip="2/minute")
    codes = [
        (
            await api.client.post("/api/login", json={"username": f"nobody{i}", "password": "x"})
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 4 + [429] * 2
    reg = [
        (
            await api.client.post(
                "/api/register",
                json={"username": f"newbie_{i}_{id(api)}", "password": "longenough"},
            )
        ).status_code
        for i in range(3)
    ]
    assert reg == [201, 201, 429]


async def test_limits_shared_through_redis(api_factory, redis_server: RedisServer) -> None:
    """Two API instances on one Redis share the budget, as replicas behind a Service do."""
    first: Api = await api_factory(login_rate_per_username="3/minute", redis_url=redis_server.url)
    second: Api = await api_factory(login_rate_per_username="3/minute", redis_url=redis_server.url)
    user = await first.register()
    codes = await _hammer_login(first, user["username"], 2)
    codes += await _hammer_login(second, user["username"], 2)
    assert codes == [401, 401, 401, 429]


async def test_oversized_body_is_413_and_stores_nothing(api: Api) -> None:
    """Bodies over the cap are refused before parsing, with or without a Content-Length."""
    alice = await api.user()
    room = await api.room(alice)
    big = json.dumps({"room_id": room["id"], "content": "x" * 70_000, "client_msg_id": "big"})
    resp = await api.client.post(
        "/api/messages", content=big, headers={**alice.auth, "content-type": "application/json"}
    )
    assert resp.status_code == 413
    assert "too large" in resp.json()["detail"]

    async def chunks():
        for _ in range(10):
            yield b"x" * 10_000

    streamed = await api.client.post(
        "/api/messages",
        content=chunks(),
        headers={**alice.auth, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert page["messages"] == []
