"""Fixtures for the fault suite: its own PostgreSQL, Redis and API (these tests restart
and kill them, so they never share the session servers other suites use), gateway
replicas per test, nginx per test."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Helper modules (unique names) sit beside this file; importlib mode does not add it.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import fault_oracle
from chat_testkit import PostgresServer, RedisServer, free_port
from chat_testkit.nginx import Nginx
from fault_stack import NO_FRONTEND, PAIR_ENV, Api, Gateway, GatewayLauncher


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder is a fault test (marker `faults`, select with -m faults).
    The soak runs only when asked for by marker (`-m soak`): it takes ten minutes."""
    here = Path(__file__).parent
    wants_soak = "soak" in (config.option.markexpr or "")
    keep, dropped = [], []
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
        if item.get_closest_marker("soak") and not wants_soak:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def faults_dir(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "faults"
    (path / "logs").mkdir(parents=True, exist_ok=True)
    fault_oracle.REPORT_FILE = path / "report.jsonl"
    fault_oracle.REPORT_FILE.write_text("")
    return path


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[PostgresServer]:
    with PostgresServer(database="faults") as server:
        yield server


@pytest.fixture(scope="session")
def fault_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def _session_api(
    fault_pg: PostgresServer, fault_redis: RedisServer, faults_dir: Path
) -> Iterator[Api]:
    api = Api(fault_pg, fault_redis, faults_dir / "logs", fault_pg.url)
    api.migrate()
    api.start()
    try:
        yield api
    finally:
        if api.proc is not None:
            api.proc.terminate()


@pytest.fixture
def api(_session_api: Api) -> Api:
    """The session API, started again if an earlier test left it (or its Redis) down."""
    if not _session_api.redis._proc:
        _session_api.redis.start()
    if not _session_api.alive():
        _session_api.start()
    return _session_api


@pytest.fixture
def gateways(
    api: Api, faults_dir: Path, request: pytest.FixtureRequest
) -> Iterator[GatewayLauncher]:
    """Gateway replicas owned by one test (killed at teardown)."""
    launcher = GatewayLauncher(api, faults_dir / "logs", request.node.name)
    yield launcher
    launcher.kill_all()


@pytest.fixture(scope="session")
def _pair_launcher(_session_api: Api, faults_dir: Path) -> Iterator[GatewayLauncher]:
    launcher = GatewayLauncher(_session_api, faults_dir / "logs", "pair")
    yield launcher
    launcher.kill_all()


@pytest.fixture
def pair(api: Api, _pair_launcher: GatewayLauncher) -> list[Gateway]:
    """Two replicas shared by every scenario; one killed or drained by a test is started
    again (same ports) for the next, because process start-up is the slow part."""
    if not _pair_launcher.started:
        _pair_launcher(2, **PAIR_ENV)
    for gw in _pair_launcher.started:
        if not gw.proc.alive():
            gw.restart()
    return _pair_launcher.started


@pytest.fixture
def nginx(
    api: Api, tmp_path: Path, faults_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Nginx]]:
    """Start nginx (the Ingress stand-in) in front of given gateway addresses."""
    started: list[Nginx] = []

    def start(gateways: list[str], ws_timeout: int = 3600) -> Nginx:
        prefix = tmp_path / f"nginx{len(started)}"
        api_upstream = f"127.0.0.1:{api.port}"
        n = Nginx(prefix, free_port(), NO_FRONTEND, api_upstream, gateways, ws_timeout=ws_timeout)
        started.append(n.start())
        return n

    yield start
    for n in started:
        n.stop()
        # Keep nginx logs with the other service logs (the secrets check reads them).
        dest = faults_dir / "logs" / f"nginx-{request.node.name[:40]}-{started.index(n)}.log"
        dest.write_text(n.logs())
