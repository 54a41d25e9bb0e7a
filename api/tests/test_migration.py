"""Migration 0002 on a database that lived at 0001: its data kept and backfilled (each old
message is the event at its own seq), the API working on it as on a new one, the schema
the ORM describes, and a downgrade that can be upgraded again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from api_testing import Api, User
from chat_api.migrate import alembic_config
from chat_api.models import Base
from chat_api.security import hash_password
from sqlalchemy import MetaData, Table, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.integration

PASSWORD = "correct horse 1"
EVENT_TABLES = {"room_events", "user_events"}


@pytest.fixture
def old_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this test's own, of the kind the suite runs on."""
    if database_url.startswith("postgresql"):
        server = request.getfixturevalue("postgres_server")
        url: str = server.create_database(f"mig_{uuid.uuid4().hex[:8]}")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"


@pytest.fixture
async def engine(old_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(old_url)
    yield made
    await made.dispose()


async def migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Alembic runs its own event loop (env.py), so it runs in a thread of its own."""
    step = command.downgrade if down else command.upgrade
    await asyncio.to_thread(step, alembic_config(url), revision)


async def reflect(engine: AsyncEngine) -> dict[str, Table]:
    meta = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(meta.reflect)
    return dict(meta.tables)


async def rows(engine: AsyncEngine, table: str, order: str = "id") -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
        return [dict(row._mapping) for row in result]


async def revision(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(text("SELECT version_num FROM alembic_version")))


@dataclass
class Seeded:
    """What was written at 0001: ids by name, and the expected (last_read_seq, unread) of
    each member by (room, user) name."""

    users: dict[str, int]
    rooms: dict[str, int]
    markers: dict[tuple[str, str], tuple[int, int]]


async def seed_0001(engine: AsyncEngine) -> Seeded:
    """Users, a public, a private and a DM room, members with read markers, and messages
    (one edited, one deleted, as 0001's code stored them), in 0001's own tables."""
    tables = await reflect(engine)
    assert "version" not in tables["messages"].c and not EVENT_TABLES & tables.keys()
    users, rooms = tables["users"], tables["rooms"]
    members, messages = tables["memberships"], tables["messages"]
    password_hash = await hash_password(PASSWORD)
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    at: Callable[[int], datetime] = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    async with engine.begin() as conn:

        async def add(table: Table, **values: Any) -> int:
            return int(await conn.scalar(insert(table).values(**values).returning(table.c.id)))

        uid = {
            name: await add(
                users,
                username=name,
                display_name=name.title(),
                password_hash=password_hash,
                token_version=0,
                created_at=at(0),
            )
            for name in ("alice", "bob", "carol")
        }
        low, high = sorted((uid["alice"], uid["bob"]))
        room_rows = {
            "general": ("public", None, uid["alice"], 4),
            "secret": ("private", None, uid["alice"], 2),
            "dm": ("dm", f"{low}:{high}", None, 1),
            "quiet": ("public", None, uid["carol"], 0),
        }
        rid = {
            name: await add(
                rooms,
                name=name,
                kind=kind,
                dm_key=dm_key,
                created_by=creator,
                last_seq=last_seq,
                created_at=at(1),
            )
            for name, (kind, dm_key, creator, last_seq) in room_rows.items()
        }
        # (room, user): last_read_seq
        marks = {
            ("general", "alice"): 4,
            ("general", "bob"): 1,
            ("general", "carol"): 0,
            ("secret", "alice"): 2,
            ("secret", "carol"): 0,
            ("dm", "alice"): 0,
            ("dm", "bob"): 1,
            ("quiet", "carol"): 0,
        }
        await conn.execute(
            insert(members),
            [
                {"room_id": rid[r], "user_id": uid[u], "last_read_seq": s, "joined_at": at(2)}
                for (r, u), s in marks.items()
            ],
        )
        # (room, seq, sender, content, edited, deleted)
        history = [
            ("general", 1, "alice", "hello all", False, False),
            ("general", 2, "bob", "edited text", True, False),
            ("general", 3, "alice", "", True, True),
            ("general", 4, "carol", "last word", False, False),
            ("secret", 1, "alice", "psst", False, False),
            ("secret", 2, "carol", "what", False, False),
            ("dm", 1, "bob", "hi alice", False, False),
        ]
        await conn.execute(
            insert(messages),
            [
                {
                    "room_id": rid[r],
                    "seq": seq,
                    "sender_id": uid[sender],
                    "client_msg_id": f"{r}-{seq}",
                    "content": content,
                    "created_at": at(10 + seq),
                    "edited_at": at(20 + seq) if edited else None,
                    "deleted": deleted,
                }
                for r, seq, sender, content, edited, deleted in history
            ],
        )
    # Unread: others' live messages after the marker (the rule, applied by hand).
    unread = {
        ("general", "alice"): 0,
        ("general", "bob"): 1,  # seq 2 is his own, 3 deleted, 4 carol's
        ("general", "carol"): 2,  # 1 and 2; 3 deleted, 4 her own
        ("secret", "alice"): 0,
        ("secret", "carol"): 1,
        ("dm", "alice"): 1,
        ("dm", "bob"): 0,
        ("quiet", "carol"): 0,
    }
    return Seeded(uid, rid, {key: (marks[key], unread[key]) for key in marks})


async def test_upgrade_keeps_0001_data_and_backfills_the_event_streams(
    old_url: str, engine: AsyncEngine, api_factory
) -> None:
    """From 0001 with data to head: every row kept, messages.version == seq,
    rooms.last_event_seq == last_seq, users.last_event_seq == 0, topics empty."""
    await migrate(old_url, "0001")
    seeded = await seed_0001(engine)
    before = {t: await rows(engine, t) for t in ("users", "rooms", "messages")}
    before["memberships"] = await rows(engine, "memberships", "room_id, user_id")
    await migrate(old_url, "head")

    assert (
        await revision(engine)
        == ScriptDirectory.from_config(alembic_config(old_url)).get_current_head()
    )
    after = {t: await rows(engine, t) for t in ("users", "rooms", "messages")}
    after["memberships"] = await rows(engine, "memberships", "room_id, user_id")
    assert after["memberships"] == before["memberships"]
    added = {"users": {"last_event_seq"}, "rooms": {"topic", "last_event_seq"}}
    added["messages"] = {"version"}
    for table in ("users", "rooms", "messages"):
        kept = [{k: v for k, v in row.items() if k not in added[table]} for row in after[table]]
        assert kept == before[table], table
        assert all(row.keys() - before[table][0].keys() == added[table] for row in after[table])
    assert [m["version"] for m in after["messages"]] == [m["seq"] for m in after["messages"]]
    assert [(r["last_event_seq"], r["topic"]) for r in after["rooms"]] == [
        (r["last_seq"], "") for r in after["rooms"]
    ]
    assert [u["last_event_seq"] for u in after["users"]] == [0, 0, 0]
    assert await rows(engine, "room_events", "room_id") == []
    assert await rows(engine, "user_events", "user_id") == []
    assert len(after["messages"]) == 7 and len(seeded.rooms) == 4


async def test_the_upgraded_database_works_through_the_api(
    old_url: str, engine: AsyncEngine, api_factory
) -> None:
    """On a database upgraded from 0001: unread counts as before, the replay from 0 hands
    out the old messages in their current state, and the next message takes seq
    last_seq + 1 and event seq last_event_seq + 1."""
    await migrate(old_url, "0001")
    seeded = await seed_0001(engine)
    await migrate(old_url, "head")
    api: Api = await api_factory(database_url=old_url)
    users = {
        name: User(api, uid, name, await api.login(name)) for name, uid in seeded.users.items()
    }

    for name, user in users.items():
        listed = (await api.client.get("/api/rooms", headers=user.auth)).json()
        mine = {r["id"]: r for r in listed}
        expected = {
            seeded.rooms[room]: marker
            for (room, who), marker in seeded.markers.items()
            if who == name
        }
        assert {rid: (r["last_read_seq"], r["unread"]) for rid, r in mine.items()} == expected
        assert all(r["event_seq"] == r["last_seq"] and r["topic"] == "" for r in listed)

    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    general = seeded.rooms["general"]
    page = (await api.client.get(f"/api/rooms/{general}/events?after=0", headers=bob.auth)).json()
    assert (page["head"], page["has_more"]) == (4, False)
    assert [
        (e["event_seq"], e["event"], e["seq"], e["message"]["content"], e["message"]["version"])
        for e in page["events"]
    ] == [
        (1, "message.created", 1, "hello all", 1),
        (2, "message.updated", 2, "edited text", 2),
        (3, "message.deleted", 3, "", 3),
        (4, "message.created", 4, "last word", 4),
    ]
    assert page["events"][2]["message"]["deleted"] is True
    assert page["events"][1]["message"]["edited_at"] is not None
    # The history and the replay agree on the old messages.
    history = (
        await api.client.get("/api/messages", params={"room_id": general}, headers=bob.auth)
    ).json()["messages"]
    assert history == [e["message"] for e in page["events"]]

    sent = await alice.send(general, "after the upgrade")
    assert sent.status_code == 201
    assert (sent.json()["seq"], sent.json()["version"]) == (5, 5)
    edited = await api.client.patch(
        f"/api/messages/{page['events'][1]['message']['id']}",
        json={"content": "edited again"},
        headers=bob.auth,
    )
    assert edited.status_code == 200 and edited.json()["version"] == 6
    joined = await api.client.post(f"/api/rooms/{seeded.rooms['quiet']}/join", headers=bob.auth)
    assert joined.status_code == 200 and joined.json()["event_seq"] == 1
    tail = (await api.client.get(f"/api/rooms/{general}/events?after=4", headers=carol.auth)).json()
    assert [(e["event_seq"], e["event"]) for e in tail["events"]] == [
        (5, "message.created"),
        (6, "message.updated"),
    ]
    # The old DM is found again (same dm_key), not opened twice.
    dm = await api.client.post("/api/dms", json={"user_id": bob.id}, headers=alice.auth)
    assert dm.status_code == 200 and dm.json()["id"] == seeded.rooms["dm"]
    # User streams start empty at head 0 and count from 1.
    assert (await api.client.get("/api/users/me/events", headers=carol.auth)).json() == {
        "events": [],
        "head": 0,
        "has_more": False,
    }
    moved = await api.client.put(f"/api/rooms/{general}/read", json={"seq": 5}, headers=carol.auth)
    assert moved.json() == {
        "room_id": general,
        "last_read_seq": 5,
        "unread": 0,
        "last_seq": 5,
        "event_seq": 6,  # the send (5) and the edit (6) above
    }
    carol_events = (await api.client.get("/api/users/me/events", headers=carol.auth)).json()
    assert [(e["event_seq"], e["event"]) for e in carol_events["events"]] == [(1, "read.moved")]


# 0002 adds these NOT NULL columns to tables that hold rows, with a server default (SQLite
# cannot add a NOT NULL column without one), and keeps the default; the ORM declares none
# because every writer sets the value itself. 0 and "" are what a new row starts at, so
# the difference changes no behaviour of the API. messages.version loses its default in
# 0002 itself: a message stored at version 0 would be in no replay.
BACKFILL_DEFAULTS = {
    ("users", "last_event_seq"),
    ("rooms", "topic"),
    ("rooms", "last_event_seq"),
}


def _diffs(conn: Connection) -> list[Any]:
    """compare_metadata's differences, types and server defaults included, minus the
    backfill defaults above."""
    opts = {"compare_type": True, "compare_server_default": True}
    found: list[Any] = []
    for diff in compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata):
        for op in diff if isinstance(diff, list) else [diff]:
            backfill = op[0] == "modify_default" and op[6] is None
            if not (backfill and (op[2], op[3]) in BACKFILL_DEFAULTS):
                found.append(op)
    return found


async def schema_diffs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_diffs)


async def test_the_migrated_schema_is_what_the_orm_describes(
    old_url: str, engine: AsyncEngine
) -> None:
    """After upgrade head, comparing the ORM's metadata with the database finds no
    difference (tables, columns, types, nullability, indexes, constraints)."""
    await migrate(old_url, "head")
    tables = await reflect(engine)
    assert EVENT_TABLES <= tables.keys() and "version" in tables["messages"].c
    assert await schema_diffs(engine) == []


async def test_downgrade_to_0001_and_upgrade_again(old_url: str, engine: AsyncEngine) -> None:
    """Down to 0001 drops what 0002 added and keeps the data; up again backfills it anew,
    and the schema still matches the ORM."""
    await migrate(old_url, "0001")
    await seed_0001(engine)
    await migrate(old_url, "head")
    async with engine.begin() as conn:
        # Data only 0002 can hold: a topic, an event, a version past the seq.
        await conn.execute(text("UPDATE rooms SET topic = 'gone', last_event_seq = last_seq + 3"))
        await conn.execute(text("UPDATE messages SET version = seq + 3 WHERE seq = 1"))
    before = {t: await rows(engine, t) for t in ("users", "messages")}

    await migrate(old_url, "0001", down=True)
    assert await revision(engine) == "0001"
    tables = await reflect(engine)
    assert not EVENT_TABLES & tables.keys()
    assert "version" not in tables["messages"].c
    assert not {"topic", "last_event_seq"} & set(tables["rooms"].c.keys())
    assert "last_event_seq" not in tables["users"].c
    assert [
        {k: v for k, v in m.items() if k != "version"} for m in before["messages"]
    ] == await rows(engine, "messages")

    await migrate(old_url, "head")
    messages = await rows(engine, "messages")
    assert [m["version"] for m in messages] == [m["seq"] for m in messages]
    rooms = await rows(engine, "rooms")
    assert [(r["topic"], r["last_event_seq"]) for r in rooms] == [
        ("", r["last_seq"]) for r in rooms
    ]
    assert len(messages) == len(before["messages"]) == 7
    assert await schema_diffs(engine) == []  # the index and columns are back, as declared
