"""Edit and delete: the sender's own message, each a new room event (the message's
`version` moves to it)."""

from __future__ import annotations

from datetime import UTC, datetime

from chat_contracts.events import EventType, MessageData, message_event
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox, commit
from chat_api.actions.streams import next_room_seq
from chat_api.errors import Conflict, Forbidden, NotFound
from chat_api.models import Message, User
from chat_api.publisher import Publisher
from chat_api.queries.messages import to_data
from chat_api.queries.rooms import require_member


async def _change(
    session: AsyncSession, publisher: Publisher, *, message_id: int, user: User, content: str | None
) -> MessageData:
    """content None deletes (soft: the row stays as a tombstone, its content emptied)."""
    user_id = user.id
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("message not found")
    # Outsiders learn nothing about the room's messages.
    await require_member(session, room_id=message.room_id, user_id=user_id)
    if message.sender_id != user_id:
        raise Forbidden("only the sender can change a message")
    version = await next_room_seq(session, message.room_id)
    # Re-read under the room's lock: a delete committed meanwhile wins over this edit.
    await session.refresh(message)
    if message.deleted:
        await session.rollback()
        raise Conflict("message was deleted")
    message.version = version
    message.edited_at = datetime.now(UTC)
    message.content = content if content is not None else ""
    message.deleted = content is None
    await session.flush()
    data = to_data(message)
    outbox = Outbox()
    kind = EventType.MESSAGE_DELETED if content is None else EventType.MESSAGE_UPDATED
    outbox.add(message_event(kind, data))
    await commit(session, outbox, publisher)
    return data


async def edit(
    session: AsyncSession, publisher: Publisher, *, message_id: int, user: User, content: str
) -> MessageData:
    return await _change(session, publisher, message_id=message_id, user=user, content=content)


async def delete(
    session: AsyncSession, publisher: Publisher, *, message_id: int, user: User
) -> MessageData:
    return await _change(session, publisher, message_id=message_id, user=user, content=None)
