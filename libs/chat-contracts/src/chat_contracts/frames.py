"""Socket frames in both directions, their error and close codes: the gateway's wire.

Every client frame is a JSON object with a `type`; any frame may carry `ref`, which the
gateway echoes in its replies so clients can match them. Server frames are built only by
the functions of server_frames.py, so each shape is written once; the browser's
protocol.js is generated from both (jsgen.py) with a test that fails when they drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chat_contracts.limits import (
    CLIENT_MSG_ID_MAX,
    CONTENT_MAX,
    ID_MAX,
    RESUME_ROOMS_MAX,
    TOKEN_MAX,
)

# The wire version this gateway speaks, sent in `auth_ok`. 2: room events carry `event_seq`,
# `resume`/`fetch` count in event seqs, and the user stream (`user_event`). Every client is
# served 2; a version-1 client's message-seq cursors are never above the room's event seq,
# so its resume replays a superset and loses nothing (docs/contract.md).
PROTOCOL_VERSION: Final = 2

Ref = Annotated[str | int | None, Field(default=None)]
RoomId = Annotated[int, Field(gt=0, le=ID_MAX)]
Seq = Annotated[int, Field(ge=0, le=ID_MAX)]


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    BINARY_FRAME = "binary_frame"
    RATE_LIMITED = "rate_limited"
    NOT_JOINED = "not_joined"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    API_ERROR = "api_error"
    UNAVAILABLE = "unavailable"
    AUTH_FAILED = "auth_failed"


class CloseCode:
    """The close codes of docs/contract.md."""

    GOING_AWAY = 1001
    POLICY = 1008
    TOO_BIG = 1009
    INTERNAL = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013


class ServerFrame(StrEnum):
    AUTH_OK = "auth_ok"
    REAUTH_REQUIRED = "reauth_required"
    JOINED = "joined"
    LEFT = "left"
    RESUMED = "resumed"
    RESET = "reset"
    FETCHED = "fetched"
    EVENT = "event"
    USER_EVENT = "user_event"
    USER_RESUMED = "user_resumed"
    ACK = "ack"
    NACK = "nack"
    PRESENCE = "presence"
    TYPING = "typing"
    ERROR = "error"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ref: Ref


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=TOKEN_MAX)
    # The highest wire version the client speaks (informational; see PROTOCOL_VERSION).
    protocol: int | None = Field(default=None, ge=1, le=1000, strict=True)


class JoinFrame(_Frame):
    type: Literal["join"]
    room_id: RoomId


class LeaveFrame(_Frame):
    type: Literal["leave"]
    room_id: RoomId


class MessageFrame(_Frame):
    type: Literal["message"]
    room_id: RoomId
    client_msg_id: str = Field(min_length=1, max_length=CLIENT_MSG_ID_MAX)
    content: str = Field(min_length=1, max_length=CONTENT_MAX)


class EditFrame(_Frame):
    type: Literal["edit"]
    message_id: int = Field(gt=0, le=ID_MAX)
    content: str = Field(min_length=1, max_length=CONTENT_MAX)


class DeleteFrame(_Frame):
    type: Literal["delete"]
    message_id: int = Field(gt=0, le=ID_MAX)


class TypingFrame(_Frame):
    type: Literal["typing"]
    room_id: RoomId


class PresenceFrame(_Frame):
    type: Literal["presence"]
    room_id: RoomId


class ResumeFrame(_Frame):
    """Room id -> the last room event seq the client holds; `user_seq` its user stream's."""

    type: Literal["resume"]
    # JSON object keys are strings; pydantic turns "12" into 12.
    rooms: dict[RoomId, Seq] = Field(default_factory=dict, max_length=RESUME_ROOMS_MAX)
    user_seq: Seq | None = None


class FetchFrame(_Frame):
    """Gap fill: the room's events after `after_event_seq` (the client saw a jump)."""

    type: Literal["fetch"]
    room_id: RoomId
    after_event_seq: Seq


_CLIENT_FRAMES = (
    AuthFrame,
    JoinFrame,
    LeaveFrame,
    MessageFrame,
    EditFrame,
    DeleteFrame,
    TypingFrame,
    PresenceFrame,
    ResumeFrame,
    FetchFrame,
)
ClientFrame = Annotated[
    AuthFrame
    | JoinFrame
    | LeaveFrame
    | MessageFrame
    | EditFrame
    | DeleteFrame
    | TypingFrame
    | PresenceFrame
    | ResumeFrame
    | FetchFrame,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_FRAME_TYPES: Final = tuple(
    frame.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for frame in _CLIENT_FRAMES
)


class ProtocolError(Exception):
    """A frame the gateway refuses; `code` goes into the error frame."""

    def __init__(self, code: ErrorCode, message: str, ref: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def parse_frame(raw: str | bytes) -> ClientFrame:
    """Decode one client frame or raise ProtocolError (never a bare ValueError)."""
    if isinstance(raw, bytes):
        raise ProtocolError(
            ErrorCode.BINARY_FRAME, "binary frames are not supported; send JSON text"
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    ref = data.get("ref")
    if not isinstance(ref, str | int) or isinstance(ref, bool):
        ref = None
    frame_type = data.get("type")
    if frame_type not in CLIENT_FRAME_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {frame_type!r:.40}", ref)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
        raise ProtocolError(ErrorCode.BAD_FRAME, f"{where}: {first['msg']}", ref) from None


def encode(frame: dict[str, Any]) -> bytes:
    """Server frames are encoded once (orjson, UTF-8) and sent as text frames."""
    return orjson.dumps(frame)


def with_ref(frame: dict[str, Any], ref: str | int | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame
