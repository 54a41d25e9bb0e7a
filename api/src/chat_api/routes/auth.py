"""Register, login, refresh (rotating), logout."""

from __future__ import annotations

from typing import Annotated

import structlog
from chat_contracts.tokens import InvalidTokenError, TokenClaims, TokenType
from fastapi import APIRouter, Cookie, Depends, HTTPException, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chat_api.actions import accounts, sessions as auth_sessions
from chat_api.deps import SessionDep, StateDep, unauthorized
from chat_api.models import User
from chat_api.queries import users
from chat_api.ratelimit import RateLimited
from chat_api.schemas import LoginIn, RefreshIn, RegisterIn, TokenOut, UserOut
from chat_api.security import hash_password, verify_password
from chat_api.state import AppState

router = APIRouter(tags=["auth"])
log = structlog.get_logger(__name__)
REFRESH_COOKIE = "chat_refresh"
_bearer = HTTPBearer(auto_error=False)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(exc: RateLimited) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail="too many attempts, slow down",
        headers={"Retry-After": str(exc.retry_after)},
    )


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(
    body: RegisterIn, request: Request, session: SessionDep, state: StateDep
) -> User:
    try:
        await state.limits.check("register", (state.limits.register_ip, client_ip(request)))
    except RateLimited as exc:
        raise _too_many(exc) from exc
    try:
        user = await accounts.register(
            session,
            username=body.username,
            password_hash=await hash_password(body.password),
            display_name=body.display_name or body.username,
        )
    except accounts.UsernameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username already taken") from exc
    log.info("user_registered", user_id=user.id)
    return user


def _set_refresh_cookie(response: Response, state: AppState, token: str) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=state.settings.refresh_token_ttl_seconds,
        path=state.settings.api_prefix or "/",
        httponly=True,
        secure=state.settings.cookie_secure,
        samesite="strict",
    )


async def _issue(
    session: SessionDep,
    state: AppState,
    response: Response,
    user: User,
    *,
    rotate_from: TokenClaims | None,
) -> TokenOut:
    sid = rotate_from.sid if rotate_from else auth_sessions.new_session_id()
    pair = state.tokens.issue_pair(user_id=user.id, session_id=sid, version=user.token_version)
    if rotate_from is None:
        await auth_sessions.start(
            session,
            user_id=user.id,
            session_id=sid,
            refresh_jti=pair.refresh_claims.jti,
            ttl_seconds=state.settings.refresh_token_ttl_seconds,
        )
    elif not await auth_sessions.rotate_refresh(
        session, session_id=sid, old_jti=rotate_from.jti, new_jti=pair.refresh_claims.jti
    ):
        # A refresh token used twice means it leaked: end the whole session.
        await auth_sessions.revoke(
            session, state.publisher, user_id=user.id, session_id=sid, reason="refresh_reused"
        )
        log.warning("refresh_replay", user_id=user.id)
        raise unauthorized("refresh token reused; session revoked")
    _set_refresh_cookie(response, state, pair.refresh)
    return TokenOut(
        access_token=pair.access,
        expires_in=state.settings.access_token_ttl_seconds,
        refresh_token=pair.refresh,
        user=UserOut.model_validate(user),
    )


@router.post("/login", response_model=TokenOut)
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, state: StateDep
) -> TokenOut:
    username = body.username.strip().lower()
    try:
        await state.limits.check(
            "login",
            (state.limits.login_ip, client_ip(request)),
            (state.limits.login_user, username),
        )
    except RateLimited as exc:
        raise _too_many(exc) from exc
    user = await users.get_by_username(session, username=username)
    # Unknown user and wrong password take the same path and the same Argon2 time.
    ok = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not ok:
        log.info("login_failed")
        raise unauthorized("invalid username or password")
    log.info("login", user_id=user.id)
    return await _issue(session, state, response, user, rotate_from=None)


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses={204: {"description": "`optional=true` and no refresh token sent: signed out"}},
)
async def refresh(
    response: Response,
    session: SessionDep,
    state: StateDep,
    body: RefreshIn | None = None,
    chat_refresh: Annotated[str | None, Cookie(max_length=2048)] = None,
    optional: Annotated[bool, Query()] = False,
) -> TokenOut | Response:
    """`optional=true` is the page-load probe: no token at all is 204 (signed out, and no
    failed request in the browser's console); a token that is bad or revoked is still 401."""
    token = (body.refresh_token if body else None) or chat_refresh
    if not token:
        if optional:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        raise unauthorized("refresh token missing")
    try:
        claims = state.tokens.decode(token, TokenType.REFRESH)
    except InvalidTokenError as exc:
        raise unauthorized(str(exc)) from exc
    user = await users.active_user_for_claims(session, claims)
    if user is None:
        raise unauthorized("session revoked")
    return await _issue(session, state, response, user, rotate_from=claims)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    response: Response,
    session: SessionDep,
    state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    chat_refresh: Annotated[str | None, Cookie(max_length=2048)] = None,
) -> Response:
    """Ends the session named by the access token, or else by the refresh cookie."""
    claims = None
    candidates = (
        (creds.credentials if creds else None, TokenType.ACCESS),
        (chat_refresh, TokenType.REFRESH),
    )
    for token, kind in candidates:
        if not token:
            continue
        try:
            claims = state.tokens.decode(token, kind)
            break
        except InvalidTokenError:
            continue
    if claims is None:
        raise unauthorized()
    await auth_sessions.revoke(
        session, state.publisher, user_id=claims.user_id, session_id=claims.sid, reason="logout"
    )
    log.info("logout", user_id=claims.user_id)
    out = Response(status_code=status.HTTP_204_NO_CONTENT)
    out.delete_cookie(REFRESH_COOKIE, path=state.settings.api_prefix or "/")
    return out
