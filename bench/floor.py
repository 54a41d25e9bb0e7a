"""The floor: a minimal `websockets.broadcast()` room server, no auth, no persistence.

`python -m bench.floor PORT`. Frames (JSON text): {"type":"join","room":R} -> {"type":"joined"};
{"type":"msg","room":R,"content":C} -> the same bytes to every member of R (sender included).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import defaultdict
from http import HTTPStatus

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

ROOMS: defaultdict[int, set[ServerConnection]] = defaultdict(set)
JOINED = b'{"type":"joined"}'


def _health(conn: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return conn.respond(HTTPStatus.OK, "ok\n")
    return None


async def handler(ws: ServerConnection) -> None:
    mine: set[int] = set()
    try:
        async for raw in ws:
            frame = orjson.loads(raw)
            room = int(frame["room"])
            if frame["type"] == "msg":
                # Forward the client's text as-is: the cheapest possible fan-out.
                broadcast(ROOMS[room], raw)
            elif frame["type"] == "join":
                ROOMS[room].add(ws)
                mine.add(room)
                await ws.send(JOINED, text=True)
    finally:
        for room in mine:
            ROOMS[room].discard(ws)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(
        handler, "127.0.0.1", port, compression=None, process_request=_health, max_size=2**16
    ):
        await stop


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
