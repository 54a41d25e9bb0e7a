"""The API suite runs twice: on a real PostgreSQL started by the tests, and on SQLite.

Apps are driven in-process through httpx's ASGI transport (real app, real database,
real Redis where a test asks for it); tests/test_process.py covers the real server process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_testing import Api, make_settings
from chat_api.main import create_app, create_internal_app
from chat_api.migrate import upgrade_head
from chat_api.state import AppState


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"api_{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'chat.db'}"
    upgrade_head(url)
    yield url


@pytest.fixture
async def build_api() -> AsyncIterator[Callable[..., Any]]:
    """Builds an Api over a database URL with settings overrides; everything built is
    closed at teardown."""
    built: list[Api] = []

    async def build(url: str, **overrides: Any) -> Api:
        state = AppState.build(make_settings(url, **overrides))
        public = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(state, owns_state=False)),
            base_url="http://testserver",
        )
        internal = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_internal_app(state)),
            base_url="http://internal",
        )
        api = Api(public, internal, state)
        built.append(api)
        return api

    yield build
    for api in built:
        await api.client.aclose()
        await api.internal.aclose()
        await api.state.close()


@pytest.fixture
def api_factory(database_url: str, build_api: Callable[..., Any]) -> Callable[..., Any]:
    """Builds an Api on this run's database (PostgreSQL, then SQLite)."""

    async def build(**overrides: Any) -> Api:
        result: Api = await build_api(overrides.pop("database_url", database_url), **overrides)
        return result

    return build


@pytest.fixture
def fresh_pg(postgres_server: Any) -> str:
    """A migrated PostgreSQL database of the test's own, for PostgreSQL-only tests (not
    parametrized by dialect)."""
    url: str = postgres_server.create_database(f"pg_{uuid.uuid4().hex[:8]}")
    upgrade_head(url)
    return url


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> Api:
    result: Api = await api_factory()
    return result


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
