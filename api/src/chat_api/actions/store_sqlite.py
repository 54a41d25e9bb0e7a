"""The batch store as Core statements, on SQLite only (PostgreSQL runs store_pg.py's fixed
SQL); the rules are sends.py's.

Lookup of sessions, rooms and stored client ids; seq reservation, one INSERT, read markers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from chat_contracts.events import MessageData
from sqlalchemy import (
    Table,
    bindparam,
    case,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_api.models import AuthSession, Membership, Message, Room, User
from chat_api.schemas import MessageIn

_rooms, _members = cast(Table, Room.__table__), cast(Table, Membership.__table__)
_messages = cast(Table, Message.__table__)
_users, _sessions = cast(Table, User.__table__), cast(Table, AuthSession.__table__)


async def lookup(
    conn: AsyncConnection,
    sids: set[str],
    senders: set[int],
    room_ids: set[int],
    keys: set[tuple[int, str]],
) -> tuple[Any, Any, Any]:
    """What store_pg.lookup answers, as three Core statements (SQLite is in-process)."""
    sessions = await conn.execute(
        select(_sessions.c.id, _sessions.c.user_id, _sessions.c.revoked, _users.c.token_version)
        .join(_users, _users.c.id == _sessions.c.user_id)
        .where(_sessions.c.id.in_(sids))
    )
    rooms = await conn.execute(
        select(_rooms.c.id, _rooms.c.kind, _members.c.user_id)
        .outerjoin(_members, (_members.c.room_id == _rooms.c.id) & _members.c.user_id.in_(senders))
        .where(_rooms.c.id.in_(room_ids))
    )
    key = tuple_(_messages.c.sender_id, _messages.c.client_msg_id)
    stored = await conn.execute(select(_messages).where(key.in_(keys))) if keys else ()
    return sessions, rooms, stored


async def bump_rooms(conn: AsyncConnection, counts: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Reserves `counts[room]` seqs and event seqs per room; returns each room's new
    (last_seq, last_event_seq).

    SQLite runs every transaction as BEGIN IMMEDIATE (one writer at a time), so the seqs
    appear in commit order with no gap without row locks.
    """
    bump = case(*((_rooms.c.id == room_id, n) for room_id, n in counts.items()))
    rows = await conn.execute(
        update(_rooms)
        .where(_rooms.c.id.in_(counts))
        .values(last_seq=_rooms.c.last_seq + bump, last_event_seq=_rooms.c.last_event_seq + bump)
        .returning(_rooms.c.id, _rooms.c.last_seq, _rooms.c.last_event_seq)
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def advance_markers(conn: AsyncConnection, marks: dict[tuple[int, int], int]) -> None:
    """The sender has read up to their own newest message; markers only move forward."""
    # SQLite cannot name a VALUES list's columns; it is in-process, so many statements are cheap.
    await conn.execute(
        update(_members)
        .where(
            _members.c.room_id == bindparam("r"),
            _members.c.user_id == bindparam("u"),
            _members.c.last_read_seq < bindparam("s"),
        )
        .values(last_read_seq=bindparam("s")),
        [{"r": room_id, "u": user_id, "s": seq} for (room_id, user_id), seq in marks.items()],
    )


class RoomVanished(Exception):
    """A room seen a moment ago is gone; the one-by-one path answers 404 for it."""


async def insert_messages(
    conn: AsyncConnection, sends: Sequence[tuple[int, MessageIn]]
) -> list[MessageData]:
    """Stores (sender_id, body) pairs as new messages; returns them in the given order."""
    counts = Counter(body.room_id for _, body in sends)
    last = await bump_rooms(conn, counts)
    if last.keys() != counts.keys():
        raise RoomVanished
    # Seqs in item order within each room: the batch keeps each sender's send order.
    next_seq = {room_id: last[room_id][0] - n for room_id, n in counts.items()}
    next_version = {room_id: last[room_id][1] - n for room_id, n in counts.items()}
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for sender_id, body in sends:
        next_seq[body.room_id] += 1
        next_version[body.room_id] += 1
        rows.append(
            {
                "room_id": body.room_id,
                "seq": next_seq[body.room_id],
                "version": next_version[body.room_id],
                "sender_id": sender_id,
                "client_msg_id": body.client_msg_id,
                "content": body.content,
                "created_at": now,
                "edited_at": None,
                "deleted": False,
            }
        )
    # Inserted in (sender, client id) order: batches racing on the same client ids then wait
    # for each other's unique-index entries in one global order, never in a cycle.
    ordered = sorted(rows, key=lambda r: (r["sender_id"], r["client_msg_id"]))
    returned = await conn.execute(
        insert(_messages).returning(_messages.c.id, _messages.c.room_id, _messages.c.seq),
        ordered,
    )
    ids = {(room_id, seq): id_ for id_, room_id, seq in returned}
    marks: dict[tuple[int, int], int] = {}
    for row in rows:
        marks[(row["room_id"], row["sender_id"])] = row["seq"]  # rows ascend per room
    await advance_markers(conn, marks)
    return [MessageData(id=ids[(r["room_id"], r["seq"])], **r) for r in rows]
