"""Client frames: parsing and validation, error codes, server frame encoding.

Every client frame is a JSON object with a `type`; any frame may carry `ref`, which
the gateway echoes in its replies so clients can match them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Ref = Annotated[str | int | None, Field(default=None)]
RoomId = Annotated[int, Field(gt=0)]


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


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ref: Ref


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=8192)


class JoinFrame(_Frame):
    type: Literal["join"]
    room_id: RoomId


class LeaveFrame(_Frame):
    type: Literal["leave"]
    room_id: RoomId


class MessageFrame(_Frame):
    type: Literal["message"]
    room_id: RoomId
    client_msg_id: str = Field(min_length=1, max_length=64)
    content: str = Field(min_length=1, max_length=4000)


class EditFrame(_Frame):
    type: Literal["edit"]
    message_id: int = Field(gt=0)
    content: str = Field(min_length=1, max_length=4000)


class DeleteFrame(_Frame):
    type: Literal["delete"]
    message_id: int = Field(gt=0)


class TypingFrame(_Frame):
    type: Literal["typing"]
    room_id: RoomId


class PresenceFrame(_Frame):
    type: Literal["presence"]
    room_id: RoomId


class ResumeFrame(_Frame):
    type: Literal["resume"]
    # JSON object keys are strings; pydantic turns "12" into 12.
    rooms: dict[RoomId, Annotated[int, Field(ge=0)]] = Field(max_length=500)


class FetchFrame(_Frame):
    type: Literal["fetch"]
    room_id: RoomId
    after_seq: int = Field(ge=0)
    before_seq: int | None = Field(default=None, gt=0)


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
FRAME_TYPES = frozenset(
    ("auth", "join", "leave", "message", "edit", "delete", "typing", "presence", "resume", "fetch")
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
    if frame_type not in FRAME_TYPES:
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


def error_frame(code: ErrorCode, message: str, ref: str | int | None = None) -> dict[str, Any]:
    return with_ref({"type": "error", "code": code.value, "message": message}, ref)
