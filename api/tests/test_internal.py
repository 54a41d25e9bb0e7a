"""The internal app: token validation for the gateway, metrics, and its separation from /api."""

from __future__ import annotations

import pytest
from api_testing import Api

pytestmark = pytest.mark.integration


async def test_validate_token_returns_user_and_expiry(api: Api) -> None:
    """A live access token validates to its user, expiry and session."""
    alice = await api.user()
    resp = await api.internal.post("/validate-token", json={"token": alice.tokens["access_token"]})
    body = resp.json()
    assert resp.status_code == 200 and body["valid"] is True
    assert body["user_id"] == alice.id and body["username"] == alice.username
    assert body["exp"] > 0 and body["sid"] and body["jti"]


@pytest.mark.parametrize(
    "body", [{}, {"token": "x" * 5000}, {"token": 5}, {"token": "a", "extra": 1}]
)
async def test_validate_token_rejects_malformed_bodies(api: Api, body: dict[str, object]) -> None:
    """Malformed validation requests are 422."""
    assert (await api.internal.post("/validate-token", json=body)).status_code == 422


@pytest.mark.parametrize("token", ["", " ", "not-a-jwt"])
async def test_empty_or_garbage_token_is_not_valid(api: Api, token: str) -> None:
    """An empty token is a well-formed request for a token that does not validate: 401."""
    resp = await api.internal.post("/validate-token", json={"token": token})
    assert resp.status_code == 401
    assert (resp.json()["valid"], resp.json()["reason"]) == (False, "invalid token")


async def test_internal_routes_are_not_on_the_public_app(api: Api) -> None:
    """What the ingress routes (the public app) has no validate-token and no metrics."""
    alice = await api.user()
    for path in ("/validate-token", "/api/validate-token", "/metrics", "/api/metrics"):
        for method in ("GET", "POST"):
            resp = await api.client.request(
                method, path, json={"token": alice.tokens["access_token"]}
            )
            assert resp.status_code in (404, 405), (method, path, resp.status_code)
            assert "user_id" not in resp.text
    schema = (await api.client.get("/api/openapi.json")).json()
    assert not any("validate" in p or "metrics" in p for p in schema["paths"])


async def test_metrics_expose_route_templates_not_ids(api: Api) -> None:
    """Request metrics are labelled by route template; stored messages are counted."""
    alice = await api.user()
    room = await api.room(alice)
    await alice.send(room["id"])
    await api.client.get(f"/api/rooms/{room['id']}", headers=alice.auth)
    text = (await api.internal.get("/metrics")).text
    assert 'route="/api/rooms/{room_id}"' in text
    assert f'/api/rooms/{room["id"]}"' not in text
    assert "chat_api_messages_stored_total" in text
    assert "chat_api_request_seconds_bucket" in text
    assert "chat_api_db_pool_checked_out" in text


async def test_health_and_readiness(api: Api) -> None:
    """Both probes answer on both apps while the database is up."""
    for client, prefix in ((api.client, "/api"), (api.client, ""), (api.internal, "")):
        assert (await client.get(f"{prefix}/healthz")).json() == {"status": "ok"}
        assert (await client.get(f"{prefix}/readyz")).status_code == 200


async def test_readiness_fails_when_database_is_unreachable(api_factory) -> None:
    """readyz turns 503 when the database cannot be reached; healthz stays 200."""
    api: Api = await api_factory(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert (await api.internal.get("/readyz")).status_code == 503
    assert (await api.internal.get("/healthz")).status_code == 200


async def test_responses_carry_request_ids(api: Api) -> None:
    """Each response names its request id; an incoming X-Request-ID is kept."""
    resp = await api.client.get("/api/healthz", headers={"X-Request-ID": "abc123"})
    assert resp.headers["x-request-id"] == "abc123"
    assert len((await api.client.get("/api/healthz")).headers["x-request-id"]) == 32
