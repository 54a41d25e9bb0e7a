"""The envelope every event travels in, on Redis and (as `event` frames) to sockets."""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_VERSION: Literal[1] = 1
# Without Redis, gateways follow the API's events here (internal port, NDJSON; chat_api/hub.py).
EVENTS_STREAM_PATH = "/events/stream"


class EventType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    MESSAGE_DELETED = "message.deleted"
    USER_REVOKED = "user.revoked"
    PROBE = "probe"


class MessageData(BaseModel):
    """A stored message as the wire sees it. `seq` is strictly increasing per room."""

    model_config = ConfigDict(frozen=True)

    id: int
    room_id: int
    seq: int
    sender_id: int
    content: str
    client_msg_id: str | None = None
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False


class RevocationData(BaseModel):
    """Close the user's sockets; `session_id` None means every session of the user."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    session_id: str | None = None
    reason: Literal["logout", "password_changed", "banned"] = "logout"


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: Literal[1] = ENVELOPE_VERSION
    type: EventType
    room_id: int | None = None
    seq: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=time.time)


def message_event(event_type: EventType, message: MessageData) -> Envelope:
    return Envelope(
        type=event_type,
        room_id=message.room_id,
        seq=message.seq,
        data=message.model_dump(mode="json"),
    )


def revocation_event(data: RevocationData) -> Envelope:
    return Envelope(type=EventType.USER_REVOKED, data=data.model_dump(mode="json"))


def encode_envelope(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def decode_envelope(raw: bytes | str) -> Envelope:
    """Raises pydantic.ValidationError or orjson.JSONDecodeError (a ValueError) on bad input."""
    return Envelope.model_validate(orjson.loads(raw))
