"""FastAPI dependencies: DB session, app state, the authenticated user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from chat_contracts.tokens import InvalidTokenError, TokenClaims, TokenType
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.models import User
from chat_api.queries import users
from chat_api.state import AppState


async def get_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread
    # hand-off on every request for what is an attribute read.
    state: AppState = request.app.state.chat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
_bearer = HTTPBearer(auto_error=False)


def unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


@dataclass(frozen=True)
class Principal:
    user: User
    claims: TokenClaims
    token: str


async def authenticate(session: AsyncSession, state: AppState, token: str) -> Principal:
    """Signature, claims, type, session not revoked, token version current."""
    try:
        claims = state.tokens.decode(token, TokenType.ACCESS)
    except InvalidTokenError as exc:
        raise unauthorized(str(exc)) from exc
    user = await users.active_user_for_claims(session, claims)
    if user is None:
        raise unauthorized("token revoked")
    return Principal(user=user, claims=claims, token=token)


async def get_principal(
    session: SessionDep,
    state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise unauthorized()
    return await authenticate(session, state, creds.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
