"""Hostile input from a raw socket: malformed frames get the right close code, and the
replica keeps serving everyone else."""

from __future__ import annotations

import json

import pytest
from chat_testkit.client import Client, create_room
from fault_client import users
from fault_rawws import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, RawSocket, build_frame
from fault_stack import ORIGIN, Api, Gateway

BAD_FRAMES = {
    # name: (frame bytes, expected close code)
    "invalid_utf8_text": (build_frame(OP_TEXT, b'{"type":"\xff\xfe"}'), 1007),
    "unmasked_client_frame": (build_frame(OP_TEXT, b'{"type":"presence"}', masked=False), 1002),
    "reserved_opcode_3": (build_frame(0x3, b"x"), 1002),
    "reserved_control_opcode_b": (build_frame(0xB, b"x"), 1002),
    "rsv1_without_extension": (build_frame(OP_TEXT, b"{}", rsv=4), 1002),
    "oversized_declared_1mib": (build_frame(OP_TEXT, b"", declared_len=1 << 20), 1009),
    "fragmented_ping": (build_frame(OP_PING, b"p", fin=False), 1002),
    "control_payload_over_125": (build_frame(OP_PING, b"p" * 126), 1002),
    "continuation_without_start": (build_frame(OP_CONT, b"x"), 1002),
}


async def _authed_raw(gw: Gateway, token: str) -> RawSocket:
    raw = await RawSocket.open(gw.port, ORIGIN)
    await raw.send(build_frame(OP_TEXT, json.dumps({"type": "auth", "token": token}).encode()))
    first = await raw.recv()
    assert first is not None and json.loads(first.payload)["type"] == "auth_ok"
    return raw


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
async def test_malformed_frame_closes_with_the_right_code(
    case: str, api: Api, pair: list[Gateway]
) -> None:
    """Each protocol violation closes that socket with its RFC 6455 code; others unaffected."""
    alice, bob = users(api.url, 2)
    room = create_room(api.url, alice, bob)
    bystander = await Client.authed(pair[0].url, bob.token, ORIGIN)
    await bystander.send({"type": "join", "room_id": room, "ref": "j"})
    await bystander.expect(lambda f: f.get("ref") == "j", "bystander joined")
    raw = await _authed_raw(pair[0], alice.token)
    data, want = BAD_FRAMES[case]
    await raw.send(data)
    code = await raw.close_code()
    raw.abort()
    print(f"\nFAULTS-REPORT hostile {case}: close {code} (want {want})")
    assert code == want
    # The replica keeps serving: the bystander still stores and receives messages.
    msg = {"type": "message", "room_id": room, "client_msg_id": f"after-{case}", "content": "ok"}
    await bystander.send(msg)
    await bystander.expect(lambda f: f["type"] == "ack", "ack after the attack")
    await bystander.close()


async def test_soft_violations_keep_the_socket_open(api: Api, pair: list[Gateway]) -> None:
    """Binary frames, bad JSON, unknown types, wrong field types: an error frame, no close."""
    (alice,) = users(api.url, 1)
    raw = await _authed_raw(pair[1], alice.token)
    cases = [
        (build_frame(OP_BINARY, b"\x00\x01"), "binary_frame"),
        (build_frame(OP_TEXT, b"{not json"), "bad_json"),
        (build_frame(OP_TEXT, b'["a","list"]'), "bad_frame"),
        (build_frame(OP_TEXT, b'{"type":"nope"}'), "unknown_type"),
        (build_frame(OP_TEXT, b'{"type":"message","room_id":"x","client_msg_id":1}'), "bad_frame"),
    ]
    got = []
    for data, _ in cases:
        await raw.send(data)
        while True:
            frame = await raw.recv()
            assert frame is not None and frame.opcode == OP_TEXT, "socket must stay open"
            body = json.loads(frame.payload)
            if body["type"] == "error":
                got.append(body["code"])
                break
    print(f"\nFAULTS-REPORT hostile soft violations -> {got}")
    assert got == [want for _, want in cases]
    await raw.send(build_frame(OP_TEXT, b'{"type":"presence","room_id":1,"ref":"still"}'))
    frame = await raw.recv()
    assert frame is not None and frame.opcode == OP_TEXT
    raw.abort()
