"""Environments and launchers for the chat's own processes (api, gateway, frontend).

Every suite that runs the real services (ws-gateway/tests, tests/faults, tests/e2e, bench)
builds their environment here, so a new required setting is added once. Suite-specific
choices (secrets, origins, timings, limits) are passed as keyword overrides.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chat_testkit.ports import free_port
from chat_testkit.process import ServiceProcess, wait_http_ok

LOOPBACK = "127.0.0.1"
# Every test user registers and logs in from 127.0.0.1: the per-IP limits would refuse them.
TEST_AUTH_RATE = "100000/minute"
# Gateway timings short enough that presence expiry, readiness and drain fit in a test.
FAST_GATEWAY_TIMINGS = {
    "PRESENCE_TTL_SECONDS": "3",
    "CANARY_INTERVAL_SECONDS": "0.5",
    "READINESS_INTERVAL_SECONDS": "0.5",
    "DRAIN_SECONDS": "10",
}


def http_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def api_env(
    *,
    database_url: str,
    redis_url: str,
    jwt_secret: str,
    port: int,
    internal_port: int,
    environment: str = "development",
    auth_rate: str | None = TEST_AUTH_RATE,
    **extra: str,
) -> dict[str, str]:
    """`python -m chat_api` on loopback ports; auth_rate=None keeps the API's own limits."""
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": jwt_secret,
        "REDIS_URL": redis_url,
        "API_HOST": LOOPBACK,
        "API_PORT": str(port),
        "API_INTERNAL_HOST": LOOPBACK,
        "API_INTERNAL_PORT": str(internal_port),
        "ENVIRONMENT": environment,
        "LOG_JSON": "true",
    }
    if auth_rate is not None:
        env |= {
            "LOGIN_RATE_PER_IP": auth_rate,
            "LOGIN_RATE_PER_USERNAME": auth_rate,
            "REGISTER_RATE_PER_IP": auth_rate,
        }
    return env | extra


def gateway_env(
    *,
    port: int,
    ops_port: int,
    replica: str,
    api_url: str,
    api_internal_url: str,
    redis_url: str | None = None,
    allowed_origins: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """`python -m ws_gateway` on loopback ports (REDIS_URL/ALLOWED_ORIGINS only if given)."""
    env = {
        "GATEWAY_HOST": LOOPBACK,
        "GATEWAY_PORT": str(port),
        "GATEWAY_OPS_HOST": LOOPBACK,
        "GATEWAY_OPS_PORT": str(ops_port),
        "REPLICA_ID": replica,
        "API_URL": api_url,
        "API_INTERNAL_URL": api_internal_url,
        "LOG_JSON": "true",
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if allowed_origins is not None:
        env["ALLOWED_ORIGINS"] = allowed_origins
    return env | extra


def frontend_env(*, port: int, ops_port: int, **extra: str) -> dict[str, str]:
    """`python -m chat_frontend` on loopback ports."""
    return {
        "FRONTEND_HOST": LOOPBACK,
        "FRONTEND_PORT": str(port),
        "FRONTEND_OPS_PORT": str(ops_port),
        "LOG_JSON": "true",
    } | extra


def migrate_api(
    env: Mapping[str, str], *, cwd: Path | None = None, log_path: Path | None = None
) -> None:
    """`python -m chat_api migrate` to completion (its output kept in log_path, if given);
    fails the test if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "chat_api", "migrate"],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if log_path is not None:
        log_path.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]


def api_process(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str = "api",
    health: str = "/healthz",
    cwd: Path | None = None,
) -> ServiceProcess:
    """The API's `serve` (not started), healthy once its internal port answers `health`."""
    return ServiceProcess(
        name=name,
        argv=[sys.executable, "-m", "chat_api", "serve"],
        env=env,
        log_dir=log_dir,
        health_url=f"{http_url(int(env['API_INTERNAL_PORT']))}{health}",
        cwd=cwd,
    )


def start_api(env: Mapping[str, str], log_dir: Path, *, name: str = "api") -> ServiceProcess:
    """Migrate, serve, and wait until both the internal and the public port answer."""
    migrate_api(env)
    proc = api_process(env, log_dir, name=name).start(timeout=60)
    wait_http_ok(f"{http_url(int(env['API_PORT']))}/api/healthz", timeout=30, proc=proc.proc)
    return proc


def gateway_process(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str,
    health: str | None = None,
    cwd: Path | None = None,
) -> ServiceProcess:
    """A gateway replica (not started); `health` is a path on its ops port, if waited on."""
    ops = http_url(int(env["GATEWAY_OPS_PORT"]))
    return ServiceProcess(
        name=name,
        argv=[sys.executable, "-m", "ws_gateway"],
        env=env,
        log_dir=log_dir,
        health_url=f"{ops}{health}" if health else None,
        cwd=cwd,
    )


def frontend_process(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str = "frontend",
    health: str = "/readyz",
    cwd: Path | None = None,
) -> ServiceProcess:
    """The frontend (not started), healthy once its ops port answers `health`."""
    return ServiceProcess(
        name=name,
        argv=[sys.executable, "-m", "chat_frontend"],
        env=env,
        log_dir=log_dir,
        health_url=f"{http_url(int(env['FRONTEND_OPS_PORT']))}{health}",
        cwd=cwd,
    )


@dataclass
class Replica:
    """A running gateway replica: its process, ports and the environment it was given."""

    proc: ServiceProcess
    port: int
    ops_port: int
    replica: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def ops(self) -> str:
        return http_url(self.ops_port)


_replica_ids = itertools.count(1)


def start_replicas(
    count: int,
    *,
    log_dir: Path,
    label: str,
    api_url: str,
    api_internal_url: str,
    redis_url: str | None,
    allowed_origins: str,
    timeout: float = 90,
    **extra: str,
) -> list[Replica]:
    """Gateway replicas as separate processes: all started first (start-up is the slow
    part), then each awaited on /healthz."""
    batch: list[Replica] = []
    for _ in range(count):
        port, ops_port = free_port(), free_port()
        replica = f"gw{next(_replica_ids)}"
        env = gateway_env(
            port=port,
            ops_port=ops_port,
            replica=replica,
            api_url=api_url,
            api_internal_url=api_internal_url,
            redis_url=redis_url,
            allowed_origins=allowed_origins,
            **extra,
        )
        proc = gateway_process(env, log_dir, name=f"{label[:60]}-{replica}")
        proc.start()
        batch.append(Replica(proc, port, ops_port, replica, env))
    for gw in batch:
        wait_http_ok(gw.ops + "/healthz", timeout=timeout, proc=gw.proc.proc)
    return batch
