"""Messages as the wire sees them, and history pages by timeline position (seq)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chat_contracts.events import MessageData
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.models import Message
from chat_api.queries.rooms import require_member


class MessageRow(Protocol):
    """A stored message as an ORM object or a Core result row (same column names)."""

    @property
    def id(self) -> int: ...
    @property
    def room_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def sender_id(self) -> int: ...
    @property
    def content(self) -> str: ...
    @property
    def client_msg_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def deleted(self) -> bool: ...


def to_data(message: MessageRow) -> MessageData:
    return MessageData(
        id=message.id,
        room_id=message.room_id,
        seq=message.seq,
        version=message.version,
        sender_id=message.sender_id,
        content="" if message.deleted else message.content,
        client_msg_id=message.client_msg_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted,
    )


async def page(
    session: AsyncSession,
    *,
    user_id: int,
    room_id: int,
    before: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[MessageData], bool]:
    await require_member(session, room_id=room_id, user_id=user_id)
    query = select(Message).where(Message.room_id == room_id)
    if after is not None:
        query = query.where(Message.seq > after)
        if before is not None:
            query = query.where(Message.seq < before)
        rows = list(await session.scalars(query.order_by(Message.seq.asc()).limit(limit + 1)))
        has_more = len(rows) > limit
        return [to_data(m) for m in rows[:limit]], has_more
    if before is not None:
        query = query.where(Message.seq < before)
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    return [to_data(m) for m in reversed(rows[:limit])], has_more
