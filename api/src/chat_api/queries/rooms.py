"""Rooms as a user sees them, and the two rules every path shares: who may see a room
(visibility) and what counts as unread."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.errors import DomainError, Forbidden, NotFound
from chat_api.models import Membership, Message, Room, User
from chat_api.schemas import ReadOut, RoomOut

NO_ROOM = "room not found"
NOT_MEMBER = "not a member of this room"


def visibility_error(kind: str | None, member: bool) -> DomainError | None:
    """Private rooms and DMs stay invisible to outsiders (404); public ones say 403."""
    if kind is None:
        return NotFound(NO_ROOM)
    if member:
        return None
    return Forbidden(NOT_MEMBER) if kind == "public" else NotFound(NO_ROOM)


def unread_count(user_id: int) -> Any:
    """The unread rule: others' live messages after the user's marker (correlated to the
    Room and Membership of the enclosing query)."""
    return (
        select(func.count())
        .select_from(Message)
        .where(
            Message.room_id == Room.id,
            Message.seq > Membership.last_read_seq,
            Message.sender_id != user_id,
            Message.deleted.is_(False),
        )
        .correlate(Room, Membership)
        .scalar_subquery()
    )


def member_count() -> Any:
    return (
        select(func.count())
        .select_from(Membership)
        .where(Membership.room_id == Room.id)
        .correlate(Room)
        .scalar_subquery()
    )


def room_out(room: Room, *, last_read: int = 0, unread: int = 0, members: int = 0) -> RoomOut:
    return RoomOut(
        id=room.id,
        name=room.name,
        kind=room.kind,
        topic=room.topic,
        created_by=room.created_by,
        created_at=room.created_at,
        last_seq=room.last_seq,
        event_seq=room.last_event_seq,
        last_read_seq=last_read,
        unread=unread,
        member_count=members,
    )


async def require_member(
    session: AsyncSession, *, room_id: int, user_id: int
) -> tuple[Room, Membership]:
    room = await session.get(Room, room_id)
    member = await session.get(Membership, (room_id, user_id)) if room is not None else None
    error = visibility_error(room.kind if room else None, member is not None)
    if error is not None:
        raise error
    assert room is not None and member is not None
    return room, member


async def list_for_user(
    session: AsyncSession, *, user_id: int, room_id: int | None = None
) -> list[RoomOut]:
    query = (
        select(Room, Membership.last_read_seq, unread_count(user_id), member_count())
        .join(Membership, and_(Membership.room_id == Room.id, Membership.user_id == user_id))
        .order_by(Room.id)
    )
    if room_id is not None:
        query = query.where(Room.id == room_id)
    rows = (await session.execute(query)).all()
    return [room_out(r, last_read=lr, unread=u, members=m) for r, lr, u, m in rows]


async def room_view(session: AsyncSession, *, room_id: int, user_id: int) -> RoomOut:
    rows = await list_for_user(session, user_id=user_id, room_id=room_id)
    if not rows:
        await require_member(session, room_id=room_id, user_id=user_id)
        raise NotFound(NO_ROOM)
    return rows[0]


async def read_state(session: AsyncSession, *, room_id: int, user_id: int) -> ReadOut:
    """The member's marker and unread count with the room head they were taken at, in one
    statement (one snapshot). Columns, not the Room entity: an entity already in the
    session keeps the values it was loaded with, older than the count."""
    row = (
        await session.execute(
            select(
                Membership.last_read_seq, unread_count(user_id), Room.last_seq, Room.last_event_seq
            )
            .select_from(Membership)
            .join(Room, Room.id == Membership.room_id)
            .where(Membership.room_id == room_id, Membership.user_id == user_id)
        )
    ).one()
    read, unread, last_seq, event_seq = row
    return ReadOut(
        room_id=room_id, last_read_seq=read, unread=unread, last_seq=last_seq, event_seq=event_seq
    )


async def list_public(session: AsyncSession, *, limit: int = 200) -> list[RoomOut]:
    rows = (
        await session.execute(
            select(Room, member_count()).where(Room.kind == "public").order_by(Room.id).limit(limit)
        )
    ).all()
    return [room_out(r, members=m) for r, m in rows]


async def count_members(session: AsyncSession, room_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.room_id == room_id)
    )
    return int(count or 0)


async def member_ids(session: AsyncSession, room_id: int) -> list[int]:
    rows = await session.scalars(select(Membership.user_id).where(Membership.room_id == room_id))
    return list(rows)


async def members(session: AsyncSession, *, room_id: int, user_id: int) -> list[User]:
    await require_member(session, room_id=room_id, user_id=user_id)
    rows = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.room_id == room_id)
        .order_by(User.username)
        .limit(1000)
    )
    return list(rows)


async def co_member_ids(session: AsyncSession, user_id: int) -> list[int]:
    """Everyone who shares a room with the user (the user excluded)."""
    mine = select(Membership.room_id).where(Membership.user_id == user_id)
    rows = await session.scalars(
        select(Membership.user_id)
        .where(Membership.room_id.in_(mine), Membership.user_id != user_id)
        .distinct()
    )
    return list(rows)
