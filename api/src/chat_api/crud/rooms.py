from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.errors import Forbidden, NotFound
from chat_api.models import Membership, Message, Room, User
from chat_api.schemas import RoomOut


def _member_count() -> Any:
    return (
        select(func.count())
        .select_from(Membership)
        .where(Membership.room_id == Room.id)
        .correlate(Room)
        .scalar_subquery()
    )


def _room_out(room: Room, *, last_read: int = 0, unread: int = 0, members: int = 0) -> RoomOut:
    return RoomOut(
        id=room.id,
        name=room.name,
        kind=room.kind,
        created_at=room.created_at,
        last_seq=room.last_seq,
        last_read_seq=last_read,
        unread=unread,
        member_count=members,
    )


async def create_room(session: AsyncSession, *, creator: User, name: str, kind: str) -> RoomOut:
    room = Room(name=name, kind=kind, created_by=creator.id, last_seq=0)
    session.add(room)
    await session.flush()
    session.add(Membership(room_id=room.id, user_id=creator.id, last_read_seq=0))
    await session.commit()
    return _room_out(room, members=1)


async def membership(session: AsyncSession, *, room_id: int, user_id: int) -> Membership | None:
    return await session.get(Membership, (room_id, user_id))


async def require_member(
    session: AsyncSession, *, room_id: int, user_id: int
) -> tuple[Room, Membership]:
    """Private rooms and DMs stay invisible to outsiders (404); public ones say 403."""
    room = await session.get(Room, room_id)
    if room is None:
        raise NotFound("room not found")
    member = await membership(session, room_id=room_id, user_id=user_id)
    if member is None:
        if room.kind == "public":
            raise Forbidden("not a member of this room")
        raise NotFound("room not found")
    return room, member


async def room_view(session: AsyncSession, *, room_id: int, user_id: int) -> RoomOut:
    rows = await list_for_user(session, user_id=user_id, room_id=room_id)
    if not rows:
        await require_member(session, room_id=room_id, user_id=user_id)
        raise NotFound("room not found")
    return rows[0]


async def list_for_user(
    session: AsyncSession, *, user_id: int, room_id: int | None = None
) -> list[RoomOut]:
    unread = (
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
    query = (
        select(Room, Membership.last_read_seq, unread, _member_count())
        .join(Membership, and_(Membership.room_id == Room.id, Membership.user_id == user_id))
        .order_by(Room.id)
    )
    if room_id is not None:
        query = query.where(Room.id == room_id)
    rows = (await session.execute(query)).all()
    return [_room_out(r, last_read=lr, unread=u, members=m) for r, lr, u, m in rows]


async def list_public(session: AsyncSession, *, limit: int = 200) -> list[RoomOut]:
    rows = (
        await session.execute(
            select(Room, _member_count())
            .where(Room.kind == "public")
            .order_by(Room.id)
            .limit(limit)
        )
    ).all()
    return [_room_out(r, members=m) for r, m in rows]


async def join_public(session: AsyncSession, *, room_id: int, user: User) -> RoomOut:
    user_id = user.id  # read now: a rollback in _add_member expires the ORM object
    room = await session.get(Room, room_id)
    if room is None:
        raise NotFound("room not found")
    if await membership(session, room_id=room_id, user_id=user_id) is None:
        if room.kind != "public":
            raise NotFound("room not found")  # private rooms and DMs are invite-only
        await _add_member(session, room=room, user_id=user_id)
    return await room_view(session, room_id=room_id, user_id=user_id)


async def _add_member(session: AsyncSession, *, room: Room, user_id: int) -> None:
    if await membership(session, room_id=room.id, user_id=user_id) is not None:
        return
    # New members start "read up to now": history is there, but not counted as unread.
    session.add(Membership(room_id=room.id, user_id=user_id, last_read_seq=room.last_seq))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # a concurrent join won; the end state is the same


async def leave(session: AsyncSession, *, room_id: int, user: User) -> None:
    room, _ = await require_member(session, room_id=room_id, user_id=user.id)
    if room.kind == "dm":
        raise Forbidden("cannot leave a direct message")
    await session.execute(
        delete(Membership).where(Membership.room_id == room_id, Membership.user_id == user.id)
    )
    await session.commit()


async def invite(session: AsyncSession, *, room_id: int, inviter: User, user_id: int) -> None:
    room, _ = await require_member(session, room_id=room_id, user_id=inviter.id)
    if room.kind == "dm":
        raise Forbidden("cannot invite into a direct message")
    if room.kind == "public":
        # Joining a public room is each user's own choice (POST /rooms/{id}/join).
        raise Forbidden("cannot invite into a public room; users join it themselves")
    if await session.get(User, user_id) is None:
        raise NotFound("user not found")
    await _add_member(session, room=room, user_id=user_id)


async def get_or_create_dm(
    session: AsyncSession, *, user: User, other_id: int
) -> tuple[RoomOut, bool]:
    user_id, username = user.id, user.username  # a rollback below expires the ORM object
    if other_id == user_id:
        raise Forbidden("cannot open a direct message with yourself")
    other = await session.get(User, other_id)
    if other is None:
        raise NotFound("user not found")
    low, high = sorted((user_id, other_id))
    key = f"{low}:{high}"
    created = False
    room_id = await session.scalar(select(Room.id).where(Room.dm_key == key))
    if room_id is None:
        room = Room(name=f"{username}, {other.username}", kind="dm", dm_key=key, last_seq=0)
        session.add(room)
        try:
            await session.flush()
            session.add_all(
                [Membership(room_id=room.id, user_id=uid, last_read_seq=0) for uid in (low, high)]
            )
            await session.commit()
            room_id, created = room.id, True
        except IntegrityError:
            await session.rollback()  # the other side opened it at the same moment
            room_id = await session.scalar(select(Room.id).where(Room.dm_key == key))
            if room_id is None:
                raise
    return await room_view(session, room_id=room_id, user_id=user_id), created


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


async def mark_read(session: AsyncSession, *, room_id: int, user_id: int, seq: int) -> None:
    room, _ = await require_member(session, room_id=room_id, user_id=user_id)
    target = min(seq, room.last_seq)
    # Only forward: a stale tab cannot move the marker back.
    await session.execute(
        update(Membership)
        .where(
            Membership.room_id == room_id,
            Membership.user_id == user_id,
            Membership.last_read_seq < target,
        )
        .values(last_read_seq=target)
    )
    await session.commit()
