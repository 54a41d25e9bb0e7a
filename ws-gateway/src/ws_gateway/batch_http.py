"""How a store batch travels: `POST {API_INTERNAL_URL}/messages/batch`, JSON in and out.

`AiohttpPoster` carries the gateway's store batches. Measured at 500 sends/s (bench
`fanout-1000`), httpx spent ~19% of the gateway's CPU on this one route (request/response
models, cookie jar, anyio cancel scopes, httpcore's pool scan polling every idle socket);
aiohttp's C parser and leaner request path cost a fraction of that. `HttpxPoster` serves
in-process ASGI clients in tests; every other API call keeps using httpx.

A failure is `ApiError(0, ...)`: the whole batch is retryable (resending a client_msg_id
returns the original message). For the same reason a batch whose pooled connection turns
out to have been closed by the API while idle is simply sent once more on a new one.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp
import httpx

from ws_gateway.api_client import ApiError

_JSON = {"Content-Type": "application/json"}


class BatchPoster(Protocol):
    async def post(self, body: bytes) -> tuple[int, bytes]:
        """(status, body) of the API's answer; ApiError(0, ...) when there is none."""
        ...

    async def aclose(self) -> None: ...


class HttpxPoster:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._url = url

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            resp = await self._client.post(self._url, content=body, headers=_JSON)
        except httpx.HTTPError as exc:
            raise ApiError(0, type(exc).__name__) from None
        return resp.status_code, resp.content

    async def aclose(self) -> None:
        return None  # the shared client belongs to its creator


class AiohttpPoster:
    def __init__(self, url: str, timeout: float, max_connections: int) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = max(max_connections, 1)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a ClientSession binds to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            try:
                return await self._post(body)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # Most often a keep-alive connection the API closed while idle (reset on
                # write, or EOF before the answer); the batch is idempotent, so it goes out
                # once more on a fresh connection.
                return await self._post(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            name = "ReadTimeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise ApiError(0, name) from None

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        async with self._client().post(self._url, data=body, headers=_JSON) as resp:
            return resp.status, await resp.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
