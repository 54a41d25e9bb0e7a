"""Request and response bodies. Limits live here so every route enforces them the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from chat_contracts.events import MessageData
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps it a 422, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NoNul = AfterValidator(_no_nul)


def _fold(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# Folded before the pattern check, so "Alice" registers as "alice".
Username = Annotated[str, BeforeValidator(_fold), StringConstraints(pattern=r"^[a-z0-9_.-]{3,32}$")]
Password = Annotated[str, Field(min_length=8, max_length=128), NoNul]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
RoomName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
Content = Annotated[str, Field(min_length=1, max_length=4000), NoNul, AfterValidator(_not_blank)]
ClientMsgId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
PositiveId = Annotated[int, Field(ge=1, le=2**62)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(Strict):
    username: Username
    password: Password
    display_name: DisplayName | None = None


class LoginIn(Strict):
    # Looser than registration so a typo'd username gets the same 401 as a wrong password.
    username: Annotated[str, Field(min_length=1, max_length=64), NoNul]
    password: Annotated[str, Field(min_length=1, max_length=128), NoNul]


class RefreshIn(Strict):
    refresh_token: Annotated[str, Field(max_length=2048), NoNul] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    user: UserOut


class UserUpdateIn(Strict):
    display_name: DisplayName | None = None
    current_password: Annotated[str, Field(max_length=128), NoNul] | None = None
    new_password: Password | None = None


class RoomCreateIn(Strict):
    name: RoomName
    kind: Literal["public", "private"]


class RoomOut(BaseModel):
    id: int
    name: str
    kind: Literal["public", "private", "dm"]
    created_at: datetime
    last_seq: int
    last_read_seq: int = 0
    unread: int = 0
    member_count: int = 0


class InviteIn(Strict):
    user_id: PositiveId


class DmIn(Strict):
    user_id: PositiveId


class ReadIn(Strict):
    seq: Annotated[int, Field(ge=0, le=2**62)]


class MessageIn(Strict):
    room_id: PositiveId
    content: Content
    client_msg_id: ClientMsgId


class MessageEditIn(Strict):
    content: Content


class MessagePage(BaseModel):
    messages: list[MessageData]
    has_more: bool


class ValidateTokenIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=4096), NoNul]


class ValidateTokenOut(BaseModel):
    valid: bool
    user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    exp: int | None = None
    sid: str | None = None
    jti: str | None = None
    reason: str | None = None


class Health(BaseModel):
    status: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]]
