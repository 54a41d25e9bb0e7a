"""Auth sessions: one login is one refresh-token family. Ending one is a session.revoked
event on the user's stream, so every gateway closes its sockets and drops cached tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from chat_contracts.events import EventType, RevocationData
from chat_contracts.tokens import new_token_id
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox, commit
from chat_api.actions.streams import add_user_events
from chat_api.models import AuthSession
from chat_api.publisher import Publisher


def new_session_id() -> str:
    return new_token_id()


async def start(
    session: AsyncSession, *, user_id: int, session_id: str, refresh_jti: str, ttl_seconds: int
) -> None:
    session.add(
        AuthSession(
            id=session_id,
            user_id=user_id,
            current_refresh_jti=refresh_jti,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds),
        )
    )
    await session.commit()


async def rotate_refresh(
    session: AsyncSession, *, session_id: str, old_jti: str, new_jti: str
) -> bool:
    """Compare-and-set, so two concurrent refreshes with one token cannot both win."""
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.current_refresh_jti == old_jti,
            AuthSession.revoked.is_(False),
        )
        .values(current_refresh_jti=new_jti)
    )
    await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def revoke(
    session: AsyncSession,
    publisher: Publisher,
    *,
    user_id: int,
    session_id: str,
    reason: Literal["logout", "refresh_reused"],
) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
        .values(revoked=True)
    )
    outbox = Outbox()
    data = RevocationData(user_id=user_id, session_id=session_id, reason=reason)
    await add_user_events(session, outbox, EventType.SESSION_REVOKED, [(user_id, data)])
    await commit(session, outbox, publisher)
