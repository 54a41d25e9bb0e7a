"""Each service image, built from the local base, runs under the chart's security posture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_testkit.ports import free_port
from chat_testkit.redis import RedisServer
from image_containers import ApiStack, Container, image_config, importable, start
from image_support import SERVICES, ULIMITS, podman, unique_tag

# Cold runs install podman, debootstrap a rootfs and build before the first test body runs.
pytestmark = [pytest.mark.images, pytest.mark.timeout(2400)]

OTHER_MODULES = ["chat_contracts", "chat_testkit", "pytest"]


def config_problems(data: dict[str, Any]) -> list[str]:
    """What breaks the image rules in `podman image inspect` output (empty when none)."""
    problems = []
    user = (data.get("Config") or {}).get("User", "")
    if not user or user.split(":")[0] in {"0", "root"}:
        problems.append(f"USER is {user!r}, not a non-root user")
    # podman reports it top-level as "Healthcheck"; history catches any other spelling.
    history = " ".join(str(h.get("created_by", "")) for h in data.get("History") or [])
    if data.get("Healthcheck") or "HEALTHCHECK" in history:
        problems.append("has a HEALTHCHECK")
    return problems


def assert_image_shape(image: str, service: str) -> None:
    """Non-root USER, no HEALTHCHECK, only this service's package (+ contracts, no dev deps)."""
    assert config_problems(image_config(image)) == []

    found = importable(image, [*SERVICES.values(), *OTHER_MODULES])
    own = SERVICES[service]
    expected = {mod: mod == own for mod in SERVICES.values()}
    expected |= {"chat_contracts": True, "chat_testkit": False, "pytest": False}
    assert found == expected


def assert_runs_confined(container: Container) -> None:
    """The live process is non-root; the root filesystem is read-only, /tmp is writable."""
    uids = container.process_uids()
    assert all(uid != 0 for uid in uids), uids
    assert container.exec("id", "-u").strip() == str(uids[0])
    probe = "touch /app/.p 2>/dev/null && echo writable || echo read-only; touch /tmp/p && echo tmp"
    assert container.exec("sh", "-c", probe).split() == ["read-only", "tmp"]


def test_api_image(api_stack: ApiStack) -> None:
    """The API image migrates and serves against real PostgreSQL, confined and non-root."""
    c = api_stack.container
    resp = c.wait_healthy(f"{api_stack.public_url}/healthz", label="run api to healthy")
    assert resp.json() == {"status": "ok"}
    assert httpx.get(f"{api_stack.internal_url}/healthz", timeout=5).status_code == 200
    # Readiness runs SELECT 1: the image reached PostgreSQL with its driver.
    ready = httpx.get(f"{api_stack.public_url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert_runs_confined(c)
    assert_image_shape(c.image, "api")


def test_ws_gateway_image(
    image: Callable[[str], str], api_stack: ApiStack, redis_server: RedisServer
) -> None:
    """The gateway image is healthy, and ready because it reaches Redis and the API container."""
    img = image("ws-gateway")
    port, ops = free_port(), free_port()
    env = {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_OPS_HOST": "127.0.0.1",
        "GATEWAY_OPS_PORT": str(ops),
        "REDIS_URL": redis_server.url,
        "API_URL": api_stack.public_url,
        "API_INTERNAL_URL": api_stack.internal_url,
        "DRAIN_SECONDS": "1",
    }
    api_stack.container.wait_healthy(
        f"{api_stack.public_url}/healthz", label="api healthy (for gateway)"
    )
    c = start(img, env)
    try:
        resp = c.wait_healthy(f"http://127.0.0.1:{ops}/healthz", label="run ws-gateway to healthy")
        assert resp.json()["status"] == "ok"
        # /readyz turns 200 only once the Redis canary and the API's internal port answer.
        ready = c.wait_healthy(
            f"http://127.0.0.1:{ops}/readyz", label="ws-gateway healthy to ready"
        )
        assert ready.json()["api"] is True
        assert_runs_confined(c)
    finally:
        c.remove()
    assert_image_shape(img, "ws-gateway")


def test_frontend_image(image: Callable[[str], str]) -> None:
    """The frontend image serves its page and health port, confined and non-root."""
    img = image("frontend")
    port, ops = free_port(), free_port()
    env = {
        "FRONTEND_HOST": "127.0.0.1",
        "FRONTEND_PORT": str(port),
        "FRONTEND_OPS_PORT": str(ops),
        "PUBLIC_API_BASE": "/api",
        "PUBLIC_WS_URL": "/ws",
    }
    c = start(img, env)
    try:
        resp = c.wait_healthy(f"http://127.0.0.1:{ops}/healthz", label="run frontend to healthy")
        assert resp.json() == {"status": "ok"}
        # Readiness checks the templates and static files made it into the image.
        assert httpx.get(f"http://127.0.0.1:{ops}/readyz", timeout=5).status_code == 200
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert_runs_confined(c)
    finally:
        c.remove()
    assert_image_shape(img, "frontend")


def test_image_rules_catch_a_bad_image(base_image: str, tmp_path: Path) -> None:
    """The USER/HEALTHCHECK check flags an image that breaks both rules (no false green)."""
    (tmp_path / "Containerfile").write_text(
        f"FROM {base_image}\nHEALTHCHECK CMD true\nUSER 0\n", encoding="utf-8"
    )
    name = f"localhost/chat-rules-probe:{unique_tag()}"
    podman("build", *ULIMITS, "--format", "docker", "-t", name, str(tmp_path), timeout=300)
    try:
        problems = config_problems(image_config(name))
    finally:
        podman("rmi", name, check=False, timeout=120)
    assert problems == ["USER is '0', not a non-root user", "has a HEALTHCHECK"]
