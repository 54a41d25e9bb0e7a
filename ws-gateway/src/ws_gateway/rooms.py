"""Local index room -> sockets and user -> sockets; fan-out encodes each frame once."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chat_contracts import server_frames as out_frames
from chat_contracts.events import MESSAGE_EVENTS, ROOM_EVENTS, USER_EVENTS, Envelope
from chat_contracts.frames import encode

from ws_gateway.connection import Connection, StreamState, fan_out, fan_out_frame
from ws_gateway.metrics import CONNECTIONS, MESSAGE_DELIVERY_SECONDS, frames_out


def room_event_frame(
    kind: str, room_id: int, event_seq: int, env_seq: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    """The `event` frame of a room event: message events carry their message."""
    if kind in MESSAGE_EVENTS:
        return out_frames.event(kind, room_id, event_seq, seq=env_seq, message=data)
    return out_frames.event(kind, room_id, event_seq, data=data)


class RoomIndex:
    def __init__(self) -> None:
        # room -> member socket -> that socket's StreamState (the object in conn.rooms): fan-out
        # reads both in one step instead of a conn.rooms lookup per socket.
        self.rooms: dict[int, dict[Connection, StreamState]] = defaultdict(dict)
        self.users: dict[int, set[Connection]] = defaultdict(set)
        self.connections: set[Connection] = set()

    def add_connection(self, conn: Connection) -> None:
        self.connections.add(conn)
        CONNECTIONS.set(len(self.connections))

    def set_user(self, conn: Connection) -> None:
        self.users[conn.user_id].add(conn)

    def remove_connection(self, conn: Connection) -> None:
        self.connections.discard(conn)
        CONNECTIONS.set(len(self.connections))
        for room_id in list(conn.rooms):
            self.leave(conn, room_id)
        sockets = self.users.get(conn.user_id)
        if sockets is not None:
            sockets.discard(conn)
            if not sockets:
                del self.users[conn.user_id]

    def join(self, conn: Connection, room_id: int) -> None:
        self.rooms[room_id][conn] = conn.rooms[room_id]

    def leave(self, conn: Connection, room_id: int) -> None:
        conn.rooms.pop(room_id, None)
        members = self.rooms.get(room_id)
        if members is not None:
            members.pop(conn, None)
            if not members:
                del self.rooms[room_id]

    def user_sockets(self, user_id: int) -> list[Connection]:
        return list(self.users.get(user_id, ()))

    def room_users(self, room_id: int) -> set[int]:
        return {c.user_id for c in self.rooms.get(room_id, ()) if c.identity is not None}

    def broadcast_envelope(self, env: Envelope) -> None:
        """One room event -> one encoded frame -> every local socket in the room."""
        if env.type not in ROOM_EVENTS or env.room_id is None or env.event_seq is None:
            return
        members = self.rooms.get(env.room_id)
        if not members:
            return
        frame = room_event_frame(env.type.value, env.room_id, env.event_seq, env.seq, env.data)
        # Counted here, once per fan-out, not per socket (see metrics.frames_out).
        sent = fan_out(tuple(members.items()), env.event_seq, encode(frame), "event")
        if sent:
            frames_out("event").inc(sent)
        MESSAGE_DELIVERY_SECONDS.observe(max(time.time() - env.ts, 0.0))

    def deliver_user_event(self, env: Envelope) -> None:
        """One user event -> every local socket of that user (deduped per socket)."""
        if env.type not in USER_EVENTS or env.user_id is None or env.event_seq is None:
            return
        sockets = self.users.get(env.user_id)
        if not sockets:
            return
        frame = out_frames.user_event(env.type.value, env.event_seq, env.data)
        members = [(conn, conn.user_stream) for conn in sockets]
        sent = fan_out(members, env.event_seq, encode(frame), "user_event")
        if sent:
            frames_out("user_event").inc(sent)

    def broadcast(self, room_id: int, frame: dict[str, Any], *, skip: int | None = None) -> None:
        """Ephemeral frames (typing, presence) to every local socket in a room."""
        members = self.rooms.get(room_id)
        if not members:
            return
        sent = fan_out_frame(tuple(members), encode(frame), skip)
        if sent:
            frames_out(str(frame["type"])).inc(sent)
