"""Replays of the event streams: what changed after a cursor, in event seq order.

A room's stream is two tables: each message row is its own latest event (`version`), and
room_events holds the rest. Merged by event seq, a page hands out each changed message
once in its current state; an older version of it was superseded, so the seq it had is
simply skipped. `head` is read first and nothing above it is handed out: each query runs
in its own snapshot, and an event committed after the head was read could otherwise come
without an earlier one committed just before it. Those arrive live (or in the next page),
so a page with `has_more` false brings the client exactly to the state as of `head`.
"""

from __future__ import annotations

from chat_contracts.events import EventPage, EventType, StreamEvent
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.models import Message, Room, RoomEvent, User, UserEvent
from chat_api.queries.messages import to_data
from chat_api.queries.rooms import require_member


def _message_kind(message: Message) -> EventType:
    if message.deleted:
        return EventType.MESSAGE_DELETED
    return EventType.MESSAGE_UPDATED if message.edited_at is not None else EventType.MESSAGE_CREATED


async def room_events(
    session: AsyncSession, *, user_id: int, room_id: int, after: int, limit: int
) -> EventPage:
    await require_member(session, room_id=room_id, user_id=user_id)
    head = int(await session.scalar(select(Room.last_event_seq).where(Room.id == room_id)) or 0)
    messages = await session.scalars(
        select(Message)
        .where(Message.room_id == room_id, Message.version > after, Message.version <= head)
        .order_by(Message.version)
        .limit(limit + 1)
    )
    others = await session.scalars(
        select(RoomEvent)
        .where(
            RoomEvent.room_id == room_id, RoomEvent.event_seq > after, RoomEvent.event_seq <= head
        )
        .order_by(RoomEvent.event_seq)
        .limit(limit + 1)
    )
    events = [
        StreamEvent(
            event=_message_kind(m),
            event_seq=m.version,
            room_id=room_id,
            seq=m.seq,
            message=to_data(m),
        )
        for m in messages
    ]
    events += [
        StreamEvent(event=EventType(e.kind), event_seq=e.event_seq, room_id=room_id, data=e.data)
        for e in others
    ]
    events.sort(key=lambda e: e.event_seq)
    return EventPage(events=events[:limit], head=head, has_more=len(events) > limit)


async def user_events(session: AsyncSession, *, user_id: int, after: int, limit: int) -> EventPage:
    head = int(await session.scalar(select(User.last_event_seq).where(User.id == user_id)) or 0)
    rows = await session.scalars(
        select(UserEvent)
        .where(
            UserEvent.user_id == user_id, UserEvent.event_seq > after, UserEvent.event_seq <= head
        )
        .order_by(UserEvent.event_seq)
        .limit(limit + 1)
    )
    events = [
        StreamEvent(event=EventType(e.kind), event_seq=e.event_seq, data=e.data) for e in rows
    ]
    return EventPage(events=events[:limit], head=head, has_more=len(events) > limit)
