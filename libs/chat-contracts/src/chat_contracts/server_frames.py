"""Server -> client frames: one builder per frame type, so each shape is written once.

`ref` is the client frame's `ref`, echoed so the client can match the reply. The types
are `frames.ServerFrame`; docs/contract.md and ws-gateway/README.md describe each one.
"""

from __future__ import annotations

from typing import Any

from chat_contracts.frames import PROTOCOL_VERSION, ErrorCode, ServerFrame as F, with_ref

Frame = dict[str, Any]
RefT = str | int | None


def auth_ok(user_id: int, exp: int, ref: RefT = None) -> Frame:
    frame = {"type": F.AUTH_OK, "user_id": user_id, "exp": exp, "protocol": PROTOCOL_VERSION}
    return with_ref(frame, ref)


def reauth_required(grace_seconds: float) -> Frame:
    return {"type": F.REAUTH_REQUIRED, "grace_seconds": grace_seconds}


def joined(room_id: int, last_seq: int, ref: RefT = None) -> Frame:
    return with_ref({"type": F.JOINED, "room_id": room_id, "last_seq": last_seq}, ref)


def left(room_id: int, ref: RefT = None) -> Frame:
    return with_ref({"type": F.LEFT, "room_id": room_id}, ref)


def resumed(room_id: int, last_seq: int) -> Frame:
    return {"type": F.RESUMED, "room_id": room_id, "last_seq": last_seq}


def reset(room_id: int, last_seq: int) -> Frame:
    """The client was too far behind to replay: reload the room from `last_seq`."""
    return {"type": F.RESET, "room_id": room_id, "last_seq": last_seq}


def fetched(room_id: int, ref: RefT = None) -> Frame:
    return with_ref({"type": F.FETCHED, "room_id": room_id}, ref)


def event(event_type: str, room_id: int, seq: int, message: dict[str, Any]) -> Frame:
    return {
        "type": F.EVENT,
        "event": event_type,
        "room_id": room_id,
        "seq": seq,
        "message": message,
    }


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
