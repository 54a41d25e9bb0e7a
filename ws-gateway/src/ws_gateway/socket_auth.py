"""A socket's authentication: the first frame, re-auth with a fresh token, and the expiry
watch that asks for one (see ws-gateway/README.md, Handshake and close codes)."""

from __future__ import annotations

import asyncio
import time

import structlog

from ws_gateway.auth import AuthUnavailable, TokenRejected
from ws_gateway.connection import Connection
from ws_gateway.context import GatewayContext
from ws_gateway.metrics import frames_in
from ws_gateway.protocol import AuthFrame, CloseCode, ProtocolError, parse_frame, with_ref

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
    if not await authenticate(ctx, conn, frame):
        return False
    if len(ctx.index.user_sockets(conn.user_id)) >= ctx.settings.max_sockets_per_user:
        await conn.ws.close(CloseCode.POLICY, "too many sockets for this user")
        return False
    ctx.index.set_user(conn)
    structlog.contextvars.bind_contextvars(conn=conn.id, user_id=conn.user_id)
    return True


async def authenticate(ctx: GatewayContext, conn: Connection, frame: AuthFrame) -> bool:
    """Validate (first auth or re-auth); on failure the socket is closed."""
    try:
        identity = await ctx.validator.validate(frame.token)
    except TokenRejected as exc:
        log.info("auth_rejected", conn=conn.id, reason=str(exc))
        conn.close(CloseCode.POLICY, "authentication failed")
        return False
    except AuthUnavailable as exc:
        log.warning("auth_unavailable", conn=conn.id, error=str(exc))
        conn.close(CloseCode.TRY_AGAIN_LATER, "authentication unavailable, retry")
        return False
    if conn.identity is not None and identity.user_id != conn.identity.user_id:
        conn.close(CloseCode.POLICY, "re-auth must keep the same user")
        return False
    conn.identity = identity
    conn.token = frame.token
    conn.reauth_deadline = None
    conn.send(
        with_ref({"type": "auth_ok", "user_id": identity.user_id, "exp": identity.exp}, frame.ref)
    )
    return True


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
            conn.send({"type": "reauth_required", "grace_seconds": grace})
        remaining = conn.reauth_deadline - time.monotonic()
        if remaining <= 0:
            conn.close(CloseCode.POLICY, "token expired")
            return
        await asyncio.sleep(min(remaining, 0.5))
