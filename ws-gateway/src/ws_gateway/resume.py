"""Replays from the API's event streams: join (from the room's head), resume (from the
client's event seqs, rooms and user stream), gap fill (fetch) and server-side catch-up
after the event feed (Redis, or the API's stream) was lost.

A replay is a snapshot: each changed message once in its current state, plus the other
events, up to the stream's `head`. Live events for that stream are buffered on the socket
while it runs, then flushed with per-event-seq dedupe against `head`, so a socket sees
each change once and ends with exactly the server's state.
"""

from __future__ import annotations

from typing import Any

import structlog
from chat_contracts import server_frames as out_frames
from chat_contracts.events import StreamEvent

from ws_gateway.api_client import ApiError
from ws_gateway.connection import Connection, StreamState
from ws_gateway.context import GatewayContext
from ws_gateway.metrics import RESUME_REPLAYED
from ws_gateway.rooms import room_event_frame

log = structlog.get_logger("ws_gateway.resume")


def _room_frame(item: StreamEvent) -> dict[str, Any]:
    if item.message is not None:
        payload = item.message.model_dump(mode="json")
    else:
        payload = item.data or {}
    frame = room_event_frame(item.event.value, item.room_id or 0, item.event_seq, item.seq, payload)
    frame["replay"] = True
    return frame


async def attach(ctx: GatewayContext, conn: Connection, room_id: int) -> dict[str, Any]:
    """Subscribe the socket to a room (buffering) and return the Room from the API.

    The socket is indexed before the API call so nothing published meanwhile is lost;
    on refusal it is removed again and ApiError propagates, as it does when the user's
    member.left/removed unsubscribed the socket while the call was under way.
    """
    existing = conn.rooms.get(room_id)
    if existing is None:
        conn.rooms[room_id] = StreamState()
        ctx.index.join(conn, room_id)
    elif existing.buffer is None:
        existing.buffer = []
    state = conn.rooms[room_id]
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
    if conn.rooms.get(room_id) is not state:
        # The user's member.left/removed came in while we awaited the API or presence (a
        # leave committed just after the API's read) and unsubscribed the socket: refused,
        # as the API would refuse it now.
        if existing is None:
            await ctx.presence.left(room_id, conn.user_id)
        raise ApiError(403, "not a member of this room")
    return room


async def replay(
    ctx: GatewayContext, conn: Connection, room_id: int, after: int, *, dedupe: bool = True
) -> int:
    """Send the room's events after `after`; returns the head the socket now holds.

    Deduped through the socket's room state unless asked (a gap fill wants exactly the
    range it named). Either way every event sent is recorded as seen, so its late live
    publish is not delivered a second time."""
    state = conn.rooms.get(room_id)
    sent, head = 0, after
    async for page in ctx.api.room_events(conn.token, room_id, after):
        if state is not None and conn.rooms.get(room_id) is not state:
            break  # the member left meanwhile (intake.py unsubscribed the socket)
        head = max(head, page.head)
        for item in page.events:
            fresh = state is None or state.accept(item.event_seq)
            if fresh or not dedupe:
                conn.send(_room_frame(item))
                sent += 1
    if state is not None:
        state.start(head)
    RESUME_REPLAYED.inc(sent)
    return head


async def resume_room(ctx: GatewayContext, conn: Connection, room_id: int, after: int) -> None:
    room = await attach(ctx, conn, room_id)
    state = conn.rooms[room_id]
    head, last_seq = int(room.get("event_seq", 0)), int(room.get("last_seq", 0))
    try:
        if head - after > ctx.settings.resume_cap:
            state.start(head)
            conn.send(out_frames.reset(room_id, last_seq, head))
            return
        state.restart_at(after)
        head = await replay(ctx, conn, room_id, after)
        if conn.rooms.get(room_id) is state:  # else the member left during the replay
            conn.send(out_frames.resumed(room_id, last_seq, head))
    finally:
        conn.finish_replay(room_id)


async def _replay_user(ctx: GatewayContext, conn: Connection, after: int) -> int:
    """The user's own events after `after`; returns the head the socket now holds."""
    state = conn.user_stream
    state.buffer = []
    state.restart_at(after)
    head = after
    try:
        async for page in ctx.api.user_events(conn.token, after):
            head = max(head, page.head)
            for item in page.events:
                if state.accept(item.event_seq):
                    data = item.data or {}
                    conn.send(out_frames.user_event(item.event.value, item.event_seq, data))
        state.start(head)
    finally:
        conn.finish_replay(None)
    return head


async def resume_user(ctx: GatewayContext, conn: Connection, after: int) -> None:
    """The user stream (rooms added/removed, markers, profiles) replayed, then confirmed."""
    conn.send(out_frames.user_resumed(await _replay_user(ctx, conn, after)))


async def catch_up(ctx: GatewayContext, conn: Connection) -> None:
    """After the event feed came back: fetch what the socket's streams missed meanwhile."""
    try:
        if conn.user_stream.buffer is None:  # else a resume's replay is running already
            await _replay_user(ctx, conn, conn.user_stream.floor)
    except ApiError as exc:
        log.warning("catch_up_failed", conn=conn.id, stream="user", status=exc.status)
    for room_id, state in list(conn.rooms.items()):
        if state.buffer is not None:
            continue  # a join/resume replay is already running for this room
        state.buffer = []
        try:
            await replay(ctx, conn, room_id, state.floor)
        except ApiError as exc:
            log.warning("catch_up_failed", conn=conn.id, room_id=room_id, status=exc.status)
        finally:
            conn.finish_replay(room_id)
