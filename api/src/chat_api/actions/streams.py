"""Writing events: the next seq of a room's or a user's stream, taken under that row's
lock inside the change's transaction, so each stream is gap-free in commit order.

Lock order, everywhere: the room row first, then user rows in ascending id. Two actions
that touch overlapping rows then queue behind each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence

from chat_contracts.events import EventType, room_event, user_event
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox
from chat_api.errors import NotFound
from chat_api.models import Membership, Room, RoomEvent, User, UserEvent, utcnow


async def room_lock(session: AsyncSession, room_id: int) -> None:
    """The room's advisory lock (PostgreSQL; to the commit), taken before its row is written,
    as the batch store takes it (store_pg.py says why not the row lock alone). SQLite has
    one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(room_id)))


async def lock_rooms_of(session: AsyncSession, user_id: int) -> None:
    """The advisory locks of every room the user is in, in id order (as a batch takes its
    rooms'). Who is in those rooms read after this includes every join committed before,
    and a join still to come waits for this commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ordered = (
        select(Membership.room_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.room_id)
        .subquery()
    )
    # From an ordered subquery: the locks are taken in that order.
    await session.execute(select(func.pg_advisory_xact_lock(ordered.c.room_id)))


async def next_room_seq(session: AsyncSession, room_id: int) -> int:
    """Takes the room's lock (to the commit) and the next event seq of its stream."""
    await room_lock(session, room_id)
    seq = await session.scalar(
        update(Room)
        .where(Room.id == room_id)
        .values(last_event_seq=Room.last_event_seq + 1)
        .returning(Room.last_event_seq)
    )
    if seq is None:
        raise NotFound("room not found")
    return int(seq)


async def lock_room(session: AsyncSession, room_id: int) -> None:
    """Takes the room row's lock now (to the commit): what is read after it includes every
    change committed before this one in stream order (a member count)."""
    await room_lock(session, room_id)
    await session.execute(select(Room.id).where(Room.id == room_id).with_for_update(key_share=True))


async def add_room_event(
    session: AsyncSession, outbox: Outbox, room_id: int, kind: EventType, data: BaseModel
) -> int:
    """A room event that is not a message's own row (member.*, room.updated)."""
    seq = await next_room_seq(session, room_id)
    payload = data.model_dump(mode="json")
    session.add(
        RoomEvent(
            room_id=room_id, event_seq=seq, kind=kind.value, data=payload, created_at=utcnow()
        )
    )
    outbox.add(room_event(kind, room_id, seq, data))
    return seq


async def add_user_events(
    session: AsyncSession, outbox: Outbox, kind: EventType, items: Sequence[tuple[int, BaseModel]]
) -> None:
    """One event per (user id, data) on each user's stream; a user appears at most once."""
    ids = sorted({user_id for user_id, _ in items})
    if len(ids) != len(items):
        raise ValueError("one event per user per call")
    if not ids:
        return
    # Locked in id order first (an UPDATE ... IN locks in whatever order it scans). NO KEY
    # UPDATE, the lock the UPDATE takes: FOR UPDATE would also wait for the KEY SHARE locks
    # that inserting rows which reference a user hold (a membership, a room's creator), so
    # two transactions that each inserted one would wait for each other (deadlock).
    await session.execute(
        select(User.id).where(User.id.in_(ids)).order_by(User.id).with_for_update(key_share=True)
    )
    rows = await session.execute(
        update(User)
        .where(User.id.in_(ids))
        .values(last_event_seq=User.last_event_seq + 1)
        .returning(User.id, User.last_event_seq)
    )
    seqs: dict[int, int] = {row[0]: row[1] for row in rows}
    now = utcnow()
    for user_id, data in items:
        if user_id not in seqs:
            continue  # the user was deleted meanwhile: nobody to tell
        payload = data.model_dump(mode="json")
        seq = seqs[user_id]
        session.add(
            UserEvent(user_id=user_id, event_seq=seq, kind=kind.value, data=payload, created_at=now)
        )
        outbox.add(user_event(kind, user_id, seq, data))
