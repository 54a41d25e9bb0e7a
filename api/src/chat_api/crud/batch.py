"""Many sends in one transaction with a constant number of statements (the gateway's batch).

Every item is answered as `POST /api/messages` would answer it alone, in the same order of
checks: token (401), body (422), room and membership (404/403), idempotency (200/409), then
201. Statements per batch, whatever its size: live sessions, rooms + memberships, stored
client ids, room seq bump (locks taken in room-id order), message insert, read markers,
commit. Core only: the ORM unit of work would cost more per row than the SQL itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from chat_contracts.batch import StoreItem, StoreResult
from chat_contracts.events import MessageData
from chat_contracts.tokens import InvalidTokenError, TokenClaims
from pydantic import ValidationError
from sqlalchemy import Table, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chat_api.crud import bulk, messages as single
from chat_api.errors import DomainError
from chat_api.models import AuthSession, Membership, Message, Room, User
from chat_api.schemas import MessageIn

_users, _sessions = cast(Table, User.__table__), cast(Table, AuthSession.__table__)
_rooms, _members = cast(Table, Room.__table__), cast(Table, Membership.__table__)
_messages = cast(Table, Message.__table__)
# What the public route's dependency and crud say, so both paths answer alike.
_REVOKED = "token revoked"
_NO_ROOM = "room not found"
_NOT_MEMBER = "not a member of this room"
_OTHER_ROOM = "client_msg_id already used for another room"


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


def _validation_detail(exc: ValidationError) -> str:
    # The public route answers a list; a batch result carries one string per item.
    return "; ".join(
        ".".join(str(p) for p in ("body", *err["loc"])) + ": " + err["msg"] for err in exc.errors()
    )


async def _live_claims(conn: AsyncConnection, claims: Sequence[TokenClaims]) -> set[str]:
    """Session ids whose token is still good: session not revoked, user's version current."""
    if not claims:
        return set()
    rows = await conn.execute(
        select(_sessions.c.id, _sessions.c.user_id, _sessions.c.revoked, _users.c.token_version)
        .join(_users, _users.c.id == _sessions.c.user_id)
        .where(_sessions.c.id.in_({c.sid for c in claims}))
    )
    sessions = {sid: (uid, revoked, ver) for sid, uid, revoked, ver in rows}
    return {
        c.sid
        for c in claims
        if c.sid in sessions
        and sessions[c.sid][0] == c.user_id
        and not sessions[c.sid][1]
        and sessions[c.sid][2] == c.ver
    }


async def _authorize(
    conn: AsyncConnection,
    items: Sequence[StoreItem],
    decode: Callable[[str], TokenClaims],
    results: list[StoreResult | None],
) -> list[_Send]:
    """Token, then body, like the public route's dependency order (401 wins over 422)."""
    decoded: dict[str, TokenClaims | str] = {}
    for token in {item.token for item in items}:
        try:
            decoded[token] = decode(token)
        except InvalidTokenError as exc:
            decoded[token] = str(exc)
    live = await _live_claims(conn, [c for c in decoded.values() if isinstance(c, TokenClaims)])
    sends: list[_Send] = []
    for index, item in enumerate(items):
        claims = decoded[item.token]
        if isinstance(claims, str):
            results[index] = StoreResult(status=401, detail=claims)
            continue
        if claims.sid not in live:
            results[index] = StoreResult(status=401, detail=_REVOKED)
            continue
        fields = {"room_id": item.room_id, "content": item.content}
        try:
            body = MessageIn.model_validate({**fields, "client_msg_id": item.client_msg_id})
        except ValidationError as exc:
            results[index] = StoreResult(status=422, detail=_validation_detail(exc))
            continue
        sends.append(_Send(index, claims.user_id, body))
    return sends


async def _admit(
    conn: AsyncConnection, sends: list[_Send], results: list[StoreResult | None]
) -> list[_Send]:
    """Room exists and the sender is a member; private rooms stay invisible (404)."""
    rows = await conn.execute(
        select(_rooms.c.id, _rooms.c.kind, _members.c.user_id)
        .outerjoin(
            _members,
            (_members.c.room_id == _rooms.c.id)
            & _members.c.user_id.in_({s.sender_id for s in sends}),
        )
        .where(_rooms.c.id.in_({s.body.room_id for s in sends}))
    )
    kinds: dict[int, str] = {}
    members: set[tuple[int, int]] = set()
    for room_id, kind, user_id in rows:
        kinds[room_id] = kind
        if user_id is not None:
            members.add((room_id, user_id))
    admitted = []
    for send in sends:
        room_id = send.body.room_id
        if room_id not in kinds:
            results[send.index] = StoreResult(status=404, detail=_NO_ROOM)
        elif (room_id, send.sender_id) not in members:
            public = kinds[room_id] == "public"
            detail = _NOT_MEMBER if public else _NO_ROOM
            results[send.index] = StoreResult(status=403 if public else 404, detail=detail)
        else:
            admitted.append(send)
    return admitted


def _data(row: Any) -> MessageData:
    return MessageData(
        id=row.id,
        room_id=row.room_id,
        seq=row.seq,
        sender_id=row.sender_id,
        content="" if row.deleted else row.content,
        client_msg_id=row.client_msg_id,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=row.deleted,
    )


async def _fresh(
    conn: AsyncConnection, sends: list[_Send], results: list[StoreResult | None]
) -> tuple[list[_Send], list[tuple[_Send, _Send]]]:
    """Sends to store; a client id already stored, or earlier in the batch, is a retry."""
    keys = {(s.sender_id, s.body.client_msg_id) for s in sends}
    rows = await conn.execute(
        select(_messages).where(tuple_(_messages.c.sender_id, _messages.c.client_msg_id).in_(keys))
    )
    stored = {(row.sender_id, row.client_msg_id): row for row in rows}
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
                StoreResult(status=200, message=_data(row))
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


async def _one_by_one(
    session: AsyncSession, sends: list[_Send], results: list[StoreResult | None]
) -> list[MessageData]:
    """The single-send path, item by item: it resolves races with a concurrent commit."""
    created: list[MessageData] = []
    for send in sends:
        try:
            message, new = await single.create(
                session,
                sender_id=send.sender_id,
                room_id=send.body.room_id,
                content=send.body.content,
                client_msg_id=send.body.client_msg_id,
            )
        except DomainError as exc:
            results[send.index] = StoreResult(status=exc.status_code, detail=exc.detail)
            continue
        results[send.index] = StoreResult(status=201 if new else 200, message=message)
        if new:
            created.append(message)
    await session.commit()  # ends the last read-only transaction (SQLite's write lock)
    return created


async def store(
    session: AsyncSession, *, items: Sequence[StoreItem], decode: Callable[[str], TokenClaims]
) -> BatchOutcome:
    """Answers every item; `created` lists what was committed (to publish, in seq order)."""
    results: list[StoreResult | None] = [None] * len(items)
    conn = await session.connection()
    authorized = await _authorize(conn, items, decode, results)
    created: list[MessageData] = []
    admitted = await _admit(conn, authorized, results) if authorized else []
    fresh, repeats = await _fresh(conn, admitted, results) if admitted else ([], [])
    try:
        if fresh:
            created = await bulk.insert_messages(conn, [(s.sender_id, s.body) for s in fresh])
        await session.commit()
    except (IntegrityError, bulk.RoomVanished):
        # A concurrent send committed one of these client ids first. Our seq bump rolls
        # back with us (no gap); the single-send path then answers each item exactly.
        await session.rollback()
        created = await _one_by_one(session, authorized, results)
        return BatchOutcome(_complete(results), created)
    stored = {send.index: message for send, message in zip(fresh, created, strict=True)}
    for index, message in stored.items():
        results[index] = StoreResult(status=201, message=message)
    for repeat, original in repeats:
        results[repeat.index] = StoreResult(status=200, message=stored[original.index])
    return BatchOutcome(_complete(results), created)


def _complete(results: list[StoreResult | None]) -> list[StoreResult]:
    done = [r for r in results if r is not None]
    if len(done) != len(results):
        raise AssertionError("a batch item was left unanswered")
    return done
