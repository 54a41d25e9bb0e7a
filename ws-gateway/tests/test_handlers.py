"""Two gateway replicas (separate processes), the real API on PostgreSQL, real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import jwt
import pytest
from chat_contracts.tokens import TokenClaims, encode_token
from chat_testkit.client import Client, User, create_room, register, rest, stored_messages
from conftest import JWT_SECRET, ORIGIN, Api, Gateway, GatewayFactory

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pair(module_gateways: GatewayFactory, api_server: Api) -> list[Gateway]:
    return module_gateways(2, api=api_server, RATE_PER_SECOND="20", RATE_BURST="40")


def _msg(room: int, content: str) -> dict[str, object]:
    return {
        "type": "message",
        "room_id": room,
        "client_msg_id": uuid.uuid4().hex,
        "content": content,
    }


def _token_with(user: User, **claims: object) -> str:
    """Re-sign the user's real token with changed claims (the test holds the API's key)."""
    raw = jwt.decode(user.token, options={"verify_signature": False})
    return encode_token(TokenClaims.model_validate({**raw, **claims}), JWT_SECRET)


async def _pair_in_room(api: Api, pair: list[Gateway]) -> tuple[User, User, int, Client, Client]:
    alice, bob = register(api.url), register(api.url)
    room = create_room(api.url, alice, bob)
    a = await Client.authed(pair[0].url, alice.token, ORIGIN)
    b = await Client.authed(pair[1].url, bob.token, ORIGIN)
    assert (await a.join(room))["type"] == "joined"
    assert (await b.join(room))["type"] == "joined"
    return alice, bob, room, a, b


async def test_two_replicas_exchange_messages_both_ways(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A and B on different replicas see each other's messages, acked after commit, in seq order."""
    alice, _bob, room, a, b = await _pair_in_room(api_server, pair)
    m1 = _msg(room, "hello from a")
    await a.send(m1)
    ack = await a.expect(lambda f: f["type"] == "ack", "ack for a")
    assert ack["client_msg_id"] == m1["client_msg_id"]
    assert ack["message"]["sender_id"] == alice.id
    await b.expect(
        lambda f: f["type"] == "event" and f["seq"] == ack["message"]["seq"], "a's msg at b"
    )
    await b.send(_msg(room, "hello from b"))
    ack_b = await b.expect(lambda f: f["type"] == "ack", "ack for b")
    await a.expect(
        lambda f: f["type"] == "event" and f["seq"] == ack_b["message"]["seq"], "b's msg at a"
    )
    stored = stored_messages(api_server.url, alice, room)
    assert [m["content"] for m in stored] == ["hello from a", "hello from b"]
    for c in (a, b):
        assert [e["seq"] for e in c.events(room)] == [m["seq"] for m in stored]
    await a.close()
    await b.close()


async def test_rest_posted_message_reaches_both_replicas(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A message stored over REST is published by the API and delivered on every replica."""
    alice, _bob, room, a, b = await _pair_in_room(api_server, pair)
    body = {"room_id": room, "content": "via rest", "client_msg_id": "rest-1"}
    r = rest(api_server.url, "POST", "/messages", alice, json=body)
    assert r.status_code == 201, r.text
    seq = r.json()["seq"]
    for c in (a, b):
        ev = await c.expect(lambda f: f["type"] == "event" and f["seq"] == seq, "rest message")
        assert ev["event"] == "message.created" and ev["message"]["content"] == "via rest"
    await a.close()
    await b.close()


async def test_edit_and_delete_pass_through(api_server: Api, pair: list[Gateway]) -> None:
    """edit/delete go to the API as the user; both replicas get the update events."""
    _alice, bob, room, a, b = await _pair_in_room(api_server, pair)
    await a.send(_msg(room, "v1"))
    ack = await a.expect(lambda f: f["type"] == "ack", "ack")
    mid = ack["message"]["id"]
    edited = await a.request(
        {"type": "edit", "message_id": mid, "content": "v2"}, lambda f: True, "edit"
    )
    assert edited["type"] == "ack" and edited["message"]["content"] == "v2"
    await b.expect(
        lambda f: f.get("event") == "message.updated" and f["message"]["content"] == "v2", "upd"
    )
    # Bob may not edit Alice's message: nack, not retryable.
    nack = await b.request(
        {"type": "edit", "message_id": mid, "content": "x"}, lambda f: True, "nack"
    )
    assert nack["type"] == "nack" and nack["retryable"] is False
    deleted = await a.request({"type": "delete", "message_id": mid}, lambda f: True, "delete")
    assert deleted["type"] == "ack" and deleted["message"]["deleted"] is True
    await b.expect(lambda f: f.get("event") == "message.deleted", "deleted event")
    assert bob.id != ack["message"]["sender_id"]
    await a.close()
    await b.close()


async def test_non_member_join_and_send_are_refused(api_server: Api, pair: list[Gateway]) -> None:
    """Joining a private room you are not in -> error not_found; sending there -> nack."""
    owner, outsider = register(api_server.url), register(api_server.url)
    private = create_room(api_server.url, owner, kind="private")
    public = create_room(api_server.url, owner)
    c = await Client.authed(pair[0].url, outsider.token, ORIGIN)
    err = await c.join(private)
    assert (err["type"], err["code"], err["room_id"]) == ("error", "not_found", private)
    err = await c.join(public)
    assert (err["type"], err["code"]) == ("error", "forbidden")
    await c.send(_msg(private, "sneaky"))
    nack = await c.expect(lambda f: f["type"] == "nack", "nack")
    assert nack["retryable"] is False
    assert stored_messages(api_server.url, owner, private) == []
    # The socket stays usable.
    assert (await c.request({"type": "presence", "room_id": public}, lambda f: True, "p"))[
        "code"
    ] == "not_joined"
    await c.close()


async def test_message_for_a_room_not_joined_or_left_is_nacked(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A member's message for a room this socket has not joined, or has left, is nacked
    (not retryable) and not stored; once joined the same frame is acked."""
    user = register(api_server.url)
    room = create_room(api_server.url, user)
    c = await Client.authed(pair[0].url, user.token, ORIGIN)
    before = _msg(room, "before join")
    nack = await c.request(before, lambda f: True, "nack before join")
    assert nack == {
        "type": "nack",
        "client_msg_id": before["client_msg_id"],
        "retryable": False,
        "error": "not joined: join the room first",
        "ref": nack["ref"],
    }
    await c.join(room)
    assert (await c.request(before, lambda f: True, "ack"))["type"] == "ack"
    await c.request({"type": "leave", "room_id": room}, lambda f: f["type"] == "left", "left")
    after = await c.request(_msg(room, "after leave"), lambda f: True, "nack after leave")
    assert (after["type"], after["retryable"]) == ("nack", False)
    assert [m["content"] for m in stored_messages(api_server.url, user, room)] == ["before join"]
    await c.close()


@pytest.mark.parametrize("kind", ["forged", "expired", "garbage"])
async def test_bad_tokens_close_1008(api_server: Api, pair: list[Gateway], kind: str) -> None:
    """Forged, expired and garbage tokens are refused with 1008; others keep working."""
    user = register(api_server.url)
    raw = jwt.decode(user.token, options={"verify_signature": False})
    if kind == "forged":
        token = encode_token(TokenClaims.model_validate(raw), "another-key-" + "k" * 40)
    elif kind == "expired":
        token = _token_with(user, iat=int(time.time()) - 100, exp=int(time.time()) - 10)
    else:
        token = "not-a-jwt"
    bad = await Client.open(pair[0].url, ORIGIN)
    await bad.send({"type": "auth", "token": token})
    assert await bad.closed() == 1008
    good = await Client.authed(pair[0].url, user.token, ORIGIN)
    await good.close()


async def test_bad_frames_after_auth_get_error_frames(api_server: Api, pair: list[Gateway]) -> None:
    """Malformed JSON, binary, unknown type, invalid fields: error frames, socket stays open."""
    user = register(api_server.url)
    room = create_room(api_server.url, user)
    c = await Client.authed(pair[1].url, user.token, ORIGIN)
    cases = [
        ("{oops", "bad_json"),
        (b"\x01\x02", "binary_frame"),
        ('{"type":"dance"}', "unknown_type"),
    ]
    cases.append(('{"type":"join","room_id":"x"}', "bad_frame"))
    for raw, code in cases:
        before = len(c.frames)
        await c.send(raw)
        await c.expect(
            lambda f, n=before, k=code: (
                f["type"] == "error" and f["code"] == k and c.frames.index(f) >= n
            ),
            code,
        )
    assert (await c.join(room))["type"] == "joined"
    assert c.close_code is None
    await c.close()


async def test_oversized_frame_after_auth_closes_1009(api_server: Api, pair: list[Gateway]) -> None:
    """A frame beyond the size limit closes that socket with 1009; others are unaffected."""
    user = register(api_server.url)
    big = await Client.authed(pair[0].url, user.token, ORIGIN)
    other = await Client.authed(pair[0].url, user.token, ORIGIN)
    await big.send({"type": "typing", "room_id": 1, "pad": "x" * 100_000})
    assert await big.closed() == 1009
    assert (await other.request({"type": "leave", "room_id": 1}, lambda f: True, "left"))[
        "type"
    ] == "left"
    await other.close()


async def test_flood_gets_rate_limited_then_closed_1008(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A flooding socket gets a rate_limited error for each refused frame up to the abuse
    limit (20), then 1008; a calm socket is served."""
    user = register(api_server.url)
    calm = await Client.authed(pair[1].url, user.token, ORIGIN)
    flood = await Client.authed(pair[1].url, user.token, ORIGIN)
    for _ in range(200):
        if flood.close_code is not None:
            break
        await flood.send({"type": "leave", "room_id": 1})
    assert await flood.closed() == 1008
    assert flood.close_reason == "rate limit abuse"
    assert [f for f in flood.frames if f["type"] == "error"] == [
        {"type": "error", "code": "rate_limited", "message": "slow down"}
    ] * 20
    assert (await calm.request({"type": "leave", "room_id": 1}, lambda f: True, "left"))[
        "type"
    ] == "left"
    await calm.close()


async def test_a_rate_limited_frame_is_answered_by_name(
    api_server: Api, start_gateways: GatewayFactory
) -> None:
    """Past the bucket a message gets its retryable nack (the client sends it again after a
    pause instead of waiting for its ack timeout), an edit its change nack, any other frame
    `rate_limited` with its ref; a frame that does not parse still gets its ref back. (A
    bucket of 2 refilled every 100 s: nothing below is let through by a refill.)"""
    (gw,) = start_gateways(1, api=api_server, RATE_PER_SECOND="0.01", RATE_BURST="2")
    user = register(api_server.url)
    flood = await Client.authed(gw.url, user.token, ORIGIN)
    refused = [
        {"type": "message", "room_id": 1, "client_msg_id": "c1", "content": "hi", "ref": "m"},
        {"type": "edit", "message_id": 5, "content": "x", "ref": "e"},
        {"type": "typing", "room_id": 1, "ref": 7},
        {"type": "nonsense", "ref": "n"},
    ]
    for frame in [{"type": "leave", "room_id": 1, "ref": f"l{i}"} for i in range(2)] + refused:
        await flood.send(frame)
    answers = [
        await flood.expect(lambda f, ref=f["ref"]: f.get("ref") == ref, str(f["ref"]))
        for f in refused
    ]
    assert answers == [
        {
            "type": "nack",
            "client_msg_id": "c1",
            "retryable": True,
            "error": "slow down",
            "ref": "m",
        },
        {"type": "nack", "message_id": 5, "retryable": True, "error": "slow down", "ref": "e"},
        {"type": "error", "code": "rate_limited", "message": "slow down", "ref": 7},
        {"type": "error", "code": "rate_limited", "message": "slow down", "ref": "n"},
    ]
    await flood.close()


async def test_refusals_are_forgotten_once_the_client_is_calm_again(
    api_server: Api, start_gateways: GatewayFactory
) -> None:
    """Two bursts of refusals, each within the abuse limit, with a calm pause between (the
    bucket refills in 2 s): the socket stays open. Counting refusals for the socket's whole
    life closed a long-lived, well-behaved one at its 3rd refusal ever."""
    (gw,) = start_gateways(
        1, api=api_server, RATE_PER_SECOND="1", RATE_BURST="2", RATE_ABUSE_LIMIT="2"
    )
    user = register(api_server.url)
    client = await Client.authed(gw.url, user.token, ORIGIN)

    async def burst(tag: str) -> None:
        for i in range(4):  # 2 taken, 2 refused (the limit) unless it took the gateway 1 s
            await client.send({"type": "leave", "room_id": 1, "ref": f"{tag}{i}"})
        for i in range(4):
            await client.expect(lambda f, ref=f"{tag}{i}": f.get("ref") == ref, f"{tag}{i}")

    await burst("a")
    await asyncio.sleep(2.2)  # longer than a full refill: time only moves forward
    await burst("b")
    refused = [f for f in client.frames if f.get("code") == "rate_limited"]
    assert len(refused) == 4, "both bursts went over the bucket (else this shows nothing)"
    assert client.close_code is None
    await client.close()


async def test_logout_closes_sockets_on_both_replicas_within_2s(
    api_server: Api, pair: list[Gateway]
) -> None:
    """REST logout publishes a revocation; that session's sockets close 1008 within 2 s."""
    user, other = register(api_server.url), register(api_server.url)
    s1 = await Client.authed(pair[0].url, user.token, ORIGIN)
    s2 = await Client.authed(pair[1].url, user.token, ORIGIN)
    bystander = await Client.authed(pair[1].url, other.token, ORIGIN)
    r = rest(api_server.url, "POST", "/logout", user, json={"refresh_token": user.refresh})
    assert r.status_code == 204, r.text
    assert await s1.closed(timeout=2) == 1008
    assert await s2.closed(timeout=2) == 1008
    # The revoked token cannot come back (the auth cache was purged).
    again = await Client.open(pair[0].url, ORIGIN)
    await again.send({"type": "auth", "token": user.token})
    assert await again.closed() == 1008
    assert bystander.close_code is None
    await bystander.close()


async def test_typing_and_presence_across_replicas(api_server: Api, pair: list[Gateway]) -> None:
    """typing reaches the other replica; presence is queried and join/leave events are batched."""
    alice, bob = register(api_server.url), register(api_server.url)
    room = create_room(api_server.url, alice, bob)
    a = await Client.authed(pair[0].url, alice.token, ORIGIN)
    await a.join(room)

    def pres(f: dict[str, object]) -> bool:
        return f["type"] == "presence" and "ref" not in f

    snapshot = await a.expect(pres, "first presence snapshot")
    assert snapshot["online"] == [alice.id]
    b = await Client.authed(pair[1].url, bob.token, ORIGIN)
    await b.join(room)
    joined = await a.expect(lambda f: pres(f) and bob.id in f["joined"], "bob joined event")
    assert sorted(joined["online"]) == sorted([alice.id, bob.id])
    reply = await b.request({"type": "presence", "room_id": room}, lambda f: True, "presence")
    assert sorted(reply["online"]) == sorted([alice.id, bob.id])
    await a.send({"type": "typing", "room_id": room})
    typing = await b.expect(lambda f: f["type"] == "typing", "typing")
    assert typing == {"type": "typing", "room_id": room, "user_id": alice.id}
    await b.close()
    left = await a.expect(lambda f: pres(f) and bob.id in f["left"], "bob left event")
    assert left["online"] == [alice.id]
    await a.close()


async def test_expiring_token_asks_for_reauth_then_closes(
    api_server: Api, pair: list[Gateway]
) -> None:
    """At expiry the socket gets reauth_required; a fresh auth frame keeps it open."""
    user = register(api_server.url)
    short = _token_with(user, exp=int(time.time()) + 2)
    keeper = await Client.authed(pair[0].url, short, ORIGIN)
    await keeper.expect(lambda f: f["type"] == "reauth_required", "reauth_required")
    await keeper.send({"type": "auth", "token": user.token, "ref": "re"})
    ok = await keeper.expect(
        lambda f: f["type"] == "auth_ok" and f.get("ref") == "re", "re-auth ok"
    )
    assert ok["user_id"] == user.id
    assert keeper.close_code is None  # the grace-expiry close is the next test
    await keeper.close()


async def test_message_in_the_reauth_grace_is_retryable_then_sent(
    api_server: Api, pair: list[Gateway]
) -> None:
    """A message sent once the token expired (re-auth pending) is nacked retryable and not
    stored; resent with the same client_msg_id after the re-auth it is acked, stored once."""
    user = register(api_server.url)
    room = create_room(api_server.url, user)
    c = await Client.authed(pair[1].url, _token_with(user, exp=int(time.time()) + 2), ORIGIN)
    await c.join(room)
    await c.expect(lambda f: f["type"] == "reauth_required", "reauth_required")
    msg = _msg(room, "in the grace")
    nack = await c.request(msg, lambda f: True, "reply in the grace")
    assert (nack["type"], nack["retryable"]) == ("nack", True), nack
    assert stored_messages(api_server.url, user, room) == []
    await c.request({"type": "auth", "token": user.token}, lambda f: True, "re-auth ok")
    ack = await c.request(msg, lambda f: True, "reply after re-auth")
    assert ack["type"] == "ack", ack
    stored = stored_messages(api_server.url, user, room)
    assert [(m["id"], m["client_msg_id"]) for m in stored] == [
        (ack["message"]["id"], msg["client_msg_id"])
    ]
    assert c.close_code is None
    await c.close()


async def test_reauth_grace_expiry_closes_1008(
    start_gateways: GatewayFactory, api_server: Api
) -> None:
    """No fresh auth within the grace period -> close 1008."""
    gw = start_gateways(1, api=api_server, REAUTH_GRACE_SECONDS="1")[0]
    user = register(api_server.url)
    c = await Client.authed(gw.url, _token_with(user, exp=int(time.time()) + 2), ORIGIN)
    await c.expect(lambda f: f["type"] == "reauth_required", "reauth_required")
    assert await c.closed() == 1008
