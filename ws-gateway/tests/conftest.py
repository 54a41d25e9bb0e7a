"""Process-starting fixtures: gateway replicas, and the real API on real PostgreSQL + Redis."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from chat_testkit import PostgresServer, RedisServer, ServiceProcess, free_port
from chat_testkit.services import (
    FAST_GATEWAY_TIMINGS,
    Replica,
    api_env,
    http_url,
    start_api,
    start_replicas,
)

# Helpers live next to the tests; importlib mode does not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

JWT_SECRET = "test-secret-for-the-gateway-suite-0123456789abcdef"
ORIGIN = "http://chat.test"


Gateway = Replica


@dataclass
class Api:
    proc: ServiceProcess
    url: str
    internal_url: str
    redis: RedisServer
    database_url: str = ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)


GatewayFactory = Callable[..., list[Gateway]]


def _log_dir(artifacts: Path) -> Path:
    path = artifacts / "ws-gateway-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Launcher:
    """Gateway replicas owned by a test or a module, killed at its end."""

    def __init__(self, artifacts: Path, label: str) -> None:
        self.log_dir = _log_dir(artifacts)
        self.label = label
        self.started: list[Gateway] = []

    def __call__(
        self, count: int = 1, *, api: Api | None = None, redis_url: str | None = None, **env: str
    ) -> list[Gateway]:
        batch = start_replicas(
            count,
            log_dir=self.log_dir,
            label=self.label,
            api_url=api.url if api else http_url(free_port()),
            api_internal_url=api.internal_url if api else http_url(free_port()),
            redis_url=redis_url or (api.redis.url if api else None),
            allowed_origins=ORIGIN,
            **{**FAST_GATEWAY_TIMINGS, **env},
        )
        self.started.extend(batch)
        return batch

    def kill_all(self) -> None:
        for gw in self.started:
            gw.proc.kill()


@pytest.fixture
def start_gateways(artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[GatewayFactory]:
    """Gateways owned by one test (for tests that kill, drain or reconfigure them)."""
    launcher = _Launcher(artifacts_dir, request.node.name)
    yield launcher
    launcher.kill_all()


@pytest.fixture(scope="module")
def module_gateways(
    artifacts_dir: Path, request: pytest.FixtureRequest
) -> Iterator[GatewayFactory]:
    """Gateways shared by a module's tests (process start-up is the slow part)."""
    launcher = _Launcher(artifacts_dir, request.module.__name__.rsplit(".", 1)[-1])
    yield launcher
    launcher.kill_all()


def _start_api(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    artifacts_dir: Path,
    name: str,
    *,
    with_redis: bool = True,
) -> Api:
    """The real API (`migrate` then `serve`) on its own database of the session PostgreSQL;
    without Redis it keeps its events for gateways to follow (the `make run` default)."""
    port, internal = free_port(), free_port()
    database_url = postgres_server.create_database(name)
    env = api_env(
        database_url=database_url,
        redis_url=redis_server.url if with_redis else "",
        jwt_secret=JWT_SECRET,
        port=port,
        internal_port=internal,
    )
    proc = start_api(env, _log_dir(artifacts_dir), name=name)
    urls = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal}"
    return Api(proc, *urls, redis_server, database_url)


@pytest.fixture(scope="session")
def api_server(
    postgres_server: PostgresServer, redis_server: RedisServer, artifacts_dir: Path
) -> Iterator[Api]:
    """The API shared by the session's tests (never stopped or signalled by them)."""
    api = _start_api(postgres_server, redis_server, artifacts_dir, "gateway_tests")
    try:
        yield api
    finally:
        api.proc.terminate()


@contextlib.contextmanager
def _module_api(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
    *,
    with_redis: bool,
) -> Iterator[Api]:
    name = "gw_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    api = _start_api(postgres_server, redis_server, artifacts_dir, name, with_redis=with_redis)
    try:
        yield api
    finally:
        api.proc.signal(signal.SIGCONT)  # a test may have left it stopped
        api.proc.terminate()


@pytest.fixture(scope="module")
def api_without_redis(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Api]:
    """An API with no REDIS_URL (a module's own, which its tests may restart)."""
    with _module_api(
        postgres_server, redis_server, artifacts_dir, request, with_redis=False
    ) as api:
        yield api


@pytest.fixture(scope="module")
def private_api(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Api]:
    """An API process a module's tests may SIGSTOP/SIGCONT (own database, same Redis)."""
    with _module_api(postgres_server, redis_server, artifacts_dir, request, with_redis=True) as api:
        yield api


@pytest.fixture(scope="module")
def solo(module_gateways: GatewayFactory, api_server: Api) -> Gateway:
    """One replica without Redis beside an API with it (the API's event stream answers 404,
    so it delivers what it stored itself; test_follow.py has Redis on neither side), with
    small limits: 2 sockets per user, resume cap 3."""
    return module_gateways(
        1, api=api_server, REDIS_URL="", MAX_SOCKETS_PER_USER="2", RESUME_CAP="3"
    )[0]
