"""The gateway's one HTTP client to the API, with admission in front of httpcore's pool.

Why the gate: httpcore 1.0.x leaks a pool slot when a request that is waiting for a
connection gives up (pool timeout or cancellation) in the same moment the pool assigns it
a freshly created connection: that connection stays CONNECTING with no owner, is never
reaped, and once `max_connections` of them pile up every call fails with PoolTimeout
until the process restarts (encode/httpcore#1093; seen here after an API stall). Here a
request enters the pool only with a slot of our own semaphore (sized to the pool), so the
pool always has room, assigns the connection synchronously inside the request's own call,
and no request ever waits inside it. Waiting (bounded by the pool timeout, cancellable)
happens on the semaphore, which cannot leak.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx

# A request extension: called once the request holds a slot, right before it is sent
# (api_client.py closes a shared GET to new joiners there).
ADMITTED = "chat_gateway.admitted"

# Idle connections kept open. Small on purpose: httpcore scans its connection list
# quadratically on every request (~7% of gateway CPU with 100 idle ones after an auth
# burst); steady traffic needs only STORE_CONCURRENCY plus a few, and loopback/cluster
# connects are cheap when a burst needs more.
MAX_KEEPALIVE = 16


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; its close (httpx always closes) gives the slot back."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class GatedTransport(httpx.AsyncBaseTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        self._inner = httpx.AsyncHTTPTransport(limits=limits)
        assert limits.max_connections, "the gate needs a bounded pool"
        self._slots = asyncio.Semaphore(limits.max_connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free API connection", request=request) from None
        admitted = request.extensions.get(ADMITTED)
        if admitted is not None:
            admitted()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def api_client(timeout: float, max_connections: int) -> httpx.AsyncClient:
    """Every API call (auth, stores, history, readiness) shares this client and its gate."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=min(MAX_KEEPALIVE, max_connections),
    )
    return httpx.AsyncClient(timeout=timeout, transport=GatedTransport(limits))
