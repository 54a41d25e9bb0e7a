"""Redis channel and key names. Both the API (publisher) and the gateway use these."""

from __future__ import annotations

ROOM_CHANNEL_PREFIX = "chat:room:"
ROOM_CHANNEL_PATTERN = ROOM_CHANNEL_PREFIX + "*"
# Logout, password change and bans are announced here so every gateway replica
# can close the affected sockets.
REVOCATION_CHANNEL = "chat:revocations"
# Each gateway replica sends a canary through Redis on its own channel.
PROBE_CHANNEL_PREFIX = "chat:probe:"
PRESENCE_KEY_PREFIX = "chat:presence:"


def room_channel(room_id: int) -> str:
    return f"{ROOM_CHANNEL_PREFIX}{room_id}"


def room_id_from_channel(channel: str) -> int | None:
    if not channel.startswith(ROOM_CHANNEL_PREFIX):
        return None
    tail = channel[len(ROOM_CHANNEL_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def probe_channel(replica_id: str) -> str:
    return f"{PROBE_CHANNEL_PREFIX}{replica_id}"


def presence_key(room_id: int) -> str:
    return f"{PRESENCE_KEY_PREFIX}{room_id}"
