"""The batch store's PostgreSQL statements: prepared by psycopg, and safe across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_testing import Api, User, item, store
from chat_api.actions import store_pg as pgbatch
from chat_api.migrate import upgrade_head
from chat_api.schemas import MessageIn
from chat_testkit.postgres import PostgresServer
from sqlalchemy.exc import IntegrityError

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own, so restarting it disturbs no other test."""
    with PostgresServer() as server:
        yield server


async def _prepared(api: Api) -> list[str]:
    # With a pool of one, this is the connection the batches ran on.
    async with api.state.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in rows]


async def _send_batches(api: Api, user: User, room_id: int, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        (result,) = await store(api, [item(user, room_id)])
        assert result["status"] == 201, result
        seqs.append(result["message"]["seq"])
    return seqs


@pytest.fixture
def restartable_db(own_postgres: PostgresServer) -> str:
    url = own_postgres.create_database("restart")
    upgrade_head(url)
    return url


async def test_batch_statements_are_prepared_and_survive_a_restart(
    build_api, own_postgres: PostgresServer, restartable_db: str
) -> None:
    """Repeated batches run prepared; after a PostgreSQL restart they work and prepare anew."""
    api: Api = await build_api(restartable_db, db_pool_size=1, db_max_overflow=0)
    alice = await api.user()
    room = await api.room(alice)
    # psycopg prepares a statement once it has run prepare_threshold (5) times.
    before = await _send_batches(api, alice, room["id"], 7)
    assert sum("WITH ORDINALITY" in s for s in await _prepared(api)) == 1
    own_postgres.restart()  # every server-side prepared statement is gone
    after = await _send_batches(api, alice, room["id"], 7)
    assert before + after == list(range(1, 15))
    assert sum("WITH ORDINALITY" in s for s in await _prepared(api)) == 1
    view = await api.client.get(f"/api/rooms/{room['id']}", headers=alice.auth)
    assert view.json()["last_read_seq"] == 14


async def test_insert_into_a_vanished_room_is_refused_whole(build_api, fresh_pg: str) -> None:
    """An item whose room row is gone fails the whole statement: nothing of it commits."""
    api: Api = await build_api(fresh_pg)
    alice = await api.user()
    room = await api.room(alice)
    sends = [
        (alice.id, MessageIn(room_id=room["id"], content="a", client_msg_id="c-1")),
        (alice.id, MessageIn(room_id=room["id"] + 1000, content="b", client_msg_id="c-2")),
    ]
    # Autocommit, as the batch route runs it: no rollback could undo a partial write.
    async with api.state.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(IntegrityError):
            await pgbatch.insert_messages(auto, sends, datetime.now(UTC))
    # Neither the message nor the seq bump of the existing room was committed.
    sent = await alice.send(room["id"], client_msg_id="c-1")
    assert sent.status_code == 201 and sent.json()["seq"] == 1


async def test_seqs_follow_item_order_per_room_across_senders(build_api, fresh_pg: str) -> None:
    """Interleaved rooms and senders: each room's seqs ascend in item order, markers per sender."""
    api: Api = await build_api(fresh_pg)
    alice, bob = await api.user(), await api.user()
    rooms = [await api.room(alice, name=f"r{i}") for i in range(2)]
    for r in rooms:
        await api.client.post(f"/api/rooms/{r['id']}/join", headers=bob.auth)
    # Client ids chosen so (sender, client id) order differs from item order.
    plan = [(bob, 1, "z"), (alice, 0, "y"), (alice, 1, "x"), (bob, 0, "w"), (alice, 1, "a")]
    results = await store(
        api, [item(u, rooms[r]["id"], f"m{i}", c) for i, (u, r, c) in enumerate(plan)]
    )
    assert [r["status"] for r in results] == [201] * 5
    assert [(r["message"]["room_id"], r["message"]["seq"]) for r in results] == [
        (rooms[1]["id"], 1),
        (rooms[0]["id"], 1),
        (rooms[1]["id"], 2),
        (rooms[0]["id"], 2),
        (rooms[1]["id"], 3),
    ]
    assert [r["message"]["content"] for r in results] == [f"m{i}" for i in range(5)]
    marks = {}
    for user in (alice, bob):
        for r in rooms:
            view = await api.client.get(f"/api/rooms/{r['id']}", headers=user.auth)
            marks[(user.id, r["id"])] = view.json()["last_read_seq"]
    assert marks == {
        (alice.id, rooms[0]["id"]): 1,
        (alice.id, rooms[1]["id"]): 3,
        (bob.id, rooms[0]["id"]): 2,
        (bob.id, rooms[1]["id"]): 1,
    }
