"""Rooms and membership: create, join, leave, invite, remove, rename/topic, DMs.

A membership change is a member.* event on the room's stream (for the members' open
pages) and a room.added/room.removed event on the user's own stream (for their sidebar on
every device). The room row is locked first (its next event seq), then user rows.
"""

from __future__ import annotations

from chat_contracts.events import (
    EventType,
    MemberData,
    RoomRefData,
    RoomUpdatedData,
)
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox, commit
from chat_api.actions.streams import add_room_event, add_user_events, lock_room
from chat_api.errors import Forbidden, NotFound
from chat_api.models import Membership, Room, User
from chat_api.publisher import Publisher
from chat_api.queries.rooms import count_members, require_member, room_view
from chat_api.queries.users import user_data
from chat_api.schemas import RoomOut


async def create_room(
    session: AsyncSession, publisher: Publisher, *, creator: User, name: str, kind: str
) -> RoomOut:
    creator_id = creator.id
    room = Room(name=name, kind=kind, created_by=creator_id, last_seq=0, last_event_seq=0)
    session.add(room)
    await session.flush()
    session.add(Membership(room_id=room.id, user_id=creator_id, last_read_seq=0))
    await session.flush()
    view = await room_view(session, room_id=room.id, user_id=creator_id)
    outbox = Outbox()
    await add_user_events(session, outbox, EventType.ROOM_ADDED, [(creator_id, view)])
    await commit(session, outbox, publisher)
    return view


async def _member_event(
    session: AsyncSession,
    outbox: Outbox,
    room_id: int,
    member: User,
    actor_id: int,
    kind: EventType,
) -> None:
    """The member.* event, with the count after the change."""
    # Counted under the room's lock: before it, racing joins or leaves could count the same.
    await lock_room(session, room_id)
    count = await count_members(session, room_id)
    data = MemberData(user=user_data(member), actor_id=actor_id, member_count=count)
    await add_room_event(session, outbox, room_id, kind, data)


async def _add_member(
    session: AsyncSession,
    publisher: Publisher,
    *,
    room: Room,
    member: User,
    actor_id: int,
    kind: EventType,
) -> None:
    """Adds `member`; a no-op when they are in already (a concurrent join won)."""
    room_id, member_id = room.id, member.id
    membership = Membership(room_id=room_id, user_id=member_id, last_read_seq=0)
    session.add(membership)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()  # the same end state
        return
    outbox = Outbox()
    await _member_event(session, outbox, room_id, member, actor_id, kind)
    # Read under the room's lock, now held: history is there, but not counted as unread.
    await session.refresh(room)
    membership.last_read_seq = room.last_seq
    view = await room_view(session, room_id=room_id, user_id=member_id)
    await add_user_events(session, outbox, EventType.ROOM_ADDED, [(member_id, view)])
    await commit(session, outbox, publisher)


async def _drop_member(
    session: AsyncSession,
    publisher: Publisher,
    *,
    room: Room,
    member: User,
    actor_id: int,
    kind: EventType,
) -> None:
    room_id, member_id = room.id, member.id
    outbox = Outbox()
    gone = await session.execute(
        delete(Membership).where(Membership.room_id == room_id, Membership.user_id == member_id)
    )
    if not getattr(gone, "rowcount", 0):
        await session.rollback()  # gone already (another device): nothing changed
        return
    await _member_event(session, outbox, room_id, member, actor_id, kind)
    reason = "left" if kind is EventType.MEMBER_LEFT else "removed"
    ref = RoomRefData(room_id=room_id, reason=reason)
    await add_user_events(session, outbox, EventType.ROOM_REMOVED, [(member_id, ref)])
    await commit(session, outbox, publisher)


async def join_public(
    session: AsyncSession, publisher: Publisher, *, room_id: int, user: User
) -> RoomOut:
    user_id = user.id  # read now: a rollback expires the ORM object
    room = await session.get(Room, room_id)
    if room is None:
        raise NotFound("room not found")
    if await session.get(Membership, (room_id, user_id)) is None:
        if room.kind != "public":
            raise NotFound("room not found")  # private rooms and DMs are invite-only
        await _add_member(
            session,
            publisher,
            room=room,
            member=user,
            actor_id=user_id,
            kind=EventType.MEMBER_JOINED,
        )
    return await room_view(session, room_id=room_id, user_id=user_id)


async def leave(session: AsyncSession, publisher: Publisher, *, room_id: int, user: User) -> None:
    room, _ = await require_member(session, room_id=room_id, user_id=user.id)
    if room.kind == "dm":
        raise Forbidden("cannot leave a direct message")
    await _drop_member(
        session, publisher, room=room, member=user, actor_id=user.id, kind=EventType.MEMBER_LEFT
    )


async def _target(session: AsyncSession, user_id: int) -> User:
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound("user not found")
    return target


async def invite(
    session: AsyncSession, publisher: Publisher, *, room_id: int, inviter: User, user_id: int
) -> None:
    inviter_id = inviter.id
    room, _ = await require_member(session, room_id=room_id, user_id=inviter_id)
    if room.kind == "dm":
        raise Forbidden("cannot invite into a direct message")
    if room.kind == "public":
        # Joining a public room is each user's own choice (POST /rooms/{id}/join).
        raise Forbidden("cannot invite into a public room; users join it themselves")
    target = await _target(session, user_id)
    if await session.get(Membership, (room_id, user_id)) is None:
        await _add_member(
            session,
            publisher,
            room=room,
            member=target,
            actor_id=inviter_id,
            kind=EventType.MEMBER_INVITED,
        )


async def remove_member(
    session: AsyncSession, publisher: Publisher, *, room_id: int, actor: User, user_id: int
) -> None:
    """Removing yourself is leaving; removing others is for the room's creator."""
    if user_id == actor.id:
        await leave(session, publisher, room_id=room_id, user=actor)
        return
    actor_id = actor.id
    room, _ = await require_member(session, room_id=room_id, user_id=actor_id)
    if room.kind == "dm":
        raise Forbidden("cannot remove anyone from a direct message")
    if room.created_by != actor_id:
        raise Forbidden("only the room's creator can remove members")
    target = await _target(session, user_id)
    if await session.get(Membership, (room_id, user_id)) is None:
        raise NotFound("not a member of this room")
    await _drop_member(
        session,
        publisher,
        room=room,
        member=target,
        actor_id=actor_id,
        kind=EventType.MEMBER_REMOVED,
    )


async def update_room(
    session: AsyncSession,
    publisher: Publisher,
    *,
    room_id: int,
    user: User,
    name: str | None,
    topic: str | None,
) -> RoomOut:
    """Any member may rename a room or set its topic (Slack's and Mattermost's default)."""
    user_id = user.id
    room, _ = await require_member(session, room_id=room_id, user_id=user_id)
    if room.kind == "dm":
        raise Forbidden("a direct message has no name or topic")
    new_name = room.name if name is None else name
    new_topic = room.topic if topic is None else topic
    if (new_name, new_topic) != (room.name, room.topic):
        await lock_room(session, room_id)  # before the row is written (store_pg.py: why)
        room.name, room.topic = new_name, new_topic
        await session.flush()
        data = RoomUpdatedData(id=room_id, name=new_name, topic=new_topic, actor_id=user_id)
        outbox = Outbox()
        await add_room_event(session, outbox, room_id, EventType.ROOM_UPDATED, data)
        await commit(session, outbox, publisher)
    return await room_view(session, room_id=room_id, user_id=user_id)


def _dm_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"  # one room per pair is a unique constraint, not a race


async def open_dm(
    session: AsyncSession, publisher: Publisher, *, user: User, other_id: int
) -> tuple[RoomOut, bool]:
    user_id, username = user.id, user.username  # a rollback below expires the ORM object
    if other_id == user_id:
        raise Forbidden("cannot open a direct message with yourself")
    other = await _target(session, other_id)
    key = _dm_key(user_id, other_id)
    room_id = await session.scalar(select(Room.id).where(Room.dm_key == key))
    if room_id is not None:
        return await room_view(session, room_id=room_id, user_id=user_id), False
    room = Room(name=f"{username}, {other.username}", kind="dm", dm_key=key)
    session.add(room)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()  # the other side opened it at the same moment
        room_id = await session.scalar(select(Room.id).where(Room.dm_key == key))
        if room_id is None:
            raise
        return await room_view(session, room_id=room_id, user_id=user_id), False
    session.add_all(
        [Membership(room_id=room.id, user_id=uid, last_read_seq=0) for uid in (user_id, other_id)]
    )
    await session.flush()
    outbox = Outbox()
    views = {
        uid: await room_view(session, room_id=room.id, user_id=uid) for uid in (user_id, other_id)
    }
    await add_user_events(session, outbox, EventType.ROOM_ADDED, list(views.items()))
    await commit(session, outbox, publisher)
    return views[user_id], True
