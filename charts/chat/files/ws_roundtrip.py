"""helm test: one message crosses two gateway replicas (client A on pod 1, client B on pod 2).

Runs inside the gateway image (websockets + httpx are there). Proves the whole message
path: API auth -> socket auth on both replicas -> message frame -> API commit -> Redis
fan-out -> event on the *other* replica. Exit code 0 = pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
import time
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

API = os.environ["TEST_API_URL"]  # e.g. http://rel-chat-api:8000/api
PODS_HOST = os.environ["TEST_GATEWAY_PODS"]  # headless Service: one A record per ready pod
WS_PORT = int(os.environ["TEST_GATEWAY_PORT"])
WS_PATH = os.environ.get("TEST_GATEWAY_PATH", "/ws")
DEADLINE = time.monotonic() + float(os.environ.get("TEST_TIMEOUT_SECONDS", "60"))


def remaining() -> float:
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise TimeoutError("helm test deadline passed")
    return left


async def two_pod_ips() -> list[str]:
    """Poll DNS until the headless Service lists at least two ready gateway pods."""
    while True:
        infos = socket.getaddrinfo(PODS_HOST, WS_PORT, proto=socket.IPPROTO_TCP)
        ips = sorted({str(info[4][0]) for info in infos})
        if len(ips) >= 2:
            return ips[:2]
        print(f"waiting for 2 gateway pods, have {ips}", flush=True)
        await asyncio.sleep(min(1.0, remaining()))


async def user_token(client: httpx.AsyncClient, name: str) -> str:
    password = secrets.token_urlsafe(16)
    r = await client.post("/register", json={"username": name, "password": password})
    r.raise_for_status()
    r = await client.post("/login", json={"username": name, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def expect(ws: ClientConnection, frame_type: str, **match: Any) -> dict[str, Any]:
    """Read frames until one of `frame_type` whose fields equal `match` arrives."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=remaining()))
        if frame.get("type") == "nack":
            raise RuntimeError(f"nack: {frame}")
        if frame.get("type") == frame_type and all(frame.get(k) == v for k, v in match.items()):
            return dict(frame)


async def open_socket(ip: str, token: str, room_id: Any) -> ClientConnection:
    ws = await connect(f"ws://{ip}:{WS_PORT}{WS_PATH}", open_timeout=remaining())
    await ws.send(json.dumps({"type": "auth", "token": token}))
    await expect(ws, "auth_ok")
    await ws.send(json.dumps({"type": "join", "room_id": room_id}))
    await expect(ws, "joined", room_id=room_id)
    return ws


async def main() -> None:
    ip_a, ip_b = await two_pod_ips()
    suffix = secrets.token_hex(4)
    async with httpx.AsyncClient(base_url=API, timeout=10.0) as client:
        token_a = await user_token(client, f"helmtest_a_{suffix}")
        token_b = await user_token(client, f"helmtest_b_{suffix}")
        r = await client.post(
            "/rooms",
            json={"name": f"helm-test-{suffix}", "kind": "public"},
            headers={"Authorization": f"Bearer {token_a}"},
        )
        r.raise_for_status()
        room_id = r.json()["id"]
        r = await client.post(
            f"/rooms/{room_id}/join", headers={"Authorization": f"Bearer {token_b}"}
        )
        r.raise_for_status()
    ws_a = await open_socket(ip_a, token_a, room_id)
    ws_b = await open_socket(ip_b, token_b, room_id)
    content = f"round trip {suffix}"
    await ws_a.send(
        json.dumps(
            {"type": "message", "room_id": room_id, "client_msg_id": suffix, "content": content}
        )
    )
    await expect(ws_a, "ack", client_msg_id=suffix)
    event = await expect(ws_b, "event", room_id=room_id)
    assert event["message"]["content"] == content, event
    await ws_a.close()
    await ws_b.close()
    print(f"ok: message from pod {ip_a} reached pod {ip_b}", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as exc:  # the pod log is the only report helm test shows
        print(f"FAIL: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
