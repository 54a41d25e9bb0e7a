"""Sending messages, batch-first: `POST /api/messages` is a batch of one through the same
path as the gateway's `/messages/batch` (zulip's do_send_messages).

Every item is answered as it would be alone, in one order of checks: token (401), body
(422), room and membership (404/403, queries.rooms.visibility_error), idempotency
(200/409), then 201. The database is asked once what it knows (live sessions, rooms +
memberships, stored client ids), then one write stores the new messages (seq and event seq
bump with locks in room-id order, insert, read markers): store_pg.py on PostgreSQL,
store_sqlite.py's Core statements on SQLite. No ORM: its unit of work would cost more per
row than the SQL itself. Events are published after the write has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chat_contracts.batch import StoreItem, StoreResult
from chat_contracts.events import EventType, MessageData, message_event
from chat_contracts.tokens import InvalidTokenError, TokenClaims
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chat_api import metrics
from chat_api.actions import store_pg, store_sqlite
from chat_api.actions.outbox import Outbox
from chat_api.publisher import Publisher
from chat_api.queries.messages import to_data
from chat_api.queries.rooms import visibility_error
from chat_api.queries.users import session_live
from chat_api.schemas import MessageIn

# What the public route's dependency says, so both paths answer alike.
_REVOKED = "token revoked"
_OTHER_ROOM = "client_msg_id already used for another room"
# A write that lost a race on a client id (or a room) is run again from the lookup, which
# then sees the winner's commit. Each retry needs a new concurrent commit to fail again.
_ATTEMPTS = 3


@dataclass
class _Send:
    index: int
    sender_id: int
    body: MessageIn


@dataclass
class BatchOutcome:
    results: list[StoreResult]
    # Newly stored messages, in the order they should be published.
    created: list[MessageData] = field(default_factory=list)


_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def _postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _validation_detail(exc: ValidationError) -> str:
    # The public route answers a list; a batch result carries one string per item.
    return "; ".join(
        ".".join(str(p) for p in ("body", *err["loc"])) + ": " + err["msg"] for err in exc.errors()
    )


@dataclass
class _Facts:
    """What the database knows about a batch, looked up before any item is judged."""

    sessions: dict[str, tuple[int, bool, int]]  # sid -> (user_id, revoked, token_version)
    kinds: dict[int, str]  # room id -> kind, for the rooms that exist
    members: set[tuple[int, int]]  # (room_id, user_id)
    stored: dict[tuple[int, str], Any]  # (sender_id, client_msg_id) -> message row


async def _lookup(
    conn: AsyncConnection,
    sids: set[str],
    senders: set[int],
    room_ids: set[int],
    keys: set[tuple[int, str]],
) -> _Facts:
    """Sessions, rooms + memberships and stored client ids: one statement on PostgreSQL."""
    lookup = store_pg.lookup if _postgres(conn) else store_sqlite.lookup
    rows = await lookup(conn, sids, senders, room_ids, keys)
    sessions_rows, room_rows, stored_rows = rows
    facts = _Facts(
        sessions={sid: (uid, revoked, ver) for sid, uid, revoked, ver in sessions_rows},
        kinds={},
        members=set(),
        stored={(row.sender_id, row.client_msg_id): row for row in stored_rows},
    )
    for room_id, kind, user_id in room_rows:
        facts.kinds[room_id] = kind
        if user_id is not None:
            facts.members.add((room_id, user_id))
    return facts


def _live(claims: TokenClaims, facts: _Facts) -> bool:
    """The session is not revoked and the token carries the user's current version."""
    found = facts.sessions.get(claims.sid)
    if found is None:
        return False
    user_id, revoked, version = found
    return session_live(claims, user_id=user_id, revoked=revoked, token_version=version)


async def _authorize(
    conn: AsyncConnection,
    items: Sequence[StoreItem],
    decode: Callable[[str], TokenClaims],
    results: list[StoreResult | None],
) -> tuple[list[_Send], _Facts]:
    """Token, then body, like the public route's dependency order (401 wins over 422)."""
    decoded: dict[str, TokenClaims | str] = {}
    for token in {item.token for item in items}:
        try:
            decoded[token] = decode(token)
        except InvalidTokenError as exc:
            decoded[token] = str(exc)
    # Bodies are checked before the lookup so it can take every room and client id at once;
    # a 422 is still only answered once the token has passed.
    bodies: dict[int, MessageIn | str] = {}
    for index, item in enumerate(items):
        if isinstance(decoded[item.token], TokenClaims):
            fields = {"room_id": item.room_id, "content": item.content}
            try:
                bodies[index] = MessageIn.model_validate(
                    {**fields, "client_msg_id": item.client_msg_id}
                )
            except ValidationError as exc:
                bodies[index] = _validation_detail(exc)
    claims_list = [c for c in decoded.values() if isinstance(c, TokenClaims)]
    valid: list[tuple[TokenClaims, MessageIn]] = []
    for index, body in bodies.items():
        owner = decoded[items[index].token]
        if isinstance(body, MessageIn) and isinstance(owner, TokenClaims):
            valid.append((owner, body))
    facts = (
        await _lookup(
            conn,
            {c.sid for c in claims_list},
            {c.user_id for c, _ in valid},
            {b.room_id for _, b in valid},
            {(c.user_id, b.client_msg_id) for c, b in valid},
        )
        if claims_list
        else _Facts({}, {}, set(), {})
    )
    sends: list[_Send] = []
    for index, item in enumerate(items):
        claims = decoded[item.token]
        if isinstance(claims, str):
            results[index] = StoreResult(status=401, detail=claims)
        elif not _live(claims, facts):
            results[index] = StoreResult(status=401, detail=_REVOKED)
        elif isinstance(body := bodies[index], str):
            results[index] = StoreResult(status=422, detail=body)
        else:
            sends.append(_Send(index, claims.user_id, body))
    return sends, facts


def _admit(sends: list[_Send], facts: _Facts, results: list[StoreResult | None]) -> list[_Send]:
    """Room exists and the sender is a member; private rooms stay invisible (404)."""
    admitted = []
    for send in sends:
        room_id = send.body.room_id
        member = (room_id, send.sender_id) in facts.members
        error = visibility_error(facts.kinds.get(room_id), member)
        if error is None:
            admitted.append(send)
        else:
            results[send.index] = StoreResult(status=error.status_code, detail=error.detail)
    return admitted


def _fresh(
    sends: list[_Send], facts: _Facts, results: list[StoreResult | None]
) -> tuple[list[_Send], list[tuple[_Send, _Send]]]:
    """Sends to store; a client id already stored, or earlier in the batch, is a retry."""
    stored = facts.stored
    first: dict[tuple[int, str], _Send] = {}
    fresh: list[_Send] = []
    repeats: list[tuple[_Send, _Send]] = []  # (repeat, the send it repeats)
    for send in sends:
        key = (send.sender_id, send.body.client_msg_id)
        original = first.get(key)
        if key in stored:
            row = stored[key]
            same = row.room_id == send.body.room_id
            results[send.index] = (
                StoreResult(status=200, message=to_data(row))
                if same
                else StoreResult(status=409, detail=_OTHER_ROOM)
            )
        elif original is not None:
            if original.body.room_id == send.body.room_id:
                repeats.append((send, original))
            else:
                results[send.index] = StoreResult(status=409, detail=_OTHER_ROOM)
        else:
            first[key] = send
            fresh.append(send)
    return fresh, repeats


async def _write(
    session: AsyncSession, sends: list[_Send], facts: _Facts, results: list[StoreResult | None]
) -> list[MessageData]:
    """Admit, dedupe and store what was authorized; every item gets its answer."""
    conn = await session.connection()
    fresh, repeats = _fresh(_admit(sends, facts, results), facts, results)
    pairs = [(s.sender_id, s.body) for s in fresh]
    created: list[MessageData] = []
    if fresh and _postgres(conn):
        created = await store_pg.insert_messages(conn, pairs, datetime.now(UTC))
    elif fresh:
        created = await store_sqlite.insert_messages(conn, pairs)
    await session.commit()
    stored = {send.index: message for send, message in zip(fresh, created, strict=True)}
    for index, message in stored.items():
        results[index] = StoreResult(status=201, message=message)
    for repeat, original in repeats:
        results[repeat.index] = StoreResult(status=200, message=stored[original.index])
    return created


async def store(
    session: AsyncSession,
    publisher: Publisher,
    *,
    items: Sequence[StoreItem],
    decode: Callable[[str], TokenClaims],
) -> BatchOutcome:
    """Answers every item; what was committed is published, in seq order per room."""
    # On PostgreSQL the batch is two statements, a read and one write: in autocommit each
    # is its own transaction, sparing the BEGIN and COMMIT round trips. The write is atomic
    # and commits before it returns (an ack still means committed); the lookup saw no more
    # in a shared READ COMMITTED transaction, where every statement takes a fresh snapshot.
    postgres = session.get_bind().dialect.name == "postgresql"
    for attempt in range(_ATTEMPTS):
        results: list[StoreResult | None] = [None] * len(items)
        conn = await session.connection(execution_options=_AUTOCOMMIT if postgres else None)
        authorized, facts = await _authorize(conn, items, decode, results)
        try:
            created = await _write(session, authorized, facts, results)
            break
        except (IntegrityError, store_sqlite.RoomVanished):
            # A concurrent send committed one of these client ids first (or a room went).
            # Nothing of ours was stored (one statement, or a rolled-back transaction).
            await session.rollback()
            if attempt == _ATTEMPTS - 1:
                raise
    if created:
        metrics.MESSAGES_STORED.inc(len(created))
        outbox = Outbox()
        for message in created:
            outbox.add(message_event(EventType.MESSAGE_CREATED, message))
        await outbox.publish(publisher)
    return BatchOutcome(_complete(results), created)


async def send_one(
    session: AsyncSession, publisher: Publisher, *, claims: TokenClaims, token: str, body: MessageIn
) -> StoreResult:
    """The public route's send: the same path, with the token it authenticated."""
    await session.commit()  # ends authentication's read, so the write may run in autocommit
    item = StoreItem(
        token=token, room_id=body.room_id, content=body.content, client_msg_id=body.client_msg_id
    )
    outcome = await store(session, publisher, items=[item], decode=lambda _t: claims)
    return outcome.results[0]


def _complete(results: list[StoreResult | None]) -> list[StoreResult]:
    done = [r for r in results if r is not None]
    if len(done) != len(results):
        raise AssertionError("a batch item was left unanswered")
    return done
