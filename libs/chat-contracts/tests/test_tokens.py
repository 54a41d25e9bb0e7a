"""Token decode rejects every forged or wrong-kind token."""

from __future__ import annotations

import time

import jwt
import pytest
from chat_contracts.tokens import (
    InvalidTokenError,
    TokenType,
    check_key,
    decode_token,
    issue_token,
)

KEY = "k" * 32
OTHER_KEY = "o" * 32
ISS, AUD = "chat-api", "chat"


def _issue(token_type: TokenType = TokenType.ACCESS, ttl: int = 60, **kw: object) -> str:
    token, _ = issue_token(
        user_id=7,
        token_type=token_type,
        ttl_seconds=ttl,
        key=KEY,
        issuer=ISS,
        audience=AUD,
        session_id="s1",
        version=0,
        **kw,  # type: ignore[arg-type]
    )
    return token


def _decode(token: str, expected: TokenType = TokenType.ACCESS) -> object:
    return decode_token(token, key=KEY, issuer=ISS, audience=AUD, expected_type=expected)


def test_roundtrip_returns_claims() -> None:
    """A token we issued decodes to the same user, type and session."""
    claims = decode_token(
        _issue(), key=KEY, issuer=ISS, audience=AUD, expected_type=TokenType.ACCESS
    )
    assert claims.user_id == 7
    assert claims.sid == "s1"
    assert claims.typ is TokenType.ACCESS


def test_alg_none_rejected() -> None:
    """An unsigned token (alg none) is rejected."""
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    forged = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        _decode(forged)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithm_rejected() -> None:
    """A token signed with HS512 is rejected even with the right key."""
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    with pytest.raises(InvalidTokenError):
        _decode(jwt.encode(claims, KEY, algorithm="HS512"))


def test_wrong_key_rejected() -> None:
    """A token signed with another key is rejected."""
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    with pytest.raises(InvalidTokenError):
        _decode(jwt.encode(claims, OTHER_KEY, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud", "typ", "jti", "sid", "ver"])
def test_missing_claim_rejected(missing: str) -> None:
    """Every required claim is enforced."""
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    del claims[missing]
    with pytest.raises(InvalidTokenError):
        _decode(jwt.encode(claims, KEY, algorithm="HS256"))


def test_expired_rejected() -> None:
    """A token past exp is rejected."""
    token = _issue(ttl=10, now=int(time.time()) - 60)
    with pytest.raises(InvalidTokenError, match="expired"):
        _decode(token)


def test_refresh_used_as_access_rejected() -> None:
    """A refresh token cannot stand in for an access token, nor the reverse."""
    with pytest.raises(InvalidTokenError, match="wrong token type"):
        _decode(_issue(TokenType.REFRESH), TokenType.ACCESS)
    with pytest.raises(InvalidTokenError, match="wrong token type"):
        _decode(_issue(TokenType.ACCESS), TokenType.REFRESH)


def test_wrong_audience_and_issuer_rejected() -> None:
    """Tokens for another audience or from another issuer are rejected."""
    token = _issue()
    with pytest.raises(InvalidTokenError):
        decode_token(token, key=KEY, issuer=ISS, audience="other", expected_type=TokenType.ACCESS)
    with pytest.raises(InvalidTokenError):
        decode_token(token, key=KEY, issuer="other", audience=AUD, expected_type=TokenType.ACCESS)


def test_short_key_refused() -> None:
    """Keys under 32 bytes are refused."""
    with pytest.raises(ValueError, match="32 bytes"):
        check_key("short")
    check_key(KEY)
