"""Messages: idempotent sends, per-room seq under concurrency, history pages, edit/delete."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from api_testing import Api

pytestmark = pytest.mark.integration


async def test_send_uses_token_identity_and_is_idempotent(api: Api) -> None:
    """The same client_msg_id twice returns the stored message (200) and stores one row."""
    alice = await api.user()
    room = await api.room(alice)
    first = await alice.send(room["id"], "hello", client_msg_id="m-1")
    assert first.status_code == 201
    msg = first.json()
    assert msg["sender_id"] == alice.id and msg["seq"] == 1 and msg["content"] == "hello"
    second = await alice.send(room["id"], "hello", client_msg_id="m-1")
    assert second.status_code == 200 and second.json() == msg
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert [m["id"] for m in page["messages"]] == [msg["id"]]
    spoof = await api.client.post(
        "/api/messages",
        json={"room_id": room["id"], "content": "x", "client_msg_id": "m-2", "sender_id": 12345},
        headers=alice.auth,
    )
    assert spoof.status_code == 422


async def test_concurrent_duplicate_sends_store_one_row(api: Api) -> None:
    """Ten racing retries of one client_msg_id produce one message and one seq."""
    alice = await api.user()
    room = await api.room(alice)
    replies = await asyncio.gather(
        *(alice.send(room["id"], "once", client_msg_id="dup") for _ in range(10))
    )
    assert sorted(r.status_code for r in replies).count(201) == 1
    assert {r.json()["id"] for r in replies} == {replies[0].json()["id"]}
    after = await alice.send(room["id"], "next")
    assert after.json()["seq"] == 2


async def test_seq_strictly_increasing_under_200_concurrent_sends(api_factory) -> None:
    """200 concurrent sends from two users get seq 1..200 exactly, no gaps, no repeats."""
    # About ordering under a burst, not shedding: let the burst queue for connections.
    api: Api = await api_factory(db_pool_timeout_seconds=60)
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    senders = [alice, bob] * 100
    replies = await asyncio.gather(*(u.send(room["id"], f"m{i}") for i, u in enumerate(senders)))
    assert all(r.status_code == 201 for r in replies), {r.status_code for r in replies}
    seqs = sorted(r.json()["seq"] for r in replies)
    assert seqs == list(range(1, 201))
    page = await api.client.get(
        "/api/messages", params={"room_id": room["id"], "limit": 200}, headers=bob.auth
    )
    stored = [m["seq"] for m in page.json()["messages"]]
    assert stored == list(range(1, 201))


async def test_rooms_have_independent_sequences(api: Api) -> None:
    """Seq counts per room."""
    alice = await api.user()
    r1, r2 = await api.room(alice), await api.room(alice)
    await alice.send(r1["id"])
    await alice.send(r1["id"])
    assert (await alice.send(r2["id"])).json()["seq"] == 1


async def test_pagination_has_no_gaps_or_repeats(api: Api) -> None:
    """Walking back with `before` and forward with `after` each see every message once."""
    alice = await api.user()
    room = await api.room(alice)
    for i in range(23):
        await alice.send(room["id"], f"m{i}")
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, int] = {"room_id": room["id"], "limit": 5}
        if before is not None:
            params["before"] = before
        page = (await api.client.get("/api/messages", params=params, headers=alice.auth)).json()
        seqs = [m["seq"] for m in page["messages"]]
        assert seqs == sorted(seqs)
        seen = seqs + seen
        if not page["has_more"]:
            break
        before = seqs[0]
    assert seen == list(range(1, 24))
    forward: list[int] = []
    after = 0
    while True:
        page = (
            await api.client.get(
                "/api/messages",
                params={"room_id": room["id"], "after": after, "limit": 7},
                headers=alice.auth,
            )
        ).json()
        forward += [m["seq"] for m in page["messages"]]
        if not page["has_more"]:
            break
        after = forward[-1]
    assert forward == list(range(1, 24))
    window = (
        await api.client.get(
            "/api/messages",
            params={"room_id": room["id"], "after": 5, "before": 9},
            headers=alice.auth,
        )
    ).json()
    assert [m["seq"] for m in window["messages"]] == [6, 7, 8]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"before": -1}, {"after": "x"}, {}]
)
async def test_history_rejects_bad_queries(api: Api, params: dict[str, object]) -> None:
    """Limits are capped at 200; bad cursors and a missing room_id are 422."""
    alice = await api.user()
    room = await api.room(alice)
    query = {"room_id": room["id"], **params} if params else {}
    resp = await api.client.get("/api/messages", params=query, headers=alice.auth)
    assert resp.status_code == 422


async def test_non_members_cannot_read_or_write(api: Api) -> None:
    """Public room outsiders get 403; nothing they send is stored."""
    alice, eve = await api.user(), await api.user()
    room = await api.room(alice)
    await alice.send(room["id"], "inside")
    assert (await eve.send(room["id"], "intruder")).status_code == 403
    history = await api.client.get(
        "/api/messages", params={"room_id": room["id"]}, headers=eve.auth
    )
    assert history.status_code == 403
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert [m["content"] for m in page["messages"]] == ["inside"]
    assert (await eve.send(10**9)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"content": "", "client_msg_id": "a"},
        {"content": "   ", "client_msg_id": "a"},
        {"content": "x" * 4001, "client_msg_id": "a"},
        {"content": "nul\x00", "client_msg_id": "a"},
        {"content": "ok", "client_msg_id": ""},
        {"content": "ok", "client_msg_id": "c" * 65},
        {"content": "ok"},
        {"content": 5, "client_msg_id": "a"},
    ],
)
async def test_bad_message_bodies_store_nothing(api: Api, body: dict[str, object]) -> None:
    """Every malformed send is 422 and leaves the room empty."""
    alice = await api.user()
    room = await api.room(alice)
    resp = await api.client.post(
        "/api/messages", json={"room_id": room["id"], **body}, headers=alice.auth
    )
    assert resp.status_code == 422, resp.text
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert page["messages"] == []


async def test_malformed_json_and_wrong_content_type(api: Api) -> None:
    """Broken JSON is 422 with a clear detail, not a 500."""
    alice = await api.user()
    room = await api.room(alice)
    resp = await api.client.post(
        "/api/messages",
        content=b'{"room_id": 1, "content": "x",',
        headers={**alice.auth, "content-type": "application/json"},
    )
    assert resp.status_code == 422
    resp = await api.client.post(
        "/api/messages",
        content=b"\xff\xfe",
        headers={**alice.auth, "content-type": "application/json"},
    )
    assert resp.status_code in (400, 422)
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=alice.auth)
    ).json()
    assert page["messages"] == []


async def test_client_msg_id_is_per_sender_and_room_bound(api: Api) -> None:
    """Two senders may use the same id; reusing one's id for another room is 409."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    other = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    a = await alice.send(room["id"], "a", client_msg_id="same")
    b = await bob.send(room["id"], "b", client_msg_id="same")
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert (await alice.send(other["id"], "a", client_msg_id="same")).status_code == 409


async def test_edit_and_delete_own_messages_only(api: Api) -> None:
    """Senders edit and soft-delete their messages; others get 403; deleted shows as deleted."""
    alice, bob = await api.user(), await api.user()
    room = await api.room(alice)
    await api.client.post(f"/api/rooms/{room['id']}/join", headers=bob.auth)
    msg = (await alice.send(room["id"], "draft")).json()
    edited = await api.client.patch(
        f"/api/messages/{msg['id']}", json={"content": "final"}, headers=alice.auth
    )
    assert (
        edited.status_code == 200
        and edited.json()["content"] == "final"
        and edited.json()["edited_at"]
    )
    assert edited.json()["seq"] == msg["seq"]
    assert (
        await api.client.patch(
            f"/api/messages/{msg['id']}", json={"content": "hijack"}, headers=bob.auth
        )
    ).status_code == 403
    assert (
        await api.client.delete(f"/api/messages/{msg['id']}", headers=bob.auth)
    ).status_code == 403
    assert (
        await api.client.patch(
            f"/api/messages/{msg['id']}", json={"content": ""}, headers=alice.auth
        )
    ).status_code == 422
    deleted = await api.client.delete(f"/api/messages/{msg['id']}", headers=alice.auth)
    assert (
        deleted.status_code == 200
        and deleted.json()["deleted"] is True
        and deleted.json()["content"] == ""
    )
    assert (
        await api.client.delete(f"/api/messages/{msg['id']}", headers=alice.auth)
    ).status_code == 409
    page = (
        await api.client.get("/api/messages", params={"room_id": room["id"]}, headers=bob.auth)
    ).json()
    assert page["messages"][0]["deleted"] is True and page["messages"][0]["content"] == ""
    assert (
        await api.client.patch(f"/api/messages/{10**9}", json={"content": "x"}, headers=alice.auth)
    ).status_code == 404


async def test_outsider_cannot_edit_by_id(api: Api) -> None:
    """Message ids of a private room reveal nothing to outsiders (404)."""
    alice, eve = await api.user(), await api.user()
    room = await api.room(alice, kind="private")
    msg = (await alice.send(room["id"], "secret")).json()
    resp = await api.client.patch(
        f"/api/messages/{msg['id']}", json={"content": uuid.uuid4().hex}, headers=eve.auth
    )
    assert resp.status_code == 404
