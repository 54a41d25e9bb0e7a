"""Redis channel and key names. Both the API (publisher) and the gateway use these."""

from __future__ import annotations

ROOM_CHANNEL_PREFIX = "chat:room:"
ROOM_CHANNEL_PATTERN = ROOM_CHANNEL_PREFIX + "*"
# One user's stream (room.added, read.moved, session.revoked, ...): every gateway replica
# listens, since any of them may hold that user's sockets or cache their token.
USER_CHANNEL_PREFIX = "chat:user:"
USER_CHANNEL_PATTERN = USER_CHANNEL_PREFIX + "*"
# Each gateway replica sends a canary through Redis on its own channel.
PROBE_CHANNEL_PREFIX = "chat:probe:"
PRESENCE_KEY_PREFIX = "chat:presence:"


def room_channel(room_id: int) -> str:
    return f"{ROOM_CHANNEL_PREFIX}{room_id}"


def user_channel(user_id: int) -> str:
    return f"{USER_CHANNEL_PREFIX}{user_id}"


def _id_after(prefix: str, channel: str) -> int | None:
    if not channel.startswith(prefix):
        return None
    tail = channel[len(prefix) :]
    return int(tail) if tail.isdigit() else None


def room_id_from_channel(channel: str) -> int | None:
    return _id_after(ROOM_CHANNEL_PREFIX, channel)


def user_id_from_channel(channel: str) -> int | None:
    return _id_after(USER_CHANNEL_PREFIX, channel)


def probe_channel(replica_id: str) -> str:
    return f"{PROBE_CHANNEL_PREFIX}{replica_id}"


def presence_key(room_id: int) -> str:
    return f"{PRESENCE_KEY_PREFIX}{room_id}"
