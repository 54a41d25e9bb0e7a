"""The frontend runs as a real process (`python -m chat_frontend`) on free ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chat_testkit import ServiceProcess, free_port
from chat_testkit.browser import chromium


@dataclass
class Frontend:
    proc: ServiceProcess
    port: int
    ops_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"


def start_frontend(log_dir: Path, name: str, **env: str) -> Frontend:
    port, ops_port = free_port(), free_port()
    proc = ServiceProcess(
        name=name,
        argv=[sys.executable, "-m", "chat_frontend"],
        env={
            "FRONTEND_HOST": "127.0.0.1",
            "FRONTEND_PORT": str(port),
            "FRONTEND_OPS_PORT": str(ops_port),
            **env,
        },
        log_dir=log_dir,
        health_url=f"http://127.0.0.1:{ops_port}/readyz",
    ).start()
    return Frontend(proc=proc, port=port, ops_port=ops_port)


@pytest.fixture(scope="session")
def frontend_logs(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "frontend"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def frontend(frontend_logs: Path) -> Iterator[Frontend]:
    """Default config: relative API base and WS URL (the ingress case)."""
    fe = start_frontend(frontend_logs, "frontend-default")
    try:
        yield fe
    finally:
        fe.proc.terminate()


@pytest.fixture(scope="session")
def frontend_split(frontend_logs: Path) -> Iterator[Frontend]:
    """`make run` config: API and gateway on other origins (CSP must allow them)."""
    fe = start_frontend(
        frontend_logs,
        "frontend-split",
        PUBLIC_API_BASE="http://localhost:8000/api",
        PUBLIC_WS_URL="ws://localhost:8765/ws",
    )
    try:
        yield fe
    finally:
        fe.proc.terminate()


@pytest.fixture(scope="session")
def frontend_hsts(frontend_logs: Path) -> Iterator[Frontend]:
    """HSTS configured, as behind a TLS ingress."""
    fe = start_frontend(
        frontend_logs,
        "frontend-hsts",
        HSTS_MAX_AGE_SECONDS="63072000",
        HSTS_INCLUDE_SUBDOMAINS="true",
    )
    try:
        yield fe
    finally:
        fe.proc.terminate()


# Module scope, not session: a live sync Playwright keeps its event loop marked as running
# in the main thread, which would break every asyncio test collected after this folder.
@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One real headless Chromium (system binary, not a Playwright download) per module."""
    with chromium() as browser:
        yield browser
