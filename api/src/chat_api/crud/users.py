from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat_contracts.tokens import TokenClaims, new_token_id
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.models import AuthSession, User


class UsernameTaken(Exception):
    pass


async def create_user(
    session: AsyncSession, *, username: str, password_hash: str, display_name: str
) -> User:
    user = User(username=username, password_hash=password_hash, display_name=display_name)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise UsernameTaken(username) from exc
    return user


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


async def active_user_for_claims(session: AsyncSession, claims: TokenClaims) -> User | None:
    """The user if the token's session is live and its version current, else None."""
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
    if auth.revoked or user.token_version != claims.ver:
        return None
    return user


def new_session_id() -> str:
    return new_token_id()


async def start_session(
    session: AsyncSession, *, user: User, session_id: str, refresh_jti: str, ttl_seconds: int
) -> None:
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
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


async def revoke_session(session: AsyncSession, *, session_id: str) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(revoked=True)
    )
    await session.commit()


async def change_password(session: AsyncSession, *, user: User, password_hash: str) -> None:
    """New hash and a bumped token version: every outstanding token stops working."""
    user.password_hash = password_hash
    user.token_version = user.token_version + 1
    await session.execute(
        update(AuthSession).where(AuthSession.user_id == user.id).values(revoked=True)
    )
    await session.commit()
