from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from chat_contracts.events import MessageData
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.crud.rooms import require_member
from chat_api.errors import Conflict, Forbidden, NotFound
from chat_api.models import Membership, Message, Room, User


class MessageRow(Protocol):
    """A stored message as an ORM object or a Core result row (same column names)."""

    @property
    def id(self) -> int: ...
    @property
    def room_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
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
        sender_id=message.sender_id,
        content="" if message.deleted else message.content,
        client_msg_id=message.client_msg_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted,
    )


async def _by_client_id(
    session: AsyncSession, *, sender_id: int, client_msg_id: str
) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.sender_id == sender_id, Message.client_msg_id == client_msg_id
        )
    )


def _same_request(existing: Message, room_id: int) -> Message:
    if existing.room_id != room_id:
        raise Conflict("client_msg_id already used for another room")
    return existing


async def create(
    session: AsyncSession, *, sender_id: int, room_id: int, content: str, client_msg_id: str
) -> tuple[MessageData, bool]:
    """Returns (message, created). A repeated client_msg_id returns the stored original."""
    await require_member(session, room_id=room_id, user_id=sender_id)
    existing = await _by_client_id(session, sender_id=sender_id, client_msg_id=client_msg_id)
    if existing is not None:
        return to_data(_same_request(existing, room_id)), False
    try:
        message = await _insert(
            session,
            sender_id=sender_id,
            room_id=room_id,
            content=content,
            client_msg_id=client_msg_id,
        )
    except IntegrityError:
        # A concurrent retry with the same client_msg_id committed first; our seq
        # increment rolled back with us, so no gap is left behind.
        await session.rollback()
        existing = await _by_client_id(session, sender_id=sender_id, client_msg_id=client_msg_id)
        if existing is None:
            raise
        return to_data(_same_request(existing, room_id)), False
    return to_data(message), True


async def _insert(
    session: AsyncSession, *, sender_id: int, room_id: int, content: str, client_msg_id: str
) -> Message:
    # The UPDATE takes the room row's lock: concurrent senders queue here, so seq
    # values are handed out in commit order with no gaps and no duplicates.
    seq = await session.scalar(
        update(Room)
        .where(Room.id == room_id)
        .values(last_seq=Room.last_seq + 1)
        .returning(Room.last_seq)
    )
    if seq is None:
        raise NotFound("room not found")
    message = Message(
        room_id=room_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=client_msg_id,
        content=content,
        created_at=datetime.now(UTC),
    )
    session.add(message)
    await session.flush()
    # The sender has obviously read up to their own message.
    await session.execute(
        update(Membership)
        .where(
            Membership.room_id == room_id,
            Membership.user_id == sender_id,
            Membership.last_read_seq < seq,
        )
        .values(last_read_seq=seq)
    )
    await session.commit()
    return message


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


async def _own_message(session: AsyncSession, *, message_id: int, user: User) -> Message:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("message not found")
    # Outsiders learn nothing about the room's messages.
    await require_member(session, room_id=message.room_id, user_id=user.id)
    if message.sender_id != user.id:
        raise Forbidden("only the sender can change a message")
    if message.deleted:
        raise Conflict("message was deleted")
    return message


async def edit(session: AsyncSession, *, message_id: int, user: User, content: str) -> MessageData:
    message = await _own_message(session, message_id=message_id, user=user)
    message.content = content
    message.edited_at = datetime.now(UTC)
    await session.commit()
    return to_data(message)


async def soft_delete(session: AsyncSession, *, message_id: int, user: User) -> MessageData:
    message = await _own_message(session, message_id=message_id, user=user)
    message.deleted = True
    message.content = ""
    message.edited_at = datetime.now(UTC)
    await session.commit()
    return to_data(message)
