"""Raw WebSocket framing (RFC 6455) for hostile-input tests and the ack-eating relay:
the test controls every bit, which a WebSocket library would refuse to send."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from dataclasses import dataclass

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def build_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    declared_len: int | None = None,
) -> bytes:
    """One frame; `declared_len` lies about the payload length (oversized headers)."""
    length = len(payload) if declared_len is None else declared_len
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@dataclass
class ParsedFrame:
    fin: bool
    opcode: int
    payload: bytes
    raw: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != OP_CLOSE:
            return None
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005


def parse_frame(buf: bytes) -> tuple[ParsedFrame | None, bytes]:
    """Parse one (server, so unmasked or masked) frame from the front of buf."""
    if len(buf) < 2:
        return None, buf
    b0, b1 = buf[0], buf[1]
    length, pos = b1 & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None, buf
        length, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None, buf
        length, pos = struct.unpack("!Q", buf[2:10])[0], 10
    key = b""
    if b1 & 0x80:
        key, pos = buf[pos : pos + 4], pos + 4
    if len(buf) < pos + length:
        return None, buf
    payload = buf[pos : pos + length]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    frame = ParsedFrame(bool(b0 & 0x80), b0 & 0x0F, payload, buf[: pos + length])
    return frame, buf[pos + length :]


class RawSocket:
    """A TCP connection that speaks just enough HTTP to upgrade, then raw frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = b""

    @classmethod
    async def open(
        cls, port: int, origin: str, path: str = "/ws", sock: socket.socket | None = None
    ) -> RawSocket:
        if sock is not None:
            reader, writer = await asyncio.open_connection(sock=sock)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head[:80]
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 10) -> ParsedFrame | None:
        """Next frame, or None when the server closed TCP without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame, self.buf = parse_frame(self.buf)
            if frame is not None:
                return frame
            chunk = await asyncio.wait_for(self.reader.read(65536), deadline - loop.time())
            if not chunk:
                return None
            self.buf += chunk

    async def close_code(self, timeout: float = 10) -> int | None:
        """Read until the server's close frame; its code (None: TCP closed without one)."""
        while True:
            frame = await self.recv(timeout)
            if frame is None or frame.opcode == OP_CLOSE:
                return None if frame is None else frame.close_code

    def abort(self) -> None:
        self.writer.transport.abort()
