"""A socket's authentication: the first frame, re-auth with a fresh token, and the expiry
watch that asks for one (docs: ws-gateway/README.md, Handshake and close codes)."""

from __future__ import annotations

import asyncio
import time

import structlog
from chat_contracts import server_frames as out_frames
from chat_contracts.frames import AuthFrame, CloseCode, ProtocolError, parse_frame

from ws_gateway.auth import AuthUnavailable, Identity, TokenRejected
from ws_gateway.connection import Connection
from ws_gateway.context import GatewayContext
from ws_gateway.metrics import frames_in

log = structlog.get_logger("ws_gateway.socket_auth")


async def authenticate_first(ctx: GatewayContext, conn: Connection) -> bool:
    try:
        raw = await asyncio.wait_for(conn.ws.recv(), ctx.settings.auth_timeout_seconds)
    except TimeoutError:
        await conn.ws.close(CloseCode.POLICY, "auth timeout")
        return False
    try:
        frame = parse_frame(raw)
    except ProtocolError as exc:
        frames_in("invalid").inc()
        await conn.ws.close(CloseCode.POLICY, f"first frame must be auth ({exc.code.value})")
        return False
    frames_in(frame.type).inc()
    if not isinstance(frame, AuthFrame):
        await conn.ws.close(CloseCode.POLICY, "first frame must be auth")
        return False
    identity = await _validated(ctx, conn, frame)
    if identity is None:
        return False
    # Refused before auth_ok, so a socket over the limit never looks accepted; no await
    # between this check and set_user, so two handshakes cannot both take the last slot.
    limit = ctx.settings.max_sockets_per_user
    if len(ctx.index.user_sockets(identity.user_id)) >= limit:
        await conn.ws.close(CloseCode.POLICY, f"too many sockets for this user (limit {limit})")
        return False
    _accept(conn, identity, frame)
    ctx.index.set_user(conn)
    structlog.contextvars.bind_contextvars(conn=conn.id, user_id=conn.user_id)
    return True


async def _validated(ctx: GatewayContext, conn: Connection, frame: AuthFrame) -> Identity | None:
    """The token's identity (first auth or re-auth); None when refused: the socket closes."""
    try:
        return await ctx.validator.validate(frame.token)
    except TokenRejected as exc:
        log.info("auth_rejected", conn=conn.id, reason=str(exc))
        conn.close(CloseCode.POLICY, "authentication failed")
    except AuthUnavailable as exc:
        log.warning("auth_unavailable", conn=conn.id, error=str(exc))
        conn.close(CloseCode.TRY_AGAIN_LATER, "authentication unavailable, retry")
    return None


def _accept(conn: Connection, identity: Identity, frame: AuthFrame) -> None:
    first = conn.identity is None
    conn.identity = identity
    if first:
        # Live user events from here on are new; a `resume` with an older user_seq replays.
        conn.user_stream.start(identity.user_seq)
    conn.token = frame.token
    conn.reauth_deadline = None
    conn.send(out_frames.auth_ok(identity.user_id, identity.exp, identity.user_seq, frame.ref))


async def reauth(ctx: GatewayContext, conn: Connection, frame: AuthFrame) -> None:
    identity = await _validated(ctx, conn, frame)
    if identity is None:
        return
    if identity.user_id != conn.user_id:
        conn.close(CloseCode.POLICY, "re-auth must keep the same user")
        return
    _accept(conn, identity, frame)


async def watch_expiry(ctx: GatewayContext, conn: Connection) -> None:
    """At expiry ask for a fresh token; close 1008 if none arrives within the grace period."""
    grace = ctx.settings.reauth_grace_seconds
    while not conn.closing and conn.identity is not None:
        wait = conn.identity.exp - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
            continue
        if conn.reauth_deadline is None:
            conn.reauth_deadline = time.monotonic() + grace
            conn.send(out_frames.reauth_required(grace))
        remaining = conn.reauth_deadline - time.monotonic()
        if remaining <= 0:
            conn.close(CloseCode.POLICY, "token expired")
            return
        await asyncio.sleep(min(remaining, 0.5))
