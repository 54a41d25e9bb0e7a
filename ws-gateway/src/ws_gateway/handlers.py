"""One socket's life: auth (socket_auth.py), then one frame at a time in arrival order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chat_contracts import server_frames as out_frames
from chat_contracts.events import EventType
from chat_contracts.frames import (
    AuthFrame,
    ClientFrame,
    CloseCode,
    DeleteFrame,
    EditFrame,
    ErrorCode,
    FetchFrame,
    JoinFrame,
    LeaveFrame,
    MessageFrame,
    PresenceFrame,
    ProtocolError,
    ResumeFrame,
    TypingFrame,
    parse_frame,
)
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ws_gateway import resume, socket_auth
from ws_gateway.api_client import ApiError
from ws_gateway.connection import Connection
from ws_gateway.context import GatewayContext
from ws_gateway.metrics import ACKS, MESSAGE_ACK_SECONDS, NACKS, frames_in


async def handle(ctx: GatewayContext, ws: ServerConnection) -> None:
    s = ctx.settings
    conn = Connection(ws, queue_max=s.send_queue_max, rate=s.rate_per_second, burst=s.rate_burst)
    ctx.index.add_connection(conn)
    expiry: asyncio.Task[None] | None = None
    try:
        if not await socket_auth.authenticate_first(ctx, conn):
            return
        expiry = asyncio.create_task(socket_auth.watch_expiry(ctx, conn), name=f"expiry-{conn.id}")
        async for raw in ws:
            if conn.closing:
                break
            await _on_frame(ctx, conn, raw)
    except ConnectionClosed:
        pass
    finally:
        if expiry is not None:
            expiry.cancel()
        rooms = list(conn.rooms)
        ctx.index.remove_connection(conn)
        for room_id in rooms:
            await ctx.presence.left(room_id, conn.user_id)
        await conn.finish(ctx.settings.close_timeout_seconds + 1)


async def _on_frame(ctx: GatewayContext, conn: Connection, raw: str | bytes) -> None:
    s = ctx.settings
    if conn.bucket.take():
        if conn.bucket.was_full:
            conn.violations = 0  # calm for a whole burst since: old refusals are forgiven
    else:
        frames_in("rate_limited").inc()
        conn.violations += 1
        if conn.violations > s.rate_abuse_limit:
            conn.close(CloseCode.POLICY, "rate limit abuse", flush=True)
        else:  # at most RATE_ABUSE_LIMIT replies: every refused frame is told so
            conn.send(_rate_limited(raw))
        return
    try:
        frame = parse_frame(raw)
    except ProtocolError as exc:
        frames_in("invalid").inc()
        conn.send(out_frames.error(exc.code, exc.message, exc.ref))
        return
    frames_in(frame.type).inc()
    try:
        await _dispatch(ctx, conn, frame)
    except ApiError as exc:
        conn.send(_api_error_frame(exc, frame))


SLOW_DOWN = "slow down"


def _rate_limited(raw: str | bytes) -> dict[str, Any]:
    """The answer to a frame the bucket refused, naming it so the client need not wait for a
    timeout: a message or change gets its retryable nack (sent again after a pause), anything
    else `rate_limited` with its ref. Parsing costs one validation, at most RATE_ABUSE_LIMIT
    times before the socket is closed or has been calm for a whole burst."""
    try:
        frame = parse_frame(raw)
    except ProtocolError as exc:
        return out_frames.error(ErrorCode.RATE_LIMITED, SLOW_DOWN, exc.ref)
    if isinstance(frame, MessageFrame):
        NACKS.inc()
        return out_frames.message_nack(frame.client_msg_id, True, SLOW_DOWN, frame.ref)
    if isinstance(frame, EditFrame | DeleteFrame):
        return out_frames.change_nack(frame.message_id, True, SLOW_DOWN, frame.ref)
    return out_frames.error(ErrorCode.RATE_LIMITED, SLOW_DOWN, frame.ref)


def _api_error_frame(exc: ApiError, frame: ClientFrame) -> dict[str, Any]:
    code = {403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND}.get(exc.status)
    if code is None:
        code = ErrorCode.UNAVAILABLE if exc.retryable else ErrorCode.API_ERROR
    out = out_frames.error(code, exc.detail, frame.ref)
    room_id = getattr(frame, "room_id", None)
    if room_id is not None:
        out["room_id"] = room_id
    return out


async def _dispatch(ctx: GatewayContext, conn: Connection, frame: ClientFrame) -> None:
    if isinstance(frame, MessageFrame):
        await _store(ctx, conn, frame)
    elif isinstance(frame, EditFrame | DeleteFrame):
        await _edit_or_delete(ctx, conn, frame)
    elif isinstance(frame, JoinFrame):
        room = await resume.attach(ctx, conn, frame.room_id)
        head, last_seq = int(room.get("event_seq", 0)), int(room.get("last_seq", 0))
        conn.rooms[frame.room_id].start(head)
        conn.send(out_frames.joined(frame.room_id, last_seq, head, frame.ref))
        conn.finish_replay(frame.room_id)
    elif isinstance(frame, LeaveFrame):
        conn.rejoining.discard(frame.room_id)
        if frame.room_id in conn.rooms:
            ctx.index.leave(conn, frame.room_id)
            await ctx.presence.left(frame.room_id, conn.user_id)
        conn.send(out_frames.left(frame.room_id, frame.ref))
    elif isinstance(frame, TypingFrame):
        await _typing(ctx, conn, frame)
    elif isinstance(frame, PresenceFrame):
        if _require_joined(conn, frame.room_id, frame.ref):
            online = await ctx.presence.online(frame.room_id)
            conn.send(out_frames.presence(frame.room_id, online, frame.ref))
    elif isinstance(frame, ResumeFrame):
        await _resume(ctx, conn, frame)
    elif isinstance(frame, FetchFrame):
        if _require_joined(conn, frame.room_id, frame.ref):
            head = await resume.replay(
                ctx, conn, frame.room_id, frame.after_event_seq, dedupe=False
            )
            conn.send(out_frames.fetched(frame.room_id, head, frame.ref))
    elif isinstance(frame, AuthFrame):
        await socket_auth.reauth(ctx, conn, frame)


async def _resume(ctx: GatewayContext, conn: Connection, frame: ResumeFrame) -> None:
    """The user stream first (it says which rooms were added or removed), then each room."""
    if frame.user_seq is not None:
        try:
            await resume.resume_user(ctx, conn, frame.user_seq)
        except ApiError as exc:
            conn.send(_api_error_frame(exc, frame))  # no user_resumed: the client asks again
    for room_id, after in frame.rooms.items():
        try:
            await resume.resume_room(ctx, conn, room_id, after)
        except ApiError as exc:
            out = _api_error_frame(exc, frame)
            out["room_id"] = room_id
            conn.send(out)


def _require_joined(conn: Connection, room_id: int, ref: str | int | None) -> bool:
    if room_id in conn.rooms:
        return True
    out = out_frames.error(ErrorCode.NOT_JOINED, "join the room first", ref)
    out["room_id"] = room_id
    conn.send(out)
    return False


async def _typing(ctx: GatewayContext, conn: Connection, frame: TypingFrame) -> None:
    if not _require_joined(conn, frame.room_id, frame.ref):
        return
    now = time.monotonic()
    if now - conn.typing_at.get(frame.room_id, 0.0) < ctx.settings.typing_min_interval_seconds:
        return  # ephemeral: extra typing frames are dropped silently
    conn.typing_at[frame.room_id] = now
    payload = {
        "room_id": frame.room_id,
        "user_id": conn.user_id,
        "replica": ctx.settings.replica_id,
        "conn": conn.id,
    }
    await ctx.broker.publish_typing(payload)


async def _store(ctx: GatewayContext, conn: Connection, frame: MessageFrame) -> None:
    started = time.perf_counter()
    if frame.room_id not in conn.rooms:
        # The API would store it (the user may be a member over REST), but this socket is
        # not subscribed: the sender would miss the room's events around its own message.
        # Retryable only while a join/resume of the room waits for the API to answer again.
        NACKS.inc()
        retry = frame.room_id in conn.rejoining
        conn.send(
            out_frames.message_nack(
                frame.client_msg_id, retry, "not joined: join the room first", frame.ref
            )
        )
        return
    if ctx.stores_closed:
        NACKS.inc()
        conn.send(
            out_frames.message_nack(
                frame.client_msg_id, True, "draining: reconnect and resend", frame.ref
            )
        )
        return
    ctx.inflight += 1
    try:
        msg = await ctx.store.store(
            conn.token,
            room_id=frame.room_id,
            content=frame.content,
            client_msg_id=frame.client_msg_id,
        )
    except ApiError as exc:
        NACKS.inc()
        conn.send(
            out_frames.message_nack(
                frame.client_msg_id, _retryable(conn, exc), exc.detail, frame.ref
            )
        )
        return
    finally:
        ctx.inflight -= 1
    ACKS.inc()
    conn.send(out_frames.message_ack(frame.client_msg_id, msg.model_dump(mode="json"), frame.ref))
    MESSAGE_ACK_SECONDS.observe(time.perf_counter() - started)
    ctx.broker.local_echo(EventType.MESSAGE_CREATED, msg)


def _retryable(conn: Connection, exc: ApiError) -> bool:
    """A 401 while the socket's token has expired (re-auth pending) passes once the client
    re-authenticates. Nacked retryable rather than held: clients resend retryable nacks with
    the same client_msg_id (stored at most once), while holding needs a per-socket queue
    bounded by size and the grace deadline, and answers for frames held past a close."""
    expired = conn.identity is not None and conn.identity.exp <= time.time()
    return exc.retryable or (exc.status == 401 and expired)


async def _edit_or_delete(
    ctx: GatewayContext, conn: Connection, frame: EditFrame | DeleteFrame
) -> None:
    try:
        if isinstance(frame, EditFrame):
            msg = await ctx.api.edit_message(conn.token, frame.message_id, frame.content)
            event = EventType.MESSAGE_UPDATED
        else:
            msg = await ctx.api.delete_message(conn.token, frame.message_id)
            event = EventType.MESSAGE_DELETED
    except ApiError as exc:
        NACKS.inc()
        retry = _retryable(conn, exc)
        conn.send(out_frames.change_nack(frame.message_id, retry, exc.detail, frame.ref))
        return
    ACKS.inc()
    message = msg.model_dump(mode="json")
    conn.send(out_frames.change_ack(frame.message_id, message, frame.ref))
    ctx.broker.local_echo(event, msg)
