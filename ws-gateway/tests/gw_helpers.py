"""Gateway-suite helpers beyond chat_testkit.client (the shared REST helpers and WebSocket
clients): the gateway's /metrics reader and a message frame."""

from __future__ import annotations

import uuid

import httpx
from chat_testkit.client import Frame


def metric(ops_url: str, sample: str) -> float:
    """One sample of the gateway's /metrics (`name` or `name{label="x"}`); 0 when absent."""
    for line in httpx.get(ops_url + "/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def message_frame(room: int, content: str) -> Frame:
    """A `message` frame with a fresh client_msg_id."""
    return {
        "type": "message",
        "room_id": room,
        "client_msg_id": uuid.uuid4().hex,
        "content": content,
    }
