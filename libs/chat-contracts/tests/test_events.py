"""The envelope and channel names round-trip and reject garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chat_contracts.channels import (
    room_channel,
    room_id_from_channel,
    user_channel,
    user_id_from_channel,
)
from chat_contracts.events import (
    EventType,
    MessageData,
    RevocationData,
    decode_envelope,
    encode_envelope,
    message_event,
    user_event,
)
from pydantic import ValidationError


def test_message_envelope_roundtrip() -> None:
    """A message event survives encode/decode with room and seq on the envelope."""
    msg = MessageData(
        id=1,
        room_id=5,
        seq=9,
        version=11,
        sender_id=2,
        content="hi <b>",
        client_msg_id="c1",
        created_at=datetime.now(UTC),
    )
    env = decode_envelope(encode_envelope(message_event(EventType.MESSAGE_CREATED, msg)))
    assert env.type is EventType.MESSAGE_CREATED
    assert (env.room_id, env.seq, env.event_seq, env.user_id) == (5, 9, 11, None)
    assert MessageData.model_validate(env.data) == msg


def test_revocation_envelope_roundtrip() -> None:
    """A revocation is an event on the user's stream, naming the session (or every one)."""
    data = RevocationData(user_id=3)
    env = decode_envelope(encode_envelope(user_event(EventType.SESSION_REVOKED, 3, 8, data)))
    assert (env.user_id, env.event_seq, env.room_id) == (3, 8, None)
    assert RevocationData.model_validate(env.data) == data


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[]", b'{"type":"nope"}', b'{"v":1,"type":"probe"}']
)
def test_bad_envelopes_rejected(raw: bytes) -> None:
    """Garbage on the channel raises ValueError, never returns half an envelope."""
    with pytest.raises((ValueError, ValidationError)):
        decode_envelope(raw)


def test_room_channel_names() -> None:
    """Room channel names map back to room ids; others do not."""
    assert room_id_from_channel(room_channel(42)) == 42
    assert room_id_from_channel("chat:revocations") is None
    assert room_id_from_channel("chat:room:x") is None
    assert user_id_from_channel(user_channel(7)) == 7
    assert user_id_from_channel(room_channel(7)) is None
