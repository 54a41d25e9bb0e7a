"""Fixtures for the image suite: tools, the local base, built images, a running API container."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The helper modules sit beside this file; until pyproject's pythonpath lists tests/images,
# put it there ourselves (unique module names, so nothing else is shadowed).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from chat_testkit.ports import free_port
from chat_testkit.postgres import PostgresServer
from chat_testkit.redis import RedisServer
from image_containers import ApiStack, run_once, start
from image_support import TIMINGS, build_image, ensure_base, ensure_tools, podman, unique_tag


def pytest_configure(config: pytest.Config) -> None:
    # Declared here too so `pytest tests/images` works before the root pyproject lists it.
    config.addinivalue_line("markers", "images: builds the service images and runs them")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS.phases:
        terminalreporter.section("image build/run timings")
        for name, seconds in TIMINGS.phases:
            terminalreporter.write_line(f"{seconds:7.1f}s  {name}")


@pytest.fixture(scope="session")
def base_image() -> str:
    try:
        with TIMINGS.phase("tools (podman, runc, debootstrap)"):
            ensure_tools()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    return ensure_base()


@pytest.fixture(scope="session")
def image(base_image: str) -> Iterator[Callable[[str], str]]:
    """Builds a service image on first use, under a tag unique to this session."""
    tag = unique_tag()
    built: dict[str, str] = {}

    def get(service: str) -> str:
        if service not in built:
            built[service] = build_image(service, base_image, tag)
        return built[service]

    yield get
    for name in built.values():
        # The build stage's layers stay in podman's cache, so the next run is quick.
        podman("rmi", name, check=False, timeout=120)


@pytest.fixture(scope="session")
def api_stack(
    image: Callable[[str], str], postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[ApiStack]:
    """The API image against real PostgreSQL and Redis, migrated first like the chart's Job."""
    img = image("api")
    public, internal = free_port(), free_port()
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": postgres_server.url,
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": secrets.token_hex(32),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(public),
        "API_INTERNAL_HOST": "127.0.0.1",
        "API_INTERNAL_PORT": str(internal),
        "COOKIE_SECURE": "false",
    }
    run_once(img, env, "migrate")
    container = start(img, env, "serve")
    try:
        yield ApiStack(container, public, internal, env)
    finally:
        container.remove()
