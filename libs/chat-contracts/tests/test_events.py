"""The envelope and channel names round-trip and reject garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chat_contracts.channels import room_channel, room_id_from_channel
from chat_contracts.events import (
    EventType,
    MessageData,
    RevocationData,
    decode_envelope,
    encode_envelope,
    message_event,
    revocation_event,
)
from pydantic import ValidationError


def test_message_envelope_roundtrip() -> None:
    """A message event survives encode/decode with room and seq on the envelope."""
    msg = MessageData(
        id=1,
        room_id=5,
        seq=9,
        sender_id=2,
        content="hi <b>",
        client_msg_id="c1",
        created_at=datetime.now(UTC),
    )
    env = decode_envelope(encode_envelope(message_event(EventType.MESSAGE_CREATED, msg)))
    assert env.type is EventType.MESSAGE_CREATED
    assert (env.room_id, env.seq) == (5, 9)
    assert MessageData.model_validate(env.data) == msg


def test_revocation_envelope_roundtrip() -> None:
    """A revocation names the user and optionally the session."""
    env = decode_envelope(encode_envelope(revocation_event(RevocationData(user_id=3))))
    assert RevocationData.model_validate(env.data).user_id == 3


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[]", b'{"type":"nope"}', b'{"v":2,"type":"probe"}']
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
