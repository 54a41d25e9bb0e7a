"""The batch store's statements on PostgreSQL: fixed SQL text, the batch passed as arrays.

A batch's size no longer changes the statement text, so nothing is compiled per request
(SQLAlchemy's compiler, psycopg's placeholder parser) and psycopg prepares each statement
after a few runs, sparing PostgreSQL the parse and plan. Seq reservation, the insert and
the read markers are one statement (it also takes the messages' room event seqs): one
round trip for the whole write.
SQLite keeps the Core statements in store_sqlite.py; the rules are sends.py's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from chat_contracts.events import MessageData
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_api.schemas import MessageIn

# Three lookups in one round trip. Each answers as JSON rows of plain ints, strings and
# bools; stored messages (retries, rare) only as a flag, their rows are fetched when set.
_LOOKUP = """
SELECT
  (SELECT coalesce(json_agg(json_build_array(s.id, s.user_id, s.revoked, u.token_version)), '[]')
   FROM auth_sessions AS s JOIN users AS u ON u.id = s.user_id
   WHERE s.id = ANY(%(sids)s::varchar[])) AS sessions,
  (SELECT coalesce(json_agg(json_build_array(r.id, r.kind, m.user_id)), '[]')
   FROM rooms AS r
   LEFT JOIN memberships AS m ON m.room_id = r.id AND m.user_id = ANY(%(users)s::bigint[])
   WHERE r.id = ANY(%(rooms)s::bigint[])) AS rooms,
  EXISTS (SELECT FROM messages AS m
          JOIN unnest(%(senders)s::bigint[], %(ids)s::varchar[]) AS k(sender_id, client_msg_id)
            ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id) AS seen
"""

_STORED = """
SELECT m.id, m.room_id, m.seq, m.version, m.sender_id, m.client_msg_id, m.content, m.created_at,
       m.edited_at, m.deleted
FROM messages AS m
JOIN unnest(%(senders)s::bigint[], %(ids)s::varchar[]) AS k(sender_id, client_msg_id)
  ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id
"""

# Every writer of a room's row first takes the room's advisory lock (streams.room_lock), and
# a batch takes its rooms' in id order: batches sharing rooms queue instead of deadlocking,
# and the locks last to the commit, so seqs appear in commit order with no gap. Not row
# locks: a row locked by FOR UPDATE and then updated in the same statement is locked twice
# (the UPDATE re-finds the row a concurrent commit replaced), and waiting that second time
# behind the writers queued on the row deadlocked with them (concurrent edits and joins).
# Within a room, seqs follow item order (a sender's send
# order). Rows are inserted in (sender, client id) order so batches racing on the same
# client ids wait for each other's unique-index entries in one global order. A sender's
# read marker moves (forward only) to their newest message. An item whose room row is gone
# gets no seq, and the NOT NULL violation fails the whole statement: run in autocommit, it
# must store all or nothing.
_INSERT = """
WITH items AS (
    SELECT * FROM unnest(%(rooms)s::bigint[], %(senders)s::bigint[], %(ids)s::varchar[],
                         %(contents)s::text[])
        WITH ORDINALITY AS t(room_id, sender_id, client_msg_id, content, ord)
), counts AS (
    SELECT room_id, count(*) AS n FROM items GROUP BY room_id
), locked AS MATERIALIZED (
    SELECT room_id AS id, pg_advisory_xact_lock(room_id) AS held
    FROM (SELECT room_id FROM counts ORDER BY room_id) AS ordered
), bumped AS (
    UPDATE rooms SET last_seq = rooms.last_seq + counts.n,
                     last_event_seq = rooms.last_event_seq + counts.n
    FROM counts JOIN locked ON locked.id = counts.room_id
    WHERE rooms.id = counts.room_id
    RETURNING rooms.id, rooms.last_seq - counts.n AS base,
              rooms.last_event_seq - counts.n AS event_base
), numbered AS (
    SELECT items.*,
           bumped.base + row_number() OVER w AS seq,
           bumped.event_base + row_number() OVER w AS version
    FROM items LEFT JOIN bumped ON bumped.id = items.room_id
    WINDOW w AS (PARTITION BY items.room_id ORDER BY items.ord)
), inserted AS (
    INSERT INTO messages (room_id, seq, version, sender_id, client_msg_id, content,
                          created_at, edited_at, deleted)
    SELECT room_id, seq, version, sender_id, client_msg_id, content, %(now)s, NULL, false
    FROM numbered ORDER BY sender_id, client_msg_id
    RETURNING id, room_id, seq, version, sender_id, client_msg_id
), marked AS (
    UPDATE memberships SET last_read_seq = top.seq
    FROM (SELECT room_id, sender_id, max(seq) AS seq FROM inserted
          GROUP BY room_id, sender_id) AS top
    WHERE memberships.room_id = top.room_id AND memberships.user_id = top.sender_id
      AND memberships.last_read_seq < top.seq
)
SELECT id, room_id, seq, version, sender_id, client_msg_id FROM inserted
"""


async def lookup(
    conn: AsyncConnection,
    sids: Collection[str],
    users: Collection[int],
    room_ids: Collection[int],
    keys: Collection[tuple[int, str]],
) -> tuple[list[list[Any]], list[list[Any]], Sequence[Row[tuple[Any, ...]]]]:
    """(session id, user id, revoked, token version) rows, (room id, kind, member user id or
    None) rows, and the stored message rows under the (sender_id, client_msg_id) keys."""
    senders, ids = _columns(keys)
    params = {
        "sids": list(sids),
        "users": list(users),
        "rooms": list(room_ids),
        "senders": senders,
        "ids": ids,
    }
    row: Any = (await conn.exec_driver_sql(_LOOKUP, params)).one()
    sessions, rooms, seen = row
    return sessions, rooms, (await stored(conn, keys)) if seen else ()


def _columns(keys: Collection[tuple[int, str]]) -> tuple[list[int], list[str]]:
    return [sender for sender, _ in keys], [cid for _, cid in keys]


async def stored(
    conn: AsyncConnection, keys: Collection[tuple[int, str]]
) -> Sequence[Row[tuple[Any, ...]]]:
    """Full message rows already stored under these (sender_id, client_msg_id) keys."""
    senders, ids = _columns(keys)
    params = {"senders": senders, "ids": ids}
    return (await conn.exec_driver_sql(_STORED, params)).all()


async def insert_messages(
    conn: AsyncConnection, sends: Sequence[tuple[int, MessageIn]], now: datetime
) -> list[MessageData]:
    """Stores (sender_id, body) pairs as new messages; returns them in the given order."""
    params = {
        "rooms": [body.room_id for _, body in sends],
        "senders": [sender_id for sender_id, _ in sends],
        "ids": [body.client_msg_id for _, body in sends],
        "contents": [body.content for _, body in sends],
        "now": now,
    }
    rows = (await conn.exec_driver_sql(_INSERT, params)).all()
    # (sender, client id) is unique within `sends` (batch.py answers repeats itself).
    stored = {(row.sender_id, row.client_msg_id): row for row in rows}
    out = []
    for sender_id, body in sends:
        row = stored[(sender_id, body.client_msg_id)]
        out.append(
            MessageData(
                id=row.id,
                room_id=row.room_id,
                seq=row.seq,
                version=row.version,
                sender_id=sender_id,
                content=body.content,
                client_msg_id=body.client_msg_id,
                created_at=now,
                edited_at=None,
                deleted=False,
            )
        )
    return out
