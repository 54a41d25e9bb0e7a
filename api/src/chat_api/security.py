"""Password hashing (Argon2id) and token issue/verify on top of the shared contract."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from chat_contracts.tokens import (
    EXPIRED,
    InvalidTokenError,
    TokenClaims,
    TokenType,
    decode_token,
    issue_token,
)

from chat_api.config import Settings

# RFC 9106 "second recommended" profile, sized for a 2-core pod: ~50 ms per hash.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1, type=Type.ID)
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-same-cost")


async def hash_password(password: str) -> str:
    # Argon2 releases the GIL, so a thread keeps the event loop serving other requests.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


@dataclass(frozen=True)
class TokenPair:
    access: str
    access_claims: TokenClaims
    refresh: str
    refresh_claims: TokenClaims


# Tokens remembered as verified. The gateway sends each sender's same access token with
# every message, and a signature check plus claims validation costs more than the rest of
# the item's Python work; the limit bounds memory (~1 KiB per entry).
VERIFIED_CACHE_SIZE = 4096


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._key = settings.jwt_secret.get_secret_value()
        self._verified: dict[tuple[str, TokenType], TokenClaims] = {}
        # A token may not outlive what this API issues for its type.
        self._max_lifetime = {
            TokenType.ACCESS: settings.access_token_ttl_seconds,
            TokenType.REFRESH: settings.refresh_token_ttl_seconds,
        }

    def issue_pair(self, *, user_id: int, session_id: str, version: int) -> TokenPair:
        access, access_claims = self._issue(
            TokenType.ACCESS, self._settings.access_token_ttl_seconds, user_id, session_id, version
        )
        refresh, refresh_claims = self._issue(
            TokenType.REFRESH,
            self._settings.refresh_token_ttl_seconds,
            user_id,
            session_id,
            version,
        )
        return TokenPair(access, access_claims, refresh, refresh_claims)

    def _issue(
        self, token_type: TokenType, ttl: int, user_id: int, session_id: str, version: int
    ) -> tuple[str, TokenClaims]:
        return issue_token(
            user_id=user_id,
            token_type=token_type,
            ttl_seconds=ttl,
            key=self._key,
            issuer=self._settings.jwt_issuer,
            audience=self._settings.jwt_audience,
            session_id=session_id,
            version=version,
        )

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        """Signature, claims and type; a token verified before only has its expiry rechecked.

        The cache key is the whole token, so a hit is the very bytes that passed; only
        the clock can change the answer, and expiry is checked as PyJWT does (exp <= now).
        Revocation is not decided here: callers check the session on every use.
        """
        key = (token, expected)
        claims = self._verified.get(key)
        if claims is not None:
            if claims.exp <= time.time():
                del self._verified[key]
                raise InvalidTokenError(EXPIRED)
            return claims
        claims = decode_token(
            token,
            key=self._key,
            issuer=self._settings.jwt_issuer,
            audience=self._settings.jwt_audience,
            expected_type=expected,
            max_lifetime_seconds=self._max_lifetime[expected],
        )
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[key] = claims
        return claims
