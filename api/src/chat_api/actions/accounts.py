"""Accounts: registration, profile changes (user.updated to the user and everyone who
shares a room with them) and password changes (every session revoked)."""

from __future__ import annotations

from chat_contracts.events import EventType, RevocationData
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.actions.outbox import Outbox, commit
from chat_api.actions.streams import add_user_events, lock_rooms_of
from chat_api.models import AuthSession, User
from chat_api.publisher import Publisher
from chat_api.queries.rooms import co_member_ids
from chat_api.queries.users import user_data


class UsernameTaken(Exception):
    pass


async def register(
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


async def update_profile(
    session: AsyncSession,
    publisher: Publisher,
    *,
    user: User,
    display_name: str | None,
    password_hash: str | None,
) -> User:
    """A new password bumps the token version and revokes every session: each outstanding
    token stops working, and the gateways close the user's sockets (session.revoked)."""
    outbox = Outbox()
    if display_name is not None and display_name != user.display_name:
        profile = user_data(user).model_copy(update={"display_name": display_name})
        # The user's rooms first: a co-member joining one of them meanwhile is either in
        # the audience read below or joins after this commit and reads the new name.
        await lock_rooms_of(session, user.id)
        audience = [user.id, *await co_member_ids(session, user.id)]
        # The events first: they lock the audience's rows (the user's own among them) in id
        # order. Writing the user's row before would lock it out of order (deadlock).
        await add_user_events(
            session, outbox, EventType.USER_UPDATED, [(uid, profile) for uid in audience]
        )
        user.display_name = display_name
        await session.flush()
    if password_hash is not None:
        user.password_hash = password_hash
        user.token_version = user.token_version + 1
        await session.execute(
            update(AuthSession).where(AuthSession.user_id == user.id).values(revoked=True)
        )
        revoked = RevocationData(user_id=user.id, reason="password_changed")
        await add_user_events(session, outbox, EventType.SESSION_REVOKED, [(user.id, revoked)])
    await commit(session, outbox, publisher)
    await session.refresh(user)
    return user
