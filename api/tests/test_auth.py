"""Accounts and tokens: registration, login, refresh rotation, logout and revocation."""

from __future__ import annotations

import time

import jwt
import pytest
from api_testing import JWT_SECRET, Api
from chat_contracts.tokens import ALGORITHM

pytestmark = pytest.mark.integration


async def test_register_folds_username_and_rejects_duplicates(api: Api) -> None:
    """Usernames are case-folded; a second registration of the same name is 409."""
    first = await api.client.post(
        "/api/register", json={"username": "Carol_1", "password": "p4ssword!"}
    )
    assert first.status_code == 201
    assert first.json()["username"] == "carol_1"
    assert "password" not in first.text and "hash" not in first.text
    again = await api.client.post(
        "/api/register", json={"username": "CAROL_1", "password": "x" * 10}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "longenough"},
        {"username": "has space", "password": "longenough"},
        {"username": "okname", "password": "short"},
        {"username": "okname", "password": "p" * 129},
        {"username": "okname", "password": "longenough", "display_name": "d" * 65},
        {"username": "okname", "password": "longenough", "is_admin": True},
        {"username": "okname\x00", "password": "longenough"},
    ],
)
async def test_register_rejects_bad_fields(api: Api, body: dict[str, object]) -> None:
    """Out-of-range or unknown fields are 422 and create nobody."""
    resp = await api.client.post("/api/register", json=body)
    assert resp.status_code == 422
    assert (
        await api.client.post("/api/login", json={"username": "okname", "password": "longenough"})
    ).status_code == 401


async def test_login_same_answer_for_unknown_user_and_wrong_password(api: Api) -> None:
    """Neither the status nor the body tells an attacker which usernames exist."""
    user = await api.register()
    wrong = await api.client.post(
        "/api/login", json={"username": user["username"], "password": "wrong-password"}
    )
    unknown = await api.client.post(
        "/api/login", json={"username": "nobody_here", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_login_returns_short_access_token_and_httponly_cookie(api: Api) -> None:
    """Access tokens live at most 15 minutes; the refresh cookie is HttpOnly and SameSite=Strict."""
    user = await api.register()
    resp = await api.client.post(
        "/api/login", json={"username": user["username"], "password": "correct horse 1"}
    )
    body = resp.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["typ"] == "access" and claims["sub"] == str(user["id"])
    cookie = resp.headers["set-cookie"]
    assert "chat_refresh=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/api" in cookie


def _forge(**overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "1",
        "iat": now,
        "exp": now + 300,
        "iss": "chat-api",
        "aud": "chat",
        "typ": "access",
        "jti": "j",
        "sid": "s",
        "ver": 0,
    }
    claims.update(overrides)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, JWT_SECRET, algorithm=ALGORITHM
    )


def _alg_none(user_id: int) -> str:
    now = int(time.time())
    payload = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + 300,
        "iss": "chat-api",
        "aud": "chat",
        "typ": "access",
        "jti": "j",
        "sid": "s",
        "ver": 0,
    }
    return jwt.encode(payload, key="", algorithm="none")


async def test_forged_and_wrong_tokens_are_401(api: Api) -> None:
    """alg none, another algorithm, another key, missing claims, expired, refresh-as-access: 401."""
    user = await api.user()
    real = jwt.decode(user.tokens["access_token"], options={"verify_signature": False})
    base = {k: real[k] for k in ("sub", "sid", "ver", "jti")}
    now = int(time.time())
    forged = {
        "alg none": _alg_none(user.id),
        "HS512": jwt.encode({**real}, JWT_SECRET, algorithm="HS512"),
        "wrong key": jwt.encode({**real}, "another-key-" + "k" * 40, algorithm=ALGORITHM),
        "expired": _forge(**base, iat=now - 1000, exp=now - 10),
        "wrong audience": _forge(**base, aud="other"),
        "wrong issuer": _forge(**base, iss="evil"),
        "refresh as access": user.tokens["refresh_token"],
        "garbage": "not.a.jwt",
        # Correctly signed, real session, but living far beyond ACCESS_TOKEN_TTL_SECONDS.
        "ten-year exp": _forge(**base, exp=now + 10 * 365 * 24 * 3600),
        **{
            f"missing {claim}": _forge(**{**base, claim: None})
            for claim in ("exp", "iat", "sub", "iss", "aud", "typ", "jti", "sid", "ver")
        },
    }
    for label, token in forged.items():
        resp = await api.client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, label
        # One generic answer per family; the PyJWT exception behind it is only logged.
        expected = "token expired" if label == "expired" else "invalid token"
        assert resp.json() == {"detail": expected}, label
        check = await api.internal.post("/validate-token", json={"token": token})
        assert check.status_code == 401, label
        assert (check.json()["valid"], check.json()["reason"]) == (False, expected), label
    ok = await api.client.get("/api/users/me", headers=user.auth)
    assert ok.status_code == 200 and ok.json()["id"] == user.id


async def test_missing_or_malformed_authorization_is_401(api: Api) -> None:
    """No header, a Basic header, and an empty bearer are all 401 with WWW-Authenticate."""
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer "}):
        resp = await api.client.get("/api/users/me", headers=headers)
        assert resp.status_code == 401
        assert resp.headers.get("www-authenticate") == "Bearer"


async def test_refresh_rotates_and_replay_revokes_the_session(api: Api) -> None:
    """A refresh token works once; using it again ends the session for every token in it."""
    user = await api.user()
    first = await api.client.post(
        "/api/refresh", json={"refresh_token": user.tokens["refresh_token"]}
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != user.tokens["refresh_token"]
    replay = await api.client.post(
        "/api/refresh", json={"refresh_token": user.tokens["refresh_token"]}
    )
    assert replay.status_code == 401
    after = await api.client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert after.status_code == 401
    again = await api.client.post("/api/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401


async def test_refresh_from_cookie(api: Api) -> None:
    """The browser path: the HttpOnly cookie alone refreshes."""
    user = await api.register()
    await api.login(user["username"])  # the client's cookie jar now holds chat_refresh
    resp = await api.client.post("/api/refresh")
    assert resp.status_code == 200 and resp.json()["user"]["id"] == user["id"]
    api.client.cookies.clear()
    assert (await api.client.post("/api/refresh")).status_code == 401


async def test_optional_refresh_without_cookie_is_204(api: Api) -> None:
    """The page-load probe: no refresh token with `optional=true` is 204 with no body, while
    a bad or revoked one is still 401, and so is the plain call without a cookie."""
    signed_out = await api.client.post("/api/refresh?optional=true")
    assert signed_out.status_code == 204 and signed_out.content == b""
    assert "set-cookie" not in signed_out.headers
    assert (await api.client.post("/api/refresh")).status_code == 401
    assert (await api.client.post("/api/refresh?optional=false")).status_code == 401

    api.client.cookies.set("chat_refresh", "not-a-token", path="/api")
    assert (await api.client.post("/api/refresh?optional=true")).status_code == 401
    api.client.cookies.clear()

    user = await api.register()
    await api.login(user["username"])
    ok = await api.client.post("/api/refresh?optional=true")
    assert ok.status_code == 200 and ok.json()["user"]["id"] == user["id"]
    bearer = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert (await api.client.post("/api/logout", headers=bearer)).status_code == 204
    # Logout cleared the cookie; a revoked token sent anyway is refused, not "signed out".
    revoked = await api.client.post(
        "/api/refresh?optional=true", json={"refresh_token": ok.json()["refresh_token"]}
    )
    assert revoked.status_code == 401


async def test_access_token_rejected_by_refresh(api: Api) -> None:
    """Token types do not mix: an access token cannot refresh."""
    user = await api.user()
    resp = await api.client.post(
        "/api/refresh", json={"refresh_token": user.tokens["access_token"]}
    )
    assert resp.status_code == 401


async def test_logout_revokes_session_but_not_others(api: Api) -> None:
    """Logout kills that session's tokens everywhere, other sessions of the user stay."""
    user = await api.user()
    other = await api.login(user.username)
    resp = await api.client.post("/api/logout", headers=user.auth)
    assert resp.status_code == 204
    assert (await api.client.get("/api/users/me", headers=user.auth)).status_code == 401
    valid = await api.internal.post("/validate-token", json={"token": user.tokens["access_token"]})
    assert valid.status_code == 401 and valid.json()["reason"] == "token revoked"
    refresh = await api.client.post(
        "/api/refresh", json={"refresh_token": user.tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    still = await api.client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert still.status_code == 200


async def test_logout_without_credentials_is_401(api: Api) -> None:
    """Logout needs a token or the refresh cookie."""
    assert (await api.client.post("/api/logout")).status_code == 401


async def test_password_change_revokes_every_token(api: Api) -> None:
    """A new password ends all sessions; the old password stops working, the new one works."""
    user = await api.user()
    second = await api.login(user.username)
    wrong = await api.client.put(
        "/api/users/me",
        json={"current_password": "nope-nope", "new_password": "brand new pw"},
        headers=user.auth,
    )
    assert wrong.status_code == 403
    resp = await api.client.put(
        "/api/users/me",
        json={"current_password": "correct horse 1", "new_password": "brand new pw"},
        headers=user.auth,
    )
    assert resp.status_code == 200
    for token in (user.tokens["access_token"], second["access_token"]):
        assert (
            await api.client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 401
    assert (
        await api.client.post(
            "/api/login", json={"username": user.username, "password": "correct horse 1"}
        )
    ).status_code == 401
    await api.login(user.username, "brand new pw")


async def test_profile_update_and_lookup(api: Api) -> None:
    """Display name changes are visible to others; unknown ids are 404; search by prefix."""
    alice, bob = await api.user(), await api.user()
    resp = await api.client.put(
        "/api/users/me", json={"display_name": "  Alice A.  "}, headers=alice.auth
    )
    assert resp.status_code == 200 and resp.json()["display_name"] == "Alice A."
    seen = await api.client.get(f"/api/users/{alice.id}", headers=bob.auth)
    assert seen.json()["display_name"] == "Alice A."
    assert (await api.client.get("/api/users/999999999", headers=bob.auth)).status_code == 404
    found = await api.client.get("/api/users", params={"q": alice.username[:8]}, headers=bob.auth)
    assert alice.id in [u["id"] for u in found.json()]
    assert (
        await api.client.get("/api/users", params={"q": "%"}, headers=bob.auth)
    ).status_code == 422
    too_long = await api.client.put(
        "/api/users/me", json={"display_name": "x" * 65}, headers=alice.auth
    )
    assert too_long.status_code == 422


async def test_refresh_token_beyond_its_ttl_is_refused(api: Api) -> None:
    """Refresh tokens are bounded by the refresh TTL (not the access one): 10 years is 401."""
    user = await api.user()
    real = jwt.decode(user.tokens["refresh_token"], options={"verify_signature": False})
    ttl = api.state.settings.refresh_token_ttl_seconds
    forever = jwt.encode(
        {**real, "exp": real["iat"] + 10 * 365 * 24 * 3600}, JWT_SECRET, algorithm=ALGORITHM
    )
    resp = await api.client.post("/api/refresh", json={"refresh_token": forever})
    assert resp.status_code == 401 and resp.json() == {"detail": "invalid token"}
    within = jwt.encode({**real, "exp": real["iat"] + ttl}, JWT_SECRET, algorithm=ALGORITHM)
    assert (
        await api.client.post("/api/refresh", json={"refresh_token": within})
    ).status_code == 200
