"""A display-name change racing a join into one of the renamer's rooms (PostgreSQL, where the
two really run at once): the joiner either hears user.updated or joins after the change."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from api_testing import Api

pytestmark = pytest.mark.integration


async def _waiting_on_advisory(dsn: str) -> bool:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        row = await cur.fetchone()
        return bool(row and row[0])


async def test_a_join_under_way_during_a_rename_hears_the_new_name(
    build_api: Any, fresh_pg: str
) -> None:
    """Bob's join holds the room's lock, uncommitted, when Alice renames herself. The rename
    must wait for that room (observed in pg_stat_activity), then count Bob among those told.
    Reading the audience without the room's lock missed him: he was not a member yet, and the
    member list he loaded after joining still had the old name."""
    api: Api = await build_api(fresh_pg)
    alice, bob = await api.user(), await api.user()
    rid = (await api.room(alice))["id"]
    dsn = fresh_pg.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn) as join:
        # A join under way: the room's advisory lock (streams.room_lock), then the row.
        await join.execute("SELECT pg_advisory_xact_lock(%s)", (rid,))
        await join.execute(
            "INSERT INTO memberships (room_id, user_id, last_read_seq, joined_at)"
            " VALUES (%s, %s, 0, now())",
            (rid, bob.id),
        )
        rename = asyncio.create_task(
            api.client.put("/api/users/me", json={"display_name": "Alice B"}, headers=alice.auth)
        )
        deadline = asyncio.get_running_loop().time() + 30
        while not rename.done() and not await _waiting_on_advisory(dsn):
            assert asyncio.get_running_loop().time() < deadline, "rename neither waited nor ended"
            await asyncio.sleep(0.01)
        assert not rename.done(), "the rename did not wait for the join under way"
        await join.commit()
    assert (await rename).status_code == 200
    events = (await api.client.get("/api/users/me/events", headers=bob.auth)).json()["events"]
    told = [e["data"] for e in events if e["event"] == "user.updated"]
    assert told == [{"id": alice.id, "username": alice.username, "display_name": "Alice B"}]
