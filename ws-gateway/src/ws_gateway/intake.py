"""What the gateway does with each event from its feed (Redis, or the API's own stream).

Room events fan out to the room's sockets; once a member is gone (left, removed) their
sockets stop receiving the room. User events go to that user's sockets; session.revoked
closes them (and drops cached tokens on every replica, since every replica hears it).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from chat_contracts import server_frames as out_frames
from chat_contracts.events import MEMBER_GONE, Envelope, EventType, RevocationData
from chat_contracts.frames import CloseCode
from pydantic import ValidationError

from ws_gateway import resume
from ws_gateway.context import GatewayContext

Spawn = Callable[[Coroutine[Any, Any, None]], None]


def wire(ctx: GatewayContext, spawn: Spawn) -> None:
    h = ctx.broker.handlers

    def detach(user_id: int, room_id: int) -> None:
        for conn in ctx.index.user_sockets(user_id):
            conn.rejoining.discard(room_id)
            if room_id in conn.rooms:
                # What a running replay held back (this member.left among it) goes out
                # first: once unsubscribed, the buffer would be dropped with the state.
                conn.finish_replay(room_id)
                ctx.index.leave(conn, room_id)
                spawn(ctx.presence.left(room_id, user_id))

    def on_event(env: Envelope) -> None:
        ctx.index.broadcast_envelope(env)  # the member who is gone hears of it too
        if env.type in MEMBER_GONE and env.room_id is not None:
            user = env.data.get("user")
            if isinstance(user, dict) and isinstance(user.get("id"), int):
                detach(user["id"], env.room_id)

    def on_user_event(env: Envelope) -> None:
        if env.user_id is None:
            return
        if env.type is EventType.SESSION_REVOKED:
            try:
                revoke(RevocationData.model_validate(env.data))
            except ValidationError:
                return
        ctx.index.deliver_user_event(env)
        if env.type is EventType.ROOM_REMOVED and isinstance(env.data.get("room_id"), int):
            detach(env.user_id, env.data["room_id"])

    def revoke(rev: RevocationData) -> None:
        ctx.validator.purge(rev.user_id, rev.session_id)
        for conn in ctx.index.user_sockets(rev.user_id):
            if rev.session_id is None or (conn.identity and conn.identity.sid == rev.session_id):
                conn.close(CloseCode.POLICY, f"revoked: {rev.reason}")

    def on_typing(payload: dict[str, Any]) -> None:
        room_id, user_id = int(payload["room_id"]), int(payload["user_id"])
        skip = payload.get("conn") if payload.get("replica") == ctx.settings.replica_id else None
        ctx.index.broadcast(room_id, out_frames.typing(room_id, user_id), skip=skip)

    def on_resync() -> None:
        for conn in list(ctx.index.connections):
            if conn.identity is not None:
                spawn(resume.catch_up(ctx, conn))

    h.on_event = on_event
    h.on_user_event = on_user_event
    h.on_typing = on_typing
    h.on_resync = on_resync
