"""Token decode rejects every forged or wrong-kind token."""

from __future__ import annotations

import time

import jwt
import pytest
from chat_contracts.tokens import (
    LIFETIME_SKEW_SECONDS,
    InvalidTokenError,
    TokenType,
    check_key,
    decode_token,
    issue_token,
)
from structlog.testing import capture_logs

KEY = "k" * 32
OTHER_KEY = "o" * 32
ISS, AUD = "chat-api", "chat"
TTL = 900


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
    return decode_token(
        token, key=KEY, issuer=ISS, audience=AUD, expected_type=expected, max_lifetime_seconds=TTL
    )


def test_roundtrip_returns_claims() -> None:
    """A token we issued decodes to the same user, type and session."""
    claims = decode_token(
        _issue(),
        key=KEY,
        issuer=ISS,
        audience=AUD,
        expected_type=TokenType.ACCESS,
        max_lifetime_seconds=TTL,
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
    for issued, expected in (
        (TokenType.REFRESH, TokenType.ACCESS),
        (TokenType.ACCESS, TokenType.REFRESH),
    ):
        with pytest.raises(InvalidTokenError) as info:
            _decode(_issue(issued), expected)
        assert info.value.detail == f"wrong token type: expected {expected.value}"


def test_wrong_audience_and_issuer_rejected() -> None:
    """Tokens for another audience or from another issuer are rejected."""
    token = _issue()
    common = {"key": KEY, "expected_type": TokenType.ACCESS, "max_lifetime_seconds": TTL}
    with pytest.raises(InvalidTokenError):
        decode_token(token, issuer=ISS, audience="other", **common)  # type: ignore[arg-type]
    with pytest.raises(InvalidTokenError):
        decode_token(token, issuer="other", audience=AUD, **common)  # type: ignore[arg-type]


def test_lifetime_beyond_the_ttl_rejected() -> None:
    """A correctly signed token living longer than the TTL (plus the small skew) is refused,
    however far its exp is: a 10-year token does not work for 10 years."""
    _decode(_issue(ttl=TTL + LIFETIME_SKEW_SECONDS))
    for ttl in (TTL + LIFETIME_SKEW_SECONDS + 1, 10 * 365 * 24 * 3600):
        with pytest.raises(InvalidTokenError, match=r"^invalid token$") as info:
            _decode(_issue(ttl=ttl))
        assert info.value.detail == f"lifetime {ttl} s exceeds the {TTL} s TTL"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_rejections_answer_generically_and_log_the_detail() -> None:
    """The public reason is "invalid token" or "token expired" (no PyJWT class names);
    the exact cause is logged, never the token."""
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    cases = {
        jwt.encode(claims, KEY, algorithm="HS512"): ("invalid token", "InvalidAlgorithmError"),
        "not.a.jwt": ("invalid token", "DecodeError"),
        jwt.encode(claims, OTHER_KEY, algorithm="HS256"): ("invalid token", "InvalidSignature"),
        _issue(ttl=10, now=int(time.time()) - 60): ("token expired", "token expired"),
    }
    for token, (reason, detail) in cases.items():
        with capture_logs() as logs, pytest.raises(InvalidTokenError) as info:
            _decode(token)
        assert str(info.value) == reason
        assert detail in info.value.detail
        assert logs == [
            {
                "event": "token_rejected",
                "log_level": "info",
                "reason": reason,
                "detail": info.value.detail,
            }
        ]
        assert token not in repr(logs)


def test_short_key_refused() -> None:
    """Keys under 32 bytes are refused."""
    with pytest.raises(ValueError, match="32 bytes"):
        check_key("short")
    check_key(KEY)
