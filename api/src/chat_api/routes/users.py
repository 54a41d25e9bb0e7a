"""Profiles: me, others, search, display name and password change."""

from __future__ import annotations

from typing import Annotated

import structlog
from chat_contracts.events import RevocationData
from fastapi import APIRouter, HTTPException, Query, status

from chat_api import crud
from chat_api.deps import PrincipalDep, SessionDep, StateDep
from chat_api.models import User
from chat_api.publisher import publish_revocation
from chat_api.schemas import PositiveId, UserOut, UserUpdateIn
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
    if body.display_name is not None:
        user.display_name = body.display_name
    if body.new_password is not None:
        await crud.users.change_password(
            session, user=user, password_hash=await hash_password(body.new_password)
        )
        await publish_revocation(
            state.publisher,
            RevocationData(user_id=user.id, session_id=None, reason="password_changed"),
        )
        log.info("password_changed", user_id=user.id)
    else:
        await session.commit()
    return user


@router.get("", response_model=list[UserOut])
async def search_users(
    session: SessionDep,
    _principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")],
) -> list[User]:
    return await crud.users.search(session, prefix=q)


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: PositiveId, session: SessionDep, _principal: PrincipalDep) -> User:
    user = await crud.users.get(session, user_id=user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="user not found")
    return user
