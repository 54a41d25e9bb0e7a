"""AiohttpPoster, the store batch's HTTP client, against real sockets.

The real API is exercised through the gateway in test_store.py; here a small asyncio HTTP
server plays the keep-alive edge cases the API only shows now and then (idle connection
closed by the server, chunked bodies, `Connection: close`, no answer at all).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from ws_gateway.api_client import ApiError
from ws_gateway.batch_http import AiohttpPoster

Reply = Callable[[bytes], bytes | None]  # request body -> raw response (None: never answer)


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%b\r\n%b" % (len(body), extra, body)


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # conn, head, body
    close_after_reply: bool = False


@asynccontextmanager
async def http_server(reply: Reply) -> AsyncIterator[Server]:
    state = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        conn = state.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                state.requests.append((conn, head, body))
                answer = reply(body)
                if answer is None:
                    await reader.read()  # hold the request unanswered until the peer leaves
                    return
                writer.write(answer)
                await writer.drain()
                if state.close_after_reply:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


async def test_keep_alive_reuses_one_connection_and_sends_the_exact_request() -> None:
    """Sequential batches share one connection; the request is a well-formed JSON POST."""
    async with http_server(lambda body: _ok(b'{"echo":' + body + b"}")) as srv:
        poster = AiohttpPoster(f"http://127.0.0.1:{srv.port}/messages/batch", 5, max_connections=4)
        for i in range(3):
            assert await poster.post(b"[%d]" % i) == (200, b'{"echo":[%d]}' % i)
        await poster.aclose()
    assert srv.connections == 1
    _, head, body = srv.requests[0]
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /messages/batch HTTP/1.1"
    assert f"Host: 127.0.0.1:{srv.port}" in lines
    assert "Content-Type: application/json" in lines and "Content-Length: 3" in lines
    assert body == b"[0]"


async def test_connection_closed_while_idle_is_replaced() -> None:
    """The API closing an idle keep-alive connection costs nothing: the next batch goes
    out on a fresh connection and succeeds."""
    async with http_server(lambda body: _ok(body)) as srv:
        srv.close_after_reply = True  # no "Connection: close" header: the client cannot know
        poster = AiohttpPoster(f"http://127.0.0.1:{srv.port}/b", 5, max_connections=4)
        assert await poster.post(b"1") == (200, b"1")
        assert await poster.post(b"2") == (200, b"2")
        assert await poster.post(b"3") == (200, b"3")
        await poster.aclose()
    assert srv.connections == 3
    assert [body for _, _, body in srv.requests] == [b"1", b"2", b"3"]


async def test_chunked_body_and_connection_close() -> None:
    """A chunked answer is reassembled; `Connection: close` is honoured (new connection)."""

    def reply(body: bytes) -> bytes:
        return (
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            b"3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\n\r\n"
        )

    async with http_server(reply) as srv:
        poster = AiohttpPoster(f"http://127.0.0.1:{srv.port}/b", 5, max_connections=4)
        assert await poster.post(b"x") == (201, b"abcdefgh")
        assert await poster.post(b"y") == (201, b"abcdefgh")
        await poster.aclose()
    assert srv.connections == 2


async def test_no_answer_is_a_retryable_error_and_the_connection_is_dropped() -> None:
    """An API that never answers: ApiError(0) (retryable) after the timeout, and the next
    batch does not reuse the connection that still has a request pending."""
    answers: list[bytes | None] = [None, _ok(b"late-ok")]
    async with http_server(lambda body: answers.pop(0)) as srv:
        poster = AiohttpPoster(f"http://127.0.0.1:{srv.port}/b", 0.3, max_connections=4)
        with pytest.raises(ApiError) as err:
            await poster.post(b"1")
        assert err.value.status == 0 and err.value.retryable
        assert await poster.post(b"2") == (200, b"late-ok")
        await poster.aclose()
    assert srv.connections == 2


async def test_unreachable_api_is_a_retryable_error() -> None:
    """Nothing listening: ApiError(0), not an OSError escaping into the batcher."""
    async with http_server(lambda body: _ok(b"")) as srv:
        port = srv.port
    poster = AiohttpPoster(f"http://127.0.0.1:{port}/b", 5, max_connections=4)
    with pytest.raises(ApiError) as err:
        await poster.post(b"1")
    assert err.value.status == 0 and err.value.retryable
