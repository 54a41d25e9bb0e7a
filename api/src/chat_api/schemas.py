"""Request and response bodies. Wire limits come from chat_contracts.limits (shared with the
gateway and the browser); the rest live here so every route enforces them the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from chat_contracts.events import MessageData, ReadData, RoomData
from chat_contracts.limits import CLIENT_MSG_ID_MAX, CONTENT_MAX, ID_MAX, NAME_MAX, TOPIC_MAX
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

# PostgreSQL text cannot hold NUL, so stored strings refuse it (422, not a 500). The
# rules are patterns rather than validators so the OpenAPI schema states them too.
NO_NUL = r"^[^\x00]*$"
# ...and must have something visible, not only whitespace. The spaces are spelled out:
# `\s` means one set to JSON Schema (ECMA: U+FEFF, no U+0085), another to pydantic (Rust:
# U+0085, no U+FEFF), and neither holds U+001C..U+001F, which str.strip() removes, so a
# name of those alone was stored empty. This is every str.isspace() character and U+FEFF.
SPACES = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = rf"^[^\x00]*[^{SPACES}\x00][^\x00]*$"
MAX_ID = ID_MAX


def _fold(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


# Case-folded after the pattern is stated (schema order matters: the pattern must reach the
# OpenAPI schema), so "Alice" registers as "alice"; surrounding spaces are refused.
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,32}$"), BeforeValidator(_fold)]
Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX, pattern=NOT_BLANK), AfterValidator(str.strip)
]
RoomName = DisplayName
Content = Annotated[str, Field(min_length=1, max_length=CONTENT_MAX, pattern=NOT_BLANK)]
ClientMsgId = Annotated[
    str, Field(min_length=1, max_length=CLIENT_MSG_ID_MAX, pattern=r"^[\x21-\x7e]+$")
]
PositiveId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _not_bool(value: object) -> object:
    # JSON Schema's integer admits 3.0 but not `true`; pydantic's lax mode would take both.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


NotBool = BeforeValidator(_not_bool)
BodyId = Annotated[int, Field(ge=1, le=MAX_ID), NotBool]
Seq = Annotated[int, Field(ge=0, le=MAX_ID), NotBool]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(Strict):
    username: Username
    password: Password
    display_name: DisplayName | None = None


class LoginIn(Strict):
    # Looser than registration so a typo'd username gets the same 401 as a wrong password.
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshIn(Strict):
    refresh_token: Annotated[str, Field(max_length=2048)] | None = None


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
    current_password: Annotated[str, Field(max_length=128)] | None = None
    new_password: Password | None = None


class RoomCreateIn(Strict):
    name: RoomName
    kind: Literal["public", "private"]


# A room as its member sees it: the same shape as a room.added event's data.
RoomOut = RoomData
# A read marker after a move: the same shape as a read.moved event's data.
ReadOut = ReadData
Topic = Annotated[str, Field(max_length=TOPIC_MAX, pattern=NO_NUL), AfterValidator(str.strip)]


class RoomUpdateIn(Strict):
    """Rename and/or set the topic (an empty topic clears it)."""

    name: RoomName | None = None
    topic: Topic | None = None


class InviteIn(Strict):
    user_id: BodyId


class DmIn(Strict):
    user_id: BodyId


class ReadIn(Strict):
    seq: Seq


class MessageIn(Strict):
    room_id: BodyId
    content: Content
    client_msg_id: ClientMsgId


class MessageEditIn(Strict):
    content: Content


class MessagePage(BaseModel):
    messages: list[MessageData]
    has_more: bool


class Health(BaseModel):
    status: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]]
