"""Client side of the three servers' wire protocols, on the same `websockets` client.

Each adapter turns a raw text frame into (kind, value) cheaply, so the load generator spends
as little CPU per received frame as possible and the same amount for every target.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection

OTHER, DELIVER, ACK, NACK, PING, ERROR = range(6)
Parsed = tuple[int, Any]


class HandshakeError(Exception):
    """The server refused the socket during auth or join."""


async def _recv_until(ws: ClientConnection, want: str, fail: tuple[str, ...] = ()) -> Any:
    while True:
        raw = await ws.recv()
        frame = orjson.loads(raw)
        if frame.get("type") == want:
            return frame
        if frame.get("type") in fail:
            raise HandshakeError(str(frame)[:200])


class Adapter(Protocol):
    path: str

    async def handshake(self, ws: ClientConnection, token: str) -> None: ...
    async def join(self, ws: ClientConnection, room: int) -> None: ...
    def message(self, room: int, content: str, cmid: str) -> str: ...
    def parse(self, raw: str | bytes) -> Parsed: ...


class Ours:
    """docs/contract.md: auth frame first, join -> joined, message -> ack/nack + event."""

    path = "/ws"

    async def handshake(self, ws: ClientConnection, token: str) -> None:
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        await _recv_until(ws, "auth_ok", ("error",))

    async def join(self, ws: ClientConnection, room: int) -> None:
        await ws.send(orjson.dumps({"type": "join", "room_id": room}).decode())
        await _recv_until(ws, "joined", ("error",))

    def message(self, room: int, content: str, cmid: str) -> str:
        frame = {"type": "message", "room_id": room, "client_msg_id": cmid, "content": content}
        return orjson.dumps(frame).decode()

    def parse(self, raw: str | bytes) -> Parsed:
        f = orjson.loads(raw)
        t = f.get("type")
        if t == "event":
            if f.get("event") == "message.created":
                return DELIVER, f["message"]["content"]
            return OTHER, None
        if t == "ack":
            return ACK, f.get("client_msg_id")
        if t == "nack":
            return NACK, f.get("client_msg_id")
        if t == "error":
            return ERROR, f.get("code")
        return OTHER, None


class Floor:
    """bench/floor.py: join -> joined, msg -> the same bytes to every member."""

    path = "/"

    async def handshake(self, ws: ClientConnection, token: str) -> None:
        return None

    async def join(self, ws: ClientConnection, room: int) -> None:
        await ws.send(orjson.dumps({"type": "join", "room": room}).decode())
        await _recv_until(ws, "joined")

    def message(self, room: int, content: str, cmid: str) -> str:
        return orjson.dumps({"type": "msg", "room": room, "content": content}).decode()

    def parse(self, raw: str | bytes) -> Parsed:
        f = orjson.loads(raw)
        if f.get("type") == "msg":
            return DELIVER, f["content"]
        return OTHER, None


class SocketIO:
    """Engine.IO 4 / Socket.IO 5 over a plain WebSocket: '0' open, '40' connect, '42' event,
    '43' ack, '2' ping (answered '3'). Enough for join + broadcast."""

    path = "/socket.io/?EIO=4&transport=websocket"

    async def handshake(self, ws: ClientConnection, token: str) -> None:
        opened = await ws.recv()
        if not str(opened).startswith("0"):
            raise HandshakeError(f"engine.io open expected, got {str(opened)[:80]}")
        await ws.send("40")
        while True:
            raw = str(await ws.recv())
            if raw.startswith("40"):
                return
            if raw.startswith("44"):
                raise HandshakeError(raw[:200])

    async def join(self, ws: ClientConnection, room: int) -> None:
        await ws.send(f'420["join",{room}]')
        while True:
            raw = str(await ws.recv())
            if raw == "2":
                await ws.send("3")
            elif raw.startswith("430"):
                return

    def message(self, room: int, content: str, cmid: str) -> str:
        return "42" + orjson.dumps(["msg", room, content]).decode()

    def parse(self, raw: str | bytes) -> Parsed:
        s = raw if isinstance(raw, str) else raw.decode()
        if s.startswith("42"):
            arr = orjson.loads(s[2:])
            if arr[0] == "msg":
                return DELIVER, arr[2]
            return OTHER, None
        if s == "2":
            return PING, "3"
        if s.startswith(("41", "44")):
            return ERROR, s[:40]
        return OTHER, None


ADAPTERS: dict[str, type[Ours] | type[Floor] | type[SocketIO]] = {
    "ours": Ours,
    "floor": Floor,
    "socketio": SocketIO,
}
