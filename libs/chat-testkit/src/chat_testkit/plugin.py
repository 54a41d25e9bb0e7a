"""pytest fixtures: one PostgreSQL and one Redis per test session, started by the tests;
and a guard for tests that reconfigure logging."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from chat_testkit.postgres import PostgresServer
from chat_testkit.redis import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave logs and screenshots; CI keeps it."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that call configure_logging: the root handlers, level, uvicorn's filters
    and structlog's configuration are put back afterwards so later tests log as before."""
    root, uvicorn_log = logging.getLogger(), logging.getLogger("uvicorn.error")
    handlers, level, filters = root.handlers[:], root.level, uvicorn_log.filters[:]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    uvicorn_log.filters[:] = filters
    structlog.reset_defaults()
