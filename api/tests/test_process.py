"""The real server process: configuration refusal, prestart migration, two ports, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from chat_testkit import ServiceProcess, free_port
from chat_testkit.postgres import PostgresServer

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_api", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("secret", "expected"),
    [(None, "JWT_SECRET"), ("too-short", "at least 32 bytes"), ("changeme", "placeholder")],
)
def test_refuses_to_start_without_a_strong_secret(
    tmp_path: Path, secret: str | None, expected: str
) -> None:
    """A missing, short or placeholder JWT_SECRET stops start-up with a clear message."""
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    if secret is not None:
        env["JWT_SECRET"] = secret
    else:
        os.environ.pop("JWT_SECRET", None)
    result = _run(env, "serve")
    assert result.returncode == 2
    assert expected in result.stderr
    if secret:
        assert secret not in result.stderr.replace("JWT_SECRET", "")


def test_serves_public_and_internal_ports_and_stops_cleanly(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """migrate, serve: probes on both ports, validate-token only internally, SIGTERM -> 0."""
    db = postgres_server.create_database("process_test")
    public, internal = free_port(), free_port()
    env = {
        "DATABASE_URL": db,
        "JWT_SECRET": "p" * 16 + os.urandom(16).hex(),
        "API_PORT": str(public),
        "API_INTERNAL_PORT": str(internal),
        "API_HOST": "127.0.0.1",
        "API_INTERNAL_HOST": "127.0.0.1",
        "COOKIE_SECURE": "false",
    }
    migrated = _run(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    again = _run(env, "migrate")  # idempotent prestart
    assert again.returncode == 0, again.stderr
    proc = ServiceProcess(
        "api-process-test",
        [sys.executable, "-m", "chat_api", "serve"],
        env,
        tmp_path,
        health_url=f"http://127.0.0.1:{public}/api/healthz",
    ).start(timeout=120)  # a loaded 2-core CI box imports slowly
    try:
        base = f"http://127.0.0.1:{public}"
        assert httpx.get(f"{base}/api/readyz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{internal}/readyz").status_code == 200
        httpx.post(
            f"{base}/api/register", json={"username": "proc_user", "password": "longenough"}
        ).raise_for_status()
        token = httpx.post(
            f"{base}/api/login", json={"username": "proc_user", "password": "longenough"}
        ).json()["access_token"]
        assert httpx.post(f"{base}/validate-token", json={"token": token}).status_code == 404
        assert httpx.post(f"{base}/api/validate-token", json={"token": token}).status_code == 404
        valid = httpx.post(f"http://127.0.0.1:{internal}/validate-token", json={"token": token})
        assert valid.status_code == 200 and valid.json()["username"] == "proc_user"
        assert "chat_api_requests_total" in httpx.get(f"http://127.0.0.1:{internal}/metrics").text
        # A gateway following the events (no Redis) must not hold the shutdown up: uvicorn
        # waits for open responses, so SIGTERM ends the stream first.
        stream_url = f"http://127.0.0.1:{internal}/events/stream"
        with httpx.stream("GET", stream_url, timeout=10) as follow:
            lines = follow.iter_lines()
            assert json.loads(next(lines))["resync"] is False
            proc.signal(signal.SIGTERM)
            assert proc.proc is not None
            assert proc.proc.wait(timeout=20) == 0
            assert list(lines) in ([], ['{"n":0}'])  # at most a heartbeat, then the end
    finally:
        proc.kill()
    log = proc.read_log()
    assert token not in log and "longenough" not in log
    # No REDIS_URL: the API says at start-up that gateways follow its event stream.
    assert "redis_disabled" in log and "/events/stream" in log
