"""Engine and session factory. SQLite is the embedded default; PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from chat_api.config import Settings


def make_engine(settings: Settings) -> AsyncEngine:
    pool: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    if settings.is_sqlite:
        # An in-memory database lives in one connection (a static pool): no sizes to set.
        in_memory = ":memory:" in settings.database_url or settings.database_url.endswith("://")
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": 30},
            pool_pre_ping=True,
            **({} if in_memory else pool),
        )
        # WAL lets readers run beside the single writer; foreign keys are off by default.
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # A deferred transaction that reads and then writes cannot wait for the lock
        # (SQLITE_BUSY at once), so every transaction takes the write lock up front.
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(settings.database_url, pool_pre_ping=True, **pool)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
