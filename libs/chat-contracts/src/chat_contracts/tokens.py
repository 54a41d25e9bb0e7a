"""JWT claims and the one decode path every service uses.

HS256 is pinned: a token's own header never chooses the algorithm, so `alg: none`
and RS/HS confusion are rejected before the signature is looked at. A token must also not
live longer than its type's configured TTL: a correctly signed token with a 10-year `exp`
(a leaked key used once, or an issuer bug) is refused instead of working for a decade.
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum

import jwt
import structlog
from pydantic import BaseModel, ConfigDict

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud", "typ", "jti", "sid", "ver")
# exp - iat may exceed the TTL by this much. Our issuer takes both from one clock reading,
# so its tokens match the TTL exactly; the allowance is for an issuer that reads the clock
# twice or rounds, and is far too small to stretch a token's life.
LIFETIME_SKEW_SECONDS = 5
# The public answers: one per case family, so a 401 never names library internals.
INVALID = "invalid token"
EXPIRED = "token expired"

log = structlog.get_logger("chat_contracts.tokens")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class InvalidTokenError(Exception):
    """Why a token is not accepted. `str()` is the public answer (INVALID or EXPIRED);
    `detail` says exactly what failed, for logs only. Neither holds the token."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


class TokenClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str  # user id, as a string per RFC 7519
    iat: int
    exp: int
    iss: str
    aud: str
    typ: TokenType
    jti: str  # unique per token: a refresh token's is its session's current one (rotation)
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
    max_lifetime_seconds: int,
    leeway_seconds: int = 0,
) -> TokenClaims:
    """The claims of a valid token, or InvalidTokenError (logged here with its detail)."""
    try:
        claims = _decode(token, key, issuer, audience, leeway_seconds)
        lifetime = claims.exp - claims.iat
        if lifetime > max_lifetime_seconds + LIFETIME_SKEW_SECONDS:
            raise InvalidTokenError(
                INVALID, f"lifetime {lifetime} s exceeds the {max_lifetime_seconds} s TTL"
            )
        if claims.typ is not expected_type:
            raise InvalidTokenError(INVALID, f"wrong token type: expected {expected_type.value}")
    except InvalidTokenError as exc:
        log.info("token_rejected", reason=exc.reason, detail=exc.detail)
        raise
    return claims


def _decode(token: str, key: str, issuer: str, audience: str, leeway: int) -> TokenClaims:
    try:
        raw = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError(EXPIRED) from exc
    except jwt.PyJWTError as exc:
        # PyJWT's messages name claims, never the token's bytes.
        raise InvalidTokenError(INVALID, f"{type(exc).__name__}: {exc}") from exc
    try:
        return TokenClaims.model_validate(raw)
    except ValueError as exc:
        raise InvalidTokenError(INVALID, "claims malformed") from exc
