"""JWT claims and the one decode path every service uses.

HS256 is pinned: a token's own header never chooses the algorithm, so `alg: none`
and RS/HS confusion are rejected before the signature is looked at.
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum

import jwt
from pydantic import BaseModel, ConfigDict

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud", "typ", "jti", "sid", "ver")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class InvalidTokenError(Exception):
    """Any reason a token is not accepted; the message is safe to log (no token in it)."""


class TokenClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str  # user id, as a string per RFC 7519
    iat: int
    exp: int
    iss: str
    aud: str
    typ: TokenType
    jti: str  # unique per token: the deny-list key
    sid: str  # session (refresh family): logout revokes it
    ver: int  # user's token version: a password change bumps it

    @property
    def user_id(self) -> int:
        return int(self.sub)


def check_key(key: str) -> None:
    """Refuse keys that are too short to be random 32-byte secrets."""
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"JWT signing key must be at least {MIN_KEY_BYTES} bytes")


def new_token_id() -> str:
    return secrets.token_urlsafe(16)


def encode_token(claims: TokenClaims, key: str) -> str:
    return jwt.encode(claims.model_dump(mode="json"), key, algorithm=ALGORITHM)


def issue_token(
    *,
    user_id: int,
    token_type: TokenType,
    ttl_seconds: int,
    key: str,
    issuer: str,
    audience: str,
    session_id: str,
    version: int,
    now: int | None = None,
) -> tuple[str, TokenClaims]:
    issued = int(time.time()) if now is None else now
    claims = TokenClaims(
        sub=str(user_id),
        iat=issued,
        exp=issued + ttl_seconds,
        iss=issuer,
        aud=audience,
        typ=token_type,
        jti=new_token_id(),
        sid=session_id,
        ver=version,
    )
    return encode_token(claims, key), claims


def decode_token(
    token: str,
    *,
    key: str,
    issuer: str,
    audience: str,
    expected_type: TokenType,
    leeway_seconds: int = 0,
) -> TokenClaims:
    try:
        raw = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"token rejected: {type(exc).__name__}") from exc
    try:
        claims = TokenClaims.model_validate(raw)
    except ValueError as exc:
        raise InvalidTokenError("token claims malformed") from exc
    if claims.typ is not expected_type:
        raise InvalidTokenError(f"wrong token type: expected {expected_type.value}")
    return claims
