"""Tokens and passwords never reach any service log (runs last: it reads every log the
suite produced: API, gateways, nginx, PostgreSQL, Redis)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from chat_testkit.client import Client, rest
from chat_testkit.nginx import Nginx
from fault_client import SECRETS, register
from fault_stack import ORIGIN, Api, Gateway
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


async def _provoke(api: Api, pair: list[Gateway], proxy: Nginx) -> None:
    """Every way a secret could leak into a log: failures, URLs, rejections, rotation."""
    user = register(api.url, prefix="secret")
    rotating = register(api.url, prefix="secret")  # its session is revoked by the replay
    with httpx.Client(base_url=api.url, timeout=10) as http:
        wrong = "wrong-password-" + user.password  # a wrong password is a secret too
        SECRETS.add(wrong)
        assert (
            http.post("/api/login", json={"username": user.username, "password": wrong}).status_code
            == 401
        )
        r = http.post("/api/refresh", json={"refresh_token": rotating.refresh})
        assert r.status_code == 200
        SECRETS.update((r.json()["access_token"], r.json()["refresh_token"]))
        replay = http.post("/api/refresh", json={"refresh_token": rotating.refresh})
        assert replay.status_code == 401
        forged = user.token[:-4] + "AAAA"
        SECRETS.add(forged)
        assert (
            http.get("/api/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code
            == 401
        )
        assert (
            http.post(
                f"http://127.0.0.1:{api.internal_port}/validate-token", json={"token": forged}
            ).status_code
            == 401
        )
    # Token in the URL (refused with 400 by the gateway, through nginx too).
    for url in (pair[0].url, proxy.ws_url):
        try:
            async with connect(f"{url}?token={user.token}", origin=ORIGIN, open_timeout=5):
                raise AssertionError("a token in the URL must be refused")
        except InvalidStatus as exc:
            assert exc.response.status_code == 400
    # A forged token as the first frame (close 1008), then a good one.
    async with connect(pair[1].url, origin=ORIGIN) as ws:
        await ws.send('{"type":"auth","token":"' + forged + '"}')
        await ws.wait_closed()
    good = await Client.authed(proxy.ws_url, user.token, ORIGIN)
    await good.close()
    r = rest(
        api.url,
        "PUT",
        "/users/me",
        user,
        json={"current_password": user.password, "new_password": user.password + "-new"},
    )
    SECRETS.add(user.password + "-new")
    assert r.status_code == 200, r.text


async def test_no_token_or_password_in_any_log(
    api: Api, pair: list[Gateway], nginx: Callable[..., Nginx], faults_dir: Path
) -> None:
    """Grep every service log for every token, refresh token and password handed out."""
    proxy = nginx([f"127.0.0.1:{g.port}" for g in pair])
    await _provoke(api, pair, proxy)
    proxy.stop()
    logs = {p: p.read_text(errors="replace") for p in (faults_dir / "logs").glob("*.log")}
    logs[proxy.prefix / "logs"] = proxy.logs()
    logs[api.pg.base_dir / "postgres.log"] = (api.pg.base_dir / "postgres.log").read_text(
        errors="replace"
    )
    logs[api.redis.base_dir / "redis.log"] = (api.redis.base_dir / "redis.log").read_text(
        errors="replace"
    )
    secrets = {s for s in SECRETS if len(s) >= 12}
    leaks = [(str(p), s[:12] + "...") for p, text in logs.items() for s in secrets if s in text]
    # JWT payloads never appear either, even truncated: "eyJ" starts every token we issue.
    jwt_like = [str(p) for p, text in logs.items() if "eyJ" in text]
    size = sum(map(len, logs.values()))
    print(f"\nFAULTS-REPORT secrets: {len(secrets)} secrets x {len(logs)} logs, {size} bytes")
    assert not leaks, f"secrets in logs: {leaks[:5]}"
    assert not jwt_like, f"JWT-looking strings in {jwt_like}"
