"""Token validation through the API's internal /validate-token, cached until the token expires.

The cache key is a hash of the token, so tokens never sit in memory longer than needed
for the comparison and never appear in logs. Revocations purge the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx
from chat_contracts.identity import VALIDATE_TOKEN_PATH, ValidateTokenOut
from pydantic import ValidationError

from ws_gateway.metrics import API_REQUEST_SECONDS

CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: int
    username: str
    display_name: str
    exp: int
    sid: str
    jti: str
    # The user stream's head when validated (maybe cached, so maybe lower: never higher).
    user_seq: int = 0


class TokenRejected(Exception):
    """The API said no (forged, expired, revoked, wrong type): close 1008."""


class AuthUnavailable(Exception):
    """The API could not be asked: the client should retry later (close 1013)."""


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenValidator:
    def __init__(self, client: httpx.AsyncClient, internal_url: str) -> None:
        self._client = client
        self._url = internal_url.rstrip("/") + VALIDATE_TOKEN_PATH
        self._cache: OrderedDict[str, Identity] = OrderedDict()
        # One API call per uncached token however many handshakes present it at once
        # (a reconnect storm brings many sockets of one user back together).
        self._inflight: dict[str, asyncio.Task[Identity]] = {}

    async def validate(self, token: str) -> Identity:
        key = _key(token)
        cached = self._cache.get(key)
        if cached is not None:
            if cached.exp > time.time():
                self._cache.move_to_end(key)
                return cached
            del self._cache[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._ask(token))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        # shield: one waiter giving up (socket closed) must not cancel the others' answer.
        identity = await asyncio.shield(task)
        self._cache[key] = identity
        while len(self._cache) > CACHE_MAX:
            self._cache.popitem(last=False)
        return identity

    def _settle(self, key: str, done: asyncio.Task[Identity]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # mark retrieved: every waiter may have gone already

    async def _ask(self, token: str) -> Identity:
        started = time.perf_counter()
        try:
            resp = await self._client.post(self._url, json={"token": token})
        except httpx.HTTPError as exc:
            raise AuthUnavailable(type(exc).__name__) from None
        finally:
            API_REQUEST_SECONDS.labels("validate_token").observe(time.perf_counter() - started)
        if resp.status_code in (400, 401, 403, 422):
            raise TokenRejected(_reason(resp))
        if resp.status_code != 200:
            raise AuthUnavailable(f"validate-token HTTP {resp.status_code}")
        try:
            body = ValidateTokenOut.model_validate_json(resp.content)
        except ValidationError:
            # A 200 the contract does not describe is an API fault, not a bad token.
            raise AuthUnavailable("validate-token answer off contract") from None
        if not body.valid:
            raise TokenRejected(body.reason or "invalid")
        if body.user_id is None or body.exp is None:
            raise AuthUnavailable("validate-token answer without user_id/exp")
        if body.exp <= time.time():
            raise TokenRejected("expired")
        return Identity(
            user_id=body.user_id,
            username=body.username or "",
            display_name=body.display_name or "",
            exp=body.exp,
            sid=body.sid or "",
            jti=body.jti or "",
            user_seq=body.user_seq or 0,
        )

    def purge(self, user_id: int, session_id: str | None) -> None:
        """Forget cached identities of a revoked user (one session, or all when None)."""
        for key, ident in list(self._cache.items()):
            if ident.user_id == user_id and (session_id is None or ident.sid == session_id):
                del self._cache[key]


def _reason(resp: httpx.Response) -> str:
    try:
        body = ValidateTokenOut.model_validate_json(resp.content)
    except ValidationError:
        return f"HTTP {resp.status_code}"  # e.g. a 422's {detail: [...]}
    return (body.reason or "invalid")[:100]
