"""Replays from the API: join (from the room's last_seq), resume (from the client's seqs),
gap fill (fetch) and server-side catch-up after a Redis resubscribe.

Live events for a room are buffered on the socket while its replay runs, then merged
with per-seq dedupe, so a socket sees each message.created once and in order.
"""

from __future__ import annotations

from typing import Any

import structlog
from chat_contracts import server_frames as out_frames

from ws_gateway.api_client import ApiError
from ws_gateway.connection import Connection, RoomState
from ws_gateway.context import GatewayContext
from ws_gateway.metrics import RESUME_REPLAYED

log = structlog.get_logger("ws_gateway.resume")


def _replay_frame(msg: Any) -> dict[str, Any]:
    """Replays carry the message's current state (edited/deleted flags included)."""
    frame = out_frames.event("message.created", msg.room_id, msg.seq, msg.model_dump(mode="json"))
    frame["replay"] = True
    return frame


async def attach(ctx: GatewayContext, conn: Connection, room_id: int) -> dict[str, Any]:
    """Subscribe the socket to a room (buffering) and return the Room from the API.

    The socket is indexed before the API call so nothing published meanwhile is lost;
    on refusal it is removed again and ApiError propagates.
    """
    existing = conn.rooms.get(room_id)
    if existing is None:
        conn.rooms[room_id] = RoomState()
        ctx.index.join(conn, room_id)
    elif existing.buffer is None:
        existing.buffer = []
    try:
        room: dict[str, Any] = await ctx.api.get_room(conn.token, room_id)
    except ApiError as exc:
        if exc.retryable:
            conn.rejoining.add(room_id)
        else:
            conn.rejoining.discard(room_id)
        if existing is None:
            ctx.index.leave(conn, room_id)
        else:
            conn.finish_replay(room_id)
        raise
    conn.rejoining.discard(room_id)
    if existing is None:
        await ctx.presence.joined(room_id, conn.user_id)
    return room


async def replay(
    ctx: GatewayContext,
    conn: Connection,
    room_id: int,
    after: int,
    before: int | None = None,
    *,
    dedupe: bool = True,
) -> int:
    """Send events after `after`; deduped through the socket's room state unless asked
    explicitly (a gap fill wants exactly the range it named). Either way every seq sent is
    recorded as seen, so its late live publish is not delivered a second time."""
    state = conn.rooms.get(room_id)
    sent = 0
    async for page in ctx.api.messages_after(conn.token, room_id, after, before):
        for msg in page:
            fresh = state is None or state.accept(msg.seq)
            if fresh or not dedupe:
                conn.send(_replay_frame(msg))
                sent += 1
        if sent >= ctx.settings.resume_cap:
            break
    RESUME_REPLAYED.inc(sent)
    return sent


async def resume_room(ctx: GatewayContext, conn: Connection, room_id: int, last_seq: int) -> None:
    room = await attach(ctx, conn, room_id)
    state = conn.rooms[room_id]
    head = int(room.get("last_seq", 0))
    try:
        if head - last_seq > ctx.settings.resume_cap:
            state.start(head)
            conn.send(out_frames.reset(room_id, head))
            return
        state.start(last_seq)
        await replay(ctx, conn, room_id, last_seq)
        conn.send(out_frames.resumed(room_id, state.high))
    finally:
        conn.finish_replay(room_id)


async def catch_up(ctx: GatewayContext, conn: Connection) -> None:
    """After Redis came back: fetch what each joined room missed while unsubscribed."""
    for room_id, state in list(conn.rooms.items()):
        if state.buffer is not None:
            continue  # a join/resume replay is already running for this room
        state.buffer = []
        try:
            await replay(ctx, conn, room_id, state.high)
        except ApiError as exc:
            log.warning("catch_up_failed", conn=conn.id, room_id=room_id, status=exc.status)
        finally:
            conn.finish_replay(room_id)
