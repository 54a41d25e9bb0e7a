"""A TCP relay in front of a gateway that loses acks: when an armed relay sees the server
send an `ack` frame, it cuts both connections instead of forwarding it. The message is
committed (acks are sent only after commit) but the client never hears so."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from fault_rawws import OP_TEXT, parse_frame


@dataclass
class AckEater:
    upstream_port: int
    every: int = 1  # cut on every n-th ack seen (1 = each one)
    armed: bool = True
    eaten: list[dict[str, Any]] = field(default_factory=list)  # the acks never delivered
    port: int = 0
    _seen: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> AckEater:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            c_writer.transport.abort()
            return
        up = asyncio.create_task(self._pipe(c_reader, s_writer))
        down = asyncio.create_task(self._down(s_reader, c_writer))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for t in (up, down):
            t.cancel()
        c_writer.transport.abort()
        s_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()

    async def _down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Server -> client: pass the HTTP upgrade through, then frame by frame."""
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(head)
        buf = b""
        while chunk := await reader.read(65536):
            buf += chunk
            while True:
                frame, buf = parse_frame(buf)
                if frame is None:
                    break
                if frame.opcode == OP_TEXT and self._eat(frame.payload):
                    return  # cut: the ack is lost with the connection
                writer.write(frame.raw)
            await writer.drain()

    def _eat(self, payload: bytes) -> bool:
        try:
            msg = json.loads(payload)
        except ValueError:
            return False
        if not self.armed or msg.get("type") != "ack" or "client_msg_id" not in msg:
            return False
        self._seen += 1
        if self._seen % self.every:
            return False
        self.eaten.append(msg)
        return True
