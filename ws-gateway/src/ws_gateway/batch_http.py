"""How a store batch travels: `POST {API_INTERNAL_URL}/messages/batch`, JSON in and out.

`Http11Poster` (the gateway's own path for an `http://` internal URL) speaks plain HTTP/1.1
over keep-alive connections, one batch in flight per connection. Measured at 500 sends/s
(bench `fanout-1000`), httpx spent ~19% of the gateway's CPU on this one route: its request
and response models, cookie jar, anyio cancel scopes, and httpcore's pool scan that polls
every idle connection's socket on each request. The route is internal and fixed, so a
request is one write and a response is a status line, headers and a Content-Length (or
chunked) body. `HttpxPoster` serves any other URL (and in-process ASGI clients in tests);
every other API call keeps using httpx.

A failure is `ApiError(0, ...)`: the whole batch is retryable (resending a client_msg_id
returns the original message). A pooled connection the API closed while idle (keep-alive
timeout) is discarded and the request goes out on another one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from ws_gateway.api_client import ApiError

_JSON = {"Content-Type": "application/json"}
_HEAD_MAX = 64 * 1024


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


class _Stale(Exception):
    """A reused connection ended before any byte of the answer: closed while idle."""


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Http11Poster:
    def __init__(self, url: str, timeout: float, max_idle: int) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"Http11Poster needs an http:// URL, got {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout = timeout
        self._max_idle = max(max_idle, 1)
        self._idle: list[_Conn] = []
        self._head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
        ).encode()

    async def post(self, body: bytes) -> tuple[int, bytes]:
        request = b"%b%d\r\n\r\n%b" % (self._head, len(body), body)
        try:
            async with asyncio.timeout(self._timeout):
                while self._idle:
                    conn = self._idle.pop()
                    if conn[0].at_eof() or conn[1].is_closing():
                        conn[1].close()
                        continue
                    with contextlib.suppress(_Stale):
                        return await self._exchange(conn, request, reused=True)
                conn = await asyncio.open_connection(self._host, self._port, limit=_HEAD_MAX)
                return await self._exchange(conn, request, reused=False)
        except TimeoutError:
            raise ApiError(0, "ReadTimeout") from None
        except (OSError, EOFError, ValueError, _Stale) as exc:
            # IncompleteReadError is an EOFError, LimitOverrunError a ValueError.
            raise ApiError(0, type(exc).__name__) from None

    async def _exchange(self, conn: _Conn, request: bytes, *, reused: bool) -> tuple[int, bytes]:
        reader, writer = conn
        try:
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                partial = getattr(exc, "partial", b"")
                if reused and not partial:
                    raise _Stale from None
                raise
            status_line, *lines = head[:-4].split(b"\r\n")
            version, status = status_line.split(b" ", 2)[:2]
            code = int(status)
            headers: dict[bytes, bytes] = {}
            for line in lines:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"content-length" in headers:
                body = await reader.readexactly(int(headers[b"content-length"]))
            elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body = await _read_chunked(reader)
            else:
                raise ValueError("response without Content-Length")
        except BaseException:
            writer.close()  # mid-exchange: the connection's state is unknown
            raise
        keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
        if keep and len(self._idle) < self._max_idle:
            self._idle.append(conn)
        else:
            writer.close()
        return code, body

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("bad chunk framing")
