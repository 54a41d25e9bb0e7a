"""Read markers: forward only, capped at the room's newest message. A move is a read.moved
event on the user's stream, so their other devices show the same unread count."""

from __future__ import annotations

from chat_contracts.events import EventType, ReadData
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox, commit
from chat_api.actions.streams import add_user_events
from chat_api.models import Membership
from chat_api.publisher import Publisher
from chat_api.queries.rooms import read_state, require_member


async def mark_read(
    session: AsyncSession, publisher: Publisher, *, room_id: int, user_id: int, seq: int
) -> ReadData:
    room, _ = await require_member(session, room_id=room_id, user_id=user_id)
    target = min(seq, room.last_seq)
    # Only forward: a stale tab cannot move the marker back.
    moved = await session.execute(
        update(Membership)
        .where(
            Membership.room_id == room_id,
            Membership.user_id == user_id,
            Membership.last_read_seq < target,
        )
        .values(last_read_seq=target)
    )
    read = await read_state(session, room_id=room_id, user_id=user_id)
    outbox = Outbox()
    if getattr(moved, "rowcount", 0):
        await add_user_events(session, outbox, EventType.READ_MOVED, [(user_id, read)])
    await commit(session, outbox, publisher)
    return read
