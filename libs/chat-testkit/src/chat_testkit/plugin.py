"""pytest fixtures: one PostgreSQL and one Redis per test session, started by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_testkit.postgres import PostgresServer
from chat_testkit.redis import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave logs and screenshots; CI keeps it."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path
