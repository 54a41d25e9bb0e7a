"""Helpers shared by the API tests (importable because pytest's pythonpath has api/tests)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as aioredis
from chat_api.config import Settings
from chat_api.state import AppState
from chat_contracts.batch import BATCH_PATH
from chat_contracts.events import Envelope, decode_envelope

JWT_SECRET = secrets.token_hex(32)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret": JWT_SECRET,
        "database_url": database_url,
        "cookie_secure": False,
        "login_rate_per_ip": "10000/minute",
        "login_rate_per_username": "10000/minute",
        "register_rate_per_ip": "10000/minute",
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A public and an internal client over one AppState, plus small helpers."""

    client: httpx.AsyncClient
    internal: httpx.AsyncClient
    state: AppState

    async def register(
        self, username: str | None = None, password: str = "correct horse 1"
    ) -> dict[str, Any]:
        username = username or f"u{uuid.uuid4().hex[:12]}"
        resp = await self.client.post(
            "/api/register", json={"username": username, "password": password}
        )
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    async def login(self, username: str, password: str = "correct horse 1") -> dict[str, Any]:
        resp = await self.client.post(
            "/api/login", json={"username": username, "password": password}
        )
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def user(self) -> User:
        created = await self.register()
        tokens = await self.login(created["username"])
        return User(self, created["id"], created["username"], tokens)

    async def room(self, owner: User, kind: str = "public", name: str = "room") -> dict[str, Any]:
        resp = await self.client.post(
            "/api/rooms", json={"name": name, "kind": kind}, headers=owner.auth
        )
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


@dataclass
class User:
    api: Api
    id: int
    username: str
    tokens: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    async def send(
        self, room_id: int, content: str = "hello", client_msg_id: str | None = None
    ) -> httpx.Response:
        return await self.api.client.post(
            "/api/messages",
            json={
                "room_id": room_id,
                "content": content,
                "client_msg_id": client_msg_id or uuid.uuid4().hex,
            },
            headers=self.auth,
        )


async def next_envelope(pubsub: aioredis.client.PubSub) -> Envelope:
    """The next event on a subscription (bounded: a missing event fails, never hangs)."""
    async with asyncio.timeout(10):
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                return decode_envelope(msg["data"])


def item(user: User, room_id: Any, content: Any = "hi", cmid: Any = None) -> dict[str, Any]:
    """One batch item: the sender's own token and a send body (fresh client id if unset)."""
    return {
        "token": user.tokens["access_token"],
        "room_id": room_id,
        "content": content,
        "client_msg_id": uuid.uuid4().hex if cmid is None else cmid,
    }


async def store(api: Api, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls the internal batch route; the results, one per item."""
    resp = await api.internal.post(BATCH_PATH, json={"items": items})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert len(results) == len(items)
    return list(results)
