"""Profiles: me, others, search, display name and password change."""

from __future__ import annotations

from typing import Annotated

import structlog
from chat_contracts.events import EventPage
from chat_contracts.limits import PAGE_MAX
from fastapi import APIRouter, HTTPException, Query, status

from chat_api.actions import accounts
from chat_api.deps import PrincipalDep, SessionDep, StateDep
from chat_api.models import User
from chat_api.queries import events, users
from chat_api.schemas import MAX_ID, PositiveId, UserOut, UserUpdateIn
from chat_api.security import hash_password, verify_password

router = APIRouter(prefix="/users", tags=["users"])
log = structlog.get_logger(__name__)


@router.get("/me", response_model=UserOut)
async def me(principal: PrincipalDep) -> User:
    return principal.user


@router.put("/me", response_model=UserOut)
async def update_me(
    body: UserUpdateIn, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> User:
    user = principal.user
    if body.new_password is not None:
        if not body.current_password or not await verify_password(
            user.password_hash, body.current_password
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="current password is wrong")
    new_hash = None if body.new_password is None else await hash_password(body.new_password)
    await accounts.update_profile(
        session, state.publisher, user=user, display_name=body.display_name, password_hash=new_hash
    )
    if new_hash is not None:
        log.info("password_changed", user_id=user.id)
    return user


@router.get("/me/events", response_model=EventPage)
async def my_events(
    principal: PrincipalDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_MAX,
) -> EventPage:
    """The user's own stream after `after`: rooms added/removed, profiles, markers, sessions."""
    return await events.user_events(session, user_id=principal.user.id, after=after, limit=limit)


@router.get("", response_model=list[UserOut])
async def search_users(
    session: SessionDep,
    _principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")],
) -> list[User]:
    return await users.search(session, prefix=q)


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: PositiveId, session: SessionDep, _principal: PrincipalDep) -> User:
    user = await users.get(session, user_id=user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="user not found")
    return user
