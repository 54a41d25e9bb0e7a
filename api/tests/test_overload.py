"""Overload and outages: shed with 503 + Retry-After instead of working for callers long gone."""

from __future__ import annotations

import pytest
from api_testing import Api
from chat_contracts.batch import BATCH_PATH

pytestmark = pytest.mark.integration


def _assert_shed(status: int, headers: dict[str, str], body: dict[str, str], reason: str) -> None:
    assert status == 503, body
    assert headers["retry-after"] == "1"
    assert body["detail"].startswith(reason)


async def test_exhausted_pool_answers_503_on_both_apps(api_factory) -> None:
    """With the only connection held, sends, batches and validations are shed, then recover."""
    api: Api = await api_factory(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.2)
    alice = await api.user()
    room = await api.room(alice)
    token = alice.tokens["access_token"]
    item = {"token": token, "room_id": room["id"], "content": "x", "client_msg_id": "c1"}
    async with api.state.engine.connect():  # the pool's one connection, held by the test
        replies = [
            await alice.send(room["id"], client_msg_id="c1"),
            await api.internal.post(BATCH_PATH, json={"items": [item]}),
            await api.internal.post("/validate-token", json={"token": token}),
        ]
        for resp in replies:
            _assert_shed(resp.status_code, dict(resp.headers), resp.json(), "database busy")
    # Nothing was stored while shedding; with the connection back, the retry is a first send.
    retry = await api.internal.post(BATCH_PATH, json={"items": [item]})
    assert retry.status_code == 200 and retry.json()["results"][0]["status"] == 201
    assert retry.json()["results"][0]["message"]["seq"] == 1
    schema = (await api.client.get("/api/openapi.json")).json()
    assert "503" in schema["paths"]["/api/messages"]["post"]["responses"]


async def test_unreachable_database_answers_503(api_factory) -> None:
    """A database that refuses connections is a 503 with Retry-After, not a 500."""
    api: Api = await api_factory(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    resp = await api.internal.post("/validate-token", json={"token": "a.b.c"})
    assert resp.status_code == 401  # decided without the database
    resp = await api.client.get("/api/rooms", headers={"Authorization": "Bearer a.b.c"})
    assert resp.status_code == 401
    login = await api.client.post("/api/login", json={"username": "nobody", "password": "x"})
    _assert_shed(login.status_code, dict(login.headers), login.json(), "database unreachable")
