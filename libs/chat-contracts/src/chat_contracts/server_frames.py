"""Server -> client frames: one builder per frame type, so each shape is written once.

`ref` is the client frame's `ref`, echoed so the client can match the reply. The types
are `frames.ServerFrame`; docs/contract.md and ws-gateway/README.md describe each one.
"""

from __future__ import annotations

from typing import Any

from chat_contracts.frames import PROTOCOL_VERSION, ErrorCode, ServerFrame as F, with_ref

Frame = dict[str, Any]
RefT = str | int | None


def auth_ok(user_id: int, exp: int, user_seq: int, ref: RefT = None) -> Frame:
    """`user_seq`: the head of the user's stream, where a client with no cursor starts."""
    frame = {
        "type": F.AUTH_OK,
        "user_id": user_id,
        "exp": exp,
        "user_seq": user_seq,
        "protocol": PROTOCOL_VERSION,
    }
    return with_ref(frame, ref)


def reauth_required(grace_seconds: float) -> Frame:
    return {"type": F.REAUTH_REQUIRED, "grace_seconds": grace_seconds}


def joined(room_id: int, last_seq: int, event_seq: int, ref: RefT = None) -> Frame:
    """Subscribed; events after `event_seq` follow (`last_seq`: the newest message's seq)."""
    frame = {"type": F.JOINED, "room_id": room_id, "last_seq": last_seq, "event_seq": event_seq}
    return with_ref(frame, ref)


def left(room_id: int, ref: RefT = None) -> Frame:
    return with_ref({"type": F.LEFT, "room_id": room_id}, ref)


def resumed(room_id: int, last_seq: int, event_seq: int) -> Frame:
    """The replay is complete: the client holds the room's state as of `event_seq`."""
    return {"type": F.RESUMED, "room_id": room_id, "last_seq": last_seq, "event_seq": event_seq}


def reset(room_id: int, last_seq: int, event_seq: int) -> Frame:
    """The client was too far behind to replay: reload the room, then follow from `event_seq`."""
    return {"type": F.RESET, "room_id": room_id, "last_seq": last_seq, "event_seq": event_seq}


def fetched(room_id: int, event_seq: int, ref: RefT = None) -> Frame:
    """A gap fill is complete: the client holds the room's state as of `event_seq`."""
    return with_ref({"type": F.FETCHED, "room_id": room_id, "event_seq": event_seq}, ref)


def event(
    kind: str,
    room_id: int,
    event_seq: int,
    *,
    seq: int | None = None,
    message: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Frame:
    """A room event: message events carry `seq` and `message`, the others `data`."""
    frame: Frame = {"type": F.EVENT, "event": kind, "room_id": room_id, "event_seq": event_seq}
    if message is not None:
        frame["seq"] = seq
        frame["message"] = message
    else:
        frame["data"] = data or {}
    return frame


def user_event(kind: str, user_seq: int, data: dict[str, Any]) -> Frame:
    return {"type": F.USER_EVENT, "event": kind, "user_seq": user_seq, "data": data}


def user_resumed(user_seq: int) -> Frame:
    """The user stream's replay is complete: the client holds it as of `user_seq`."""
    return {"type": F.USER_RESUMED, "user_seq": user_seq}


def message_ack(client_msg_id: str, message: dict[str, Any], ref: RefT = None) -> Frame:
    return with_ref({"type": F.ACK, "client_msg_id": client_msg_id, "message": message}, ref)


def message_nack(client_msg_id: str, retryable: bool, error: str, ref: RefT = None) -> Frame:
    frame = {"type": F.NACK, "client_msg_id": client_msg_id, "retryable": retryable}
    return with_ref({**frame, "error": error}, ref)


def change_ack(message_id: int, message: dict[str, Any], ref: RefT = None) -> Frame:
    """An edit or delete was stored; `message` is the message as it now is."""
    return with_ref({"type": F.ACK, "message_id": message_id, "message": message}, ref)


def change_nack(message_id: int, retryable: bool, error: str, ref: RefT = None) -> Frame:
    frame = {"type": F.NACK, "message_id": message_id, "retryable": retryable}
    return with_ref({**frame, "error": error}, ref)


def presence(room_id: int, online: list[int], ref: RefT = None) -> Frame:
    """The answer to a `presence` frame: who is online in the room now."""
    return with_ref({"type": F.PRESENCE, "room_id": room_id, "online": online}, ref)


def presence_change(room_id: int, online: set[int], before: set[int]) -> Frame:
    """Pushed to the room when its online set changed."""
    return {
        "type": F.PRESENCE,
        "room_id": room_id,
        "online": sorted(online),
        "joined": sorted(online - before),
        "left": sorted(before - online),
    }


def typing(room_id: int, user_id: int) -> Frame:
    return {"type": F.TYPING, "room_id": room_id, "user_id": user_id}


def error(code: ErrorCode, message: str, ref: RefT = None) -> Frame:
    return with_ref({"type": F.ERROR, "code": code.value, "message": message}, ref)
