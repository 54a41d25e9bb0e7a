"""The envelope every event travels in, on Redis and (as `event` / `user_event` frames) to
sockets, and the payload of each event kind.

Two kinds of stream, each with its own strictly increasing, gap-free `event_seq`:
- a **room stream** (`room_id` set): every change to a room, written in the change's
  transaction. A message's `version` is the event seq of its last change, so a replay can
  hand out each changed message once, in its current state (older versions are compacted).
- a **user stream** (`user_id` set): changes that concern one user, for all their sockets.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

# 2: event_seq and the user stream. Publisher and gateways are deployed together.
ENVELOPE_VERSION: Final = 2
# Without Redis, gateways follow the API's events here (internal port, NDJSON; chat_api/hub.py).
EVENTS_STREAM_PATH = "/events/stream"


class EventType(StrEnum):
    # room stream
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    MESSAGE_DELETED = "message.deleted"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_INVITED = "member.invited"
    MEMBER_REMOVED = "member.removed"
    ROOM_UPDATED = "room.updated"
    # user stream
    ROOM_ADDED = "room.added"
    ROOM_REMOVED = "room.removed"
    USER_UPDATED = "user.updated"
    READ_MOVED = "read.moved"
    SESSION_REVOKED = "session.revoked"
    # a gateway's own canary, never stored
    PROBE = "probe"


MESSAGE_EVENTS: Final = frozenset(
    (EventType.MESSAGE_CREATED, EventType.MESSAGE_UPDATED, EventType.MESSAGE_DELETED)
)
MEMBER_EVENTS: Final = frozenset(
    (
        EventType.MEMBER_JOINED,
        EventType.MEMBER_LEFT,
        EventType.MEMBER_INVITED,
        EventType.MEMBER_REMOVED,
    )
)
# After these the user named in the data is no longer a member.
MEMBER_GONE: Final = frozenset((EventType.MEMBER_LEFT, EventType.MEMBER_REMOVED))
ROOM_EVENTS: Final = MESSAGE_EVENTS | MEMBER_EVENTS | {EventType.ROOM_UPDATED}
USER_EVENTS: Final = frozenset(
    (
        EventType.ROOM_ADDED,
        EventType.ROOM_REMOVED,
        EventType.USER_UPDATED,
        EventType.READ_MOVED,
        EventType.SESSION_REVOKED,
    )
)


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class MessageData(_Data):
    """A stored message as the wire sees it. `seq` is its timeline position (strictly
    increasing per room, message creations only); `version` is the room event seq of its
    last change (creation, edit, delete, and later reactions or thread counts), so a client
    keeps whichever copy has the higher version."""

    id: int
    room_id: int
    seq: int
    version: int
    sender_id: int
    content: str
    client_msg_id: str | None = None
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False


class UserData(_Data):
    """A user's public profile (`user.updated`; the member events' subject)."""

    id: int
    username: str
    display_name: str


class MemberData(_Data):
    """member.*: `user` is the member concerned; `actor_id` who did it (the inviter or the
    remover; the member themself for joined/left). `member_count` is the count after it."""

    user: UserData
    actor_id: int
    member_count: int


class RoomData(_Data):
    """A room as one member sees it: room.added on their stream, and the REST room views."""

    id: int
    name: str
    kind: Literal["public", "private", "dm"]
    topic: str = ""
    created_by: int | None = None
    created_at: datetime
    last_seq: int
    event_seq: int
    member_count: int
    last_read_seq: int = 0
    unread: int = 0


class RoomUpdatedData(_Data):
    """room.updated: the new name and topic, and who changed them."""

    id: int
    name: str
    topic: str
    actor_id: int


class RoomRefData(_Data):
    """room.removed: the user is no longer a member (left on another device, or removed)."""

    room_id: int
    reason: Literal["left", "removed"]


class ReadData(_Data):
    """read.moved: the user's marker in a room moved (PUT read, from any of their devices);
    `unread` is the server's count after the move, taken at the room's head `last_seq` /
    `event_seq` (one snapshot). A client adds what it holds above that head: without the
    head it cannot tell a message the count included from one committed just after it.
    A send moves the sender's own marker without this event: their other devices see the
    message itself."""

    room_id: int
    last_read_seq: int
    unread: int
    last_seq: int
    event_seq: int


class RevocationData(_Data):
    """session.revoked: close the user's sockets; `session_id` None means every session."""

    user_id: int
    session_id: str | None = None
    reason: Literal["logout", "password_changed", "refresh_reused", "banned"] = "logout"


class Envelope(BaseModel):
    """Exactly one of `room_id` / `user_id` names the stream (none for a probe); `event_seq`
    is the position in that stream, `seq` the message's timeline position (message events)."""

    model_config = ConfigDict(frozen=True)

    v: Literal[2] = ENVELOPE_VERSION
    type: EventType
    room_id: int | None = None
    user_id: int | None = None
    event_seq: int | None = None
    seq: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=time.time)


def message_event(event_type: EventType, message: MessageData) -> Envelope:
    return Envelope(
        type=event_type,
        room_id=message.room_id,
        event_seq=message.version,
        seq=message.seq,
        data=message.model_dump(mode="json"),
    )


def room_event(event_type: EventType, room_id: int, event_seq: int, data: BaseModel) -> Envelope:
    return Envelope(
        type=event_type, room_id=room_id, event_seq=event_seq, data=data.model_dump(mode="json")
    )


def user_event(event_type: EventType, user_id: int, event_seq: int, data: BaseModel) -> Envelope:
    return Envelope(
        type=event_type, user_id=user_id, event_seq=event_seq, data=data.model_dump(mode="json")
    )


def encode_envelope(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def decode_envelope(raw: bytes | str) -> Envelope:
    """Raises pydantic.ValidationError or orjson.JSONDecodeError (a ValueError) on bad input."""
    return Envelope.model_validate(orjson.loads(raw))


class StreamEvent(BaseModel):
    """One event as replayed over REST (`GET /rooms/{id}/events`, `GET /users/me/events`),
    in the same shape as the socket's `event` / `user_event` frames minus `type`."""

    event: EventType
    event_seq: int
    room_id: int | None = None
    seq: int | None = None
    message: MessageData | None = None
    data: dict[str, Any] | None = None


class EventPage(BaseModel):
    """Events after the cursor in seq order; `head` is the stream's last event seq when the
    page was read: with `has_more` false the client then holds the state as of `head`."""

    events: list[StreamEvent]
    head: int
    has_more: bool
