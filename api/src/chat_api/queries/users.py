"""Users and the session liveness rule (the public routes and the gateway's batch share it)."""

from __future__ import annotations

from chat_contracts.events import UserData
from chat_contracts.tokens import TokenClaims
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.models import AuthSession, User


def session_live(claims: TokenClaims, *, user_id: int, revoked: bool, token_version: int) -> bool:
    """The token's session belongs to its user, is not revoked, and the token carries the
    user's current version (a password change bumps it)."""
    return user_id == claims.user_id and not revoked and token_version == claims.ver


async def active_user_for_claims(session: AsyncSession, claims: TokenClaims) -> User | None:
    """The user if the token's session is live, else None."""
    row = (
        await session.execute(
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == claims.user_id, AuthSession.id == claims.sid)
        )
    ).first()
    if row is None:
        return None
    user, auth = row
    live = session_live(
        claims, user_id=auth.user_id, revoked=auth.revoked, token_version=user.token_version
    )
    return user if live else None


async def get_by_username(session: AsyncSession, *, username: str) -> User | None:
    """`username` already folded by the caller (the login route also keys rate limits on it)."""
    return await session.scalar(select(User).where(User.username == username))


async def get(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def search(session: AsyncSession, *, prefix: str, limit: int = 20) -> list[User]:
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.scalars(
        select(User)
        .where(User.username.like(escaped + "%", escape="\\"))
        .order_by(User.username)
        .limit(limit)
    )
    return list(rows)


def user_data(user: User) -> UserData:
    return UserData(id=user.id, username=user.username, display_name=user.display_name)
