"""Session fixtures for the browser end-to-end suite: the stack behind nginx and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# e2e_stack/e2e_ui sit beside this file; until pyproject's pythonpath lists tests/e2e,
# put it there ourselves (unique module names, so nothing else is shadowed).
from chat_testkit import PostgresServer, RedisServer
from chat_testkit.browser import chromium
from chat_testkit.tls import TestCA
from e2e_stack import Stack, start_stack


@pytest.fixture(scope="session")
def e2e_artifacts(artifacts_dir: Path) -> Path:
    """artifacts/e2e: screenshots of this run, logs/ of every service, nginx/ (config + logs)."""
    path = artifacts_dir / "e2e"
    path.mkdir(exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The suite's throw-away CA: nginx's certificate comes from it, Chromium trusts it."""
    return TestCA.create(tmp_path_factory.mktemp("e2e-ca"))


@pytest.fixture(scope="session")
def stack(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    e2e_artifacts: Path,
    test_ca: TestCA,
) -> Iterator[Stack]:
    """api + 2 gateway replicas + frontend on PostgreSQL/Redis, behind the rendered nginx
    terminating TLS."""
    database_url = postgres_server.create_database("chat_e2e")
    running = start_stack(e2e_artifacts, database_url, redis_server.url, test_ca)
    try:
        yield running
    finally:
        running.stop()


# Module scope, not session: a live sync Playwright keeps its event loop marked as running
# in the main thread, which would break every asyncio test collected after this folder.
@pytest.fixture(scope="module")
def browser(test_ca: TestCA) -> Iterator[Any]:
    """One real headless Chromium (the system binary; Playwright's download is not used)
    that trusts the suite's CA and verifies every certificate (no errors ignored)."""
    with chromium(trust_ca=test_ca.ca_pem) as launched:
        yield launched
