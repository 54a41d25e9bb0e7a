"""Server frames are built once, in chat_contracts.server_frames: shapes and the version."""

from __future__ import annotations

import orjson
import pytest
from chat_contracts import server_frames as out
from chat_contracts.frames import (
    PROTOCOL_VERSION,
    AuthFrame,
    ErrorCode,
    ProtocolError,
    ServerFrame,
    parse_frame,
)


def test_auth_ok_carries_the_protocol_version_and_echoes_ref() -> None:
    """auth_ok says which wire version the gateway serves."""
    frame = orjson.loads(orjson.dumps(out.auth_ok(7, 1_900_000_000, 4, ref="a")))
    assert PROTOCOL_VERSION == 2
    assert frame == {
        "type": "auth_ok",
        "user_id": 7,
        "exp": 1_900_000_000,
        "user_seq": 4,
        "protocol": PROTOCOL_VERSION,
        "ref": "a",
    }


def test_auth_frame_protocol_is_optional_and_bounded() -> None:
    """An old client sends no version (served 2); a version must be a positive integer."""
    old = parse_frame('{"type":"auth","token":"t"}')
    assert isinstance(old, AuthFrame) and old.protocol is None
    new = parse_frame('{"type":"auth","token":"t","protocol":1}')
    assert isinstance(new, AuthFrame) and new.protocol == 1
    for bad in ('"1"', "0", "-1", "true", "1.5", "1001"):
        with pytest.raises(ProtocolError) as info:
            parse_frame(f'{{"type":"auth","token":"t","protocol":{bad}}}')
        assert info.value.code == ErrorCode.BAD_FRAME, bad


def test_every_server_frame_type_has_a_builder() -> None:
    """No server frame type exists only as a string literal somewhere in the gateway."""
    built = {
        out.auth_ok(1, 2, 0)["type"],
        out.reauth_required(5)["type"],
        out.joined(1, 0, 0)["type"],
        out.left(1)["type"],
        out.resumed(1, 0, 0)["type"],
        out.reset(1, 0, 0)["type"],
        out.fetched(1, 0)["type"],
        out.event("message.created", 1, 1, seq=1, message={})["type"],
        out.user_event("read.moved", 1, {})["type"],
        out.user_resumed(1)["type"],
        out.message_ack("c", {})["type"],
        out.change_nack(1, False, "x")["type"],
        out.presence(1, [])["type"],
        out.typing(1, 2)["type"],
        out.error(ErrorCode.BAD_JSON, "x")["type"],
    }
    assert built == set(ServerFrame)


def test_nack_and_error_shapes() -> None:
    """Nacks name what they refuse and whether to retry; errors carry a code string."""
    assert out.message_nack("c", True, "busy", ref=3) == {
        "type": "nack",
        "client_msg_id": "c",
        "retryable": True,
        "error": "busy",
        "ref": 3,
    }
    assert out.error(ErrorCode.NOT_JOINED, "join first") == {
        "type": "error",
        "code": "not_joined",
        "message": "join first",
    }


def test_room_event_frames_carry_event_seq_and_their_payload() -> None:
    """Message events carry seq + message; the other room events carry data."""
    msg = out.event("message.created", 3, 9, seq=7, message={"id": 1})
    assert msg == {
        "type": "event",
        "event": "message.created",
        "room_id": 3,
        "event_seq": 9,
        "seq": 7,
        "message": {"id": 1},
    }
    member = out.event("member.joined", 3, 10, data={"actor_id": 2})
    assert member == {
        "type": "event",
        "event": "member.joined",
        "room_id": 3,
        "event_seq": 10,
        "data": {"actor_id": 2},
    }


def test_resume_and_fetch_count_in_event_seqs() -> None:
    """resume maps rooms to event seqs plus the user stream's; fetch names an event seq."""
    frame = parse_frame('{"type":"resume","rooms":{"4":12},"user_seq":3}')
    assert frame.type == "resume" and frame.rooms == {4: 12} and frame.user_seq == 3
    assert parse_frame('{"type":"resume"}').rooms == {}  # type: ignore[union-attr]
    fetch = parse_frame('{"type":"fetch","room_id":4,"after_event_seq":2}')
    assert fetch.after_event_seq == 2  # type: ignore[union-attr]
    for bad in (
        '{"type":"resume","rooms":{"4":-1}}',
        '{"type":"resume","rooms":{},"user_seq":9007199254740992}',
        '{"type":"fetch","room_id":4,"after_seq":2}',
    ):
        with pytest.raises(ProtocolError):
            parse_frame(bad)
