"""Per-request savings keep their behaviour: verified-token cache, request log level guard."""

from __future__ import annotations

import json

import pytest
from api_testing import JWT_SECRET, Api, make_settings
from chat_api import security
from chat_api.security import TokenService
from chat_contracts.logging import configure_logging
from chat_contracts.tokens import InvalidTokenError, TokenType, issue_token

pytestmark = pytest.mark.integration


def _token(ttl: int = 60, user_id: int = 7) -> str:
    token, _ = issue_token(
        user_id=user_id,
        token_type=TokenType.ACCESS,
        ttl_seconds=ttl,
        key=JWT_SECRET,
        issuer="chat-api",
        audience="chat",
        session_id="s" * 43,
        version=0,
    )
    return token


def test_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token verified once is answered from the cache until its exp, then 'token expired'."""
    tokens = TokenService(make_settings("sqlite+aiosqlite://"))
    token = _token()
    first = tokens.decode(token, TokenType.ACCESS)
    assert tokens.decode(token, TokenType.ACCESS) is first  # the cached claims
    monkeypatch.setattr(security.time, "time", lambda: float(first.exp))
    with pytest.raises(InvalidTokenError, match="token expired"):
        tokens.decode(token, TokenType.ACCESS)
    assert (token, TokenType.ACCESS) not in tokens._verified  # dropped, not kept answering


def test_cached_token_keeps_its_type_check_and_size_bound() -> None:
    """A cached access token is still refused as a refresh token; the cache stays bounded."""
    tokens = TokenService(make_settings("sqlite+aiosqlite://"))
    token = _token()
    tokens.decode(token, TokenType.ACCESS)
    with pytest.raises(InvalidTokenError) as info:
        tokens.decode(token, TokenType.REFRESH)
    assert info.value.detail == "wrong token type: expected refresh"
    for user_id in range(1, 1 + security.VERIFIED_CACHE_SIZE + 10):
        tokens.decode(_token(user_id=user_id), TokenType.ACCESS)
    assert len(tokens._verified) == security.VERIFIED_CACHE_SIZE


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
async def test_request_line_logged_only_at_info(
    api: Api, level: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """INFO: one JSON line per request with its id; WARNING: none. The header is always set."""
    configure_logging("chat-api", level=level, json=True)
    capsys.readouterr()
    resp = await api.client.get("/api/openapi.json", headers={"X-Request-ID": "rid-1"})
    assert resp.headers["x-request-id"] == "rid-1"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    requests = [line for line in lines if line.get("event") == "request"]
    if level == "INFO":
        assert len(requests) == 1
        assert requests[0]["request_id"] == "rid-1" and requests[0]["status"] == 200
        assert requests[0]["path"] == "/api/openapi.json" and requests[0]["service"] == "chat-api"
    else:
        assert requests == []


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_probe_requests_logged_at_debug(
    api: Api, level: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """/healthz and /readyz (also under the prefix) log at DEBUG only: probes every few
    seconds would otherwise be most of the log."""
    configure_logging("chat-api", level=level, json=True)
    capsys.readouterr()
    for path in ("/healthz", "/readyz", "/api/healthz"):
        assert (await api.client.get(path)).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    requests = [(x["path"], x["level"]) for x in lines if x.get("event") == "request"]
    if level == "DEBUG":
        assert requests == [("/healthz", "debug"), ("/readyz", "debug"), ("/api/healthz", "debug")]
    else:
        assert requests == []
