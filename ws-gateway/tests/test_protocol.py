"""Frame parsing and validation (pure functions, no processes)."""

from __future__ import annotations

import pytest
from chat_contracts.frames import (
    ErrorCode,
    MessageFrame,
    ProtocolError,
    ResumeFrame,
    parse_frame,
)
from ws_gateway.connection import StreamState, TokenBucket


def _code(raw: str | bytes) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        parse_frame(raw)
    return info.value.code


def test_valid_message_frame_parses() -> None:
    """A well-formed message frame becomes a MessageFrame with its ref."""
    frame = parse_frame(
        '{"type":"message","room_id":3,"client_msg_id":"a1","content":"hi","ref":"r1"}'
    )
    assert isinstance(frame, MessageFrame)
    assert (frame.room_id, frame.client_msg_id, frame.ref) == (3, "a1", "r1")


def test_sender_field_from_client_is_ignored() -> None:
    """A client cannot choose the sender: unknown fields such as sender_id are dropped."""
    frame = parse_frame(
        '{"type":"message","room_id":3,"client_msg_id":"a","content":"x","sender_id":9}'
    )
    assert "sender_id" not in frame.model_dump()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        ("[1,2]", ErrorCode.BAD_FRAME),
        ('{"type":"nope"}', ErrorCode.UNKNOWN_TYPE),
        ('{"no":"type"}', ErrorCode.UNKNOWN_TYPE),
        (b'{"type":"auth","token":"x"}', ErrorCode.BINARY_FRAME),
        ('{"type":"join","room_id":"abc"}', ErrorCode.BAD_FRAME),
        ('{"type":"join","room_id":-1}', ErrorCode.BAD_FRAME),
        ('{"type":"message","room_id":1,"client_msg_id":"a","content":""}', ErrorCode.BAD_FRAME),
        (
            '{"type":"message","room_id":1,"client_msg_id":"a","content":"' + "x" * 4001 + '"}',
            ErrorCode.BAD_FRAME,
        ),
        (
            '{"type":"message","room_id":1,"client_msg_id":"' + "c" * 65 + '","content":"x"}',
            ErrorCode.BAD_FRAME,
        ),
    ],
)
def test_bad_frames_get_documented_codes(raw: str | bytes, code: ErrorCode) -> None:
    """Each kind of bad input maps to its documented error code."""
    assert _code(raw) is code


def test_resume_room_keys_become_ints() -> None:
    """resume.rooms keys are JSON strings and parse into room ids."""
    frame = parse_frame('{"type":"resume","rooms":{"12":5,"7":0}}')
    assert isinstance(frame, ResumeFrame)
    assert frame.rooms == {12: 5, 7: 0}


def test_room_state_delivers_each_seq_once_even_out_of_order() -> None:
    """Seq 6 before 5 still delivers 5 once; repeats are dropped."""
    state = StreamState(buffer=None)
    state.start(4)
    assert [state.accept(s) for s in (6, 5, 5, 6, 4, 7)] == [True, True, False, False, False, True]


def test_token_bucket_allows_burst_then_refuses() -> None:
    """The bucket grants `burst` frames at once, then refuses."""
    bucket = TokenBucket(rate=0.001, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
