"""Local index room -> sockets (and user -> sockets); fan-out encodes each frame once."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chat_contracts import server_frames as out_frames
from chat_contracts.events import Envelope, EventType
from chat_contracts.frames import encode

from ws_gateway.connection import Connection, RoomState, fan_out, fan_out_frame
from ws_gateway.metrics import CONNECTIONS, MESSAGE_DELIVERY_SECONDS, frames_out

MESSAGE_EVENTS = frozenset(
    (EventType.MESSAGE_CREATED, EventType.MESSAGE_UPDATED, EventType.MESSAGE_DELETED)
)


class RoomIndex:
    def __init__(self) -> None:
        # room -> member socket -> that socket's RoomState (the object in conn.rooms): fan-out
        # reads both in one step instead of a conn.rooms lookup per socket.
        self.rooms: dict[int, dict[Connection, RoomState]] = defaultdict(dict)
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
        """One API event -> one encoded frame -> every local socket in the room."""
        if env.type not in MESSAGE_EVENTS or env.room_id is None or env.seq is None:
            return
        members = self.rooms.get(env.room_id)
        if not members:
            return
        data = encode(out_frames.event(env.type.value, env.room_id, env.seq, env.data))
        created = env.type is EventType.MESSAGE_CREATED
        # Counted here, once per fan-out, not per socket (see metrics.frames_out).
        sent = fan_out(tuple(members.items()), env.seq, created, data, "event")
        if sent:
            frames_out("event").inc(sent)
        MESSAGE_DELIVERY_SECONDS.observe(max(time.time() - env.ts, 0.0))

    def broadcast(self, room_id: int, frame: dict[str, Any], *, skip: int | None = None) -> None:
        """Ephemeral frames (typing, presence) to every local socket in a room."""
        members = self.rooms.get(room_id)
        if not members:
            return
        sent = fan_out_frame(tuple(members), encode(frame), skip)
        if sent:
            frames_out(str(frame["type"])).inc(sent)
