"""`make run` (scripts/run_local.py) starts a usable stack and stops it cleanly.

The default-stack tests share one running stack and run in file order: the Ctrl-C test
stops it, so it comes after the others.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from argparse import Namespace
from pathlib import Path

import httpx
import pytest
from chat_testkit import PostgresServer, RedisServer
from chat_testkit.browser import chromium
from run_local_support import (
    PASSWORD,
    ROOT,
    SCRIPT,
    Stack,
    bearer,
    create_room,
    joined,
    load_script,
    next_frame,
    register_and_login,
    scrubbed_env,
    send_message,
    start_stack,
    stop_and_check,
)

pytestmark = pytest.mark.integration


def test_make_run_prints_url_and_wires_origins(default_stack: Stack) -> None:
    """The printed URL serves pages that point at the API/gateway ports, with CORS for them."""
    stack = default_stack
    url = stack.wait_for(r"ready -> open (http://\S+)").group(1)
    assert url == stack.frontend_origin
    page = httpx.get(f"http://127.0.0.1:{stack.base + 2}/login", timeout=10)
    assert page.status_code == 200
    assert f'"apiBase": "http://localhost:{stack.base}/api"' in page.text
    assert f'"wsUrl": "ws://localhost:{stack.base + 4}/ws"' in page.text
    preflight = httpx.options(
        f"{stack.api}/api/login",
        headers={
            "Origin": stack.frontend_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.headers["access-control-allow-origin"] == stack.frontend_origin
    assert preflight.headers["access-control-allow-credentials"] == "true"
    # Embedded defaults: SQLite and a generated secret (owner-only) in the run dir.
    assert (stack.run_dir / "chat.db").exists()
    secret = stack.run_dir / "jwt_secret"
    assert secret.stat().st_mode & 0o077 == 0 and len(secret.read_text().strip()) == 64


def test_make_run_register_http_then_message_over_ws(default_stack: Stack) -> None:
    """Register + login over HTTP, then auth/join/message over the gateway -> ack, stored."""
    stack = default_stack
    login = register_and_login(stack.api, "rl")
    room_id = create_room(stack.api, login, "local")
    with joined(stack.gateway(), stack.frontend_origin, login, room_id) as ws:
        sent = send_message(ws, room_id, "hi")
    assert sent["content"] == "hi" and sent["seq"] == 1
    r = httpx.get(
        f"{stack.api}/api/messages", params={"room_id": room_id}, headers=bearer(login), timeout=10
    )
    assert [m["content"] for m in r.json()["messages"]] == ["hi"]


@pytest.mark.browser
def test_make_run_browser_login_survives_reload(default_stack: Stack, artifacts_dir: Path) -> None:
    """In Chromium at the printed URL: register, chat, reload -> still signed in (cross-port
    refresh cookie, Path=/api on the API origin, is same-site on localhost)."""
    from playwright.sync_api import expect

    stack, user = default_stack, f"br{uuid.uuid4().hex[:8]}"
    with chromium() as browser:
        page = browser.new_page(base_url=stack.frontend_origin)
        page.set_default_timeout(20_000)
        page.goto("/register")
        page.get_by_test_id("register-username").fill(user)
        page.get_by_test_id("register-password").fill(PASSWORD)
        page.get_by_test_id("register-submit").click()
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
        page.get_by_test_id("open-room-browser").click()
        page.get_by_test_id("create-room-name").fill("browser")
        page.get_by_test_id("create-room-submit").click()
        page.get_by_test_id("composer-input").fill("from the browser")
        page.get_by_test_id("composer-input").press("Enter")
        sent = page.locator("[data-testid=message][data-status=sent]")
        expect(sent).to_have_count(1)
        cookies = page.context.cookies()
        assert [(c["name"], c["domain"], c["path"]) for c in cookies] == [
            ("chat_refresh", "localhost", "/api")
        ]
        page.reload()
        expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("current-user")).to_have_text(user)
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
        expect(sent).to_have_count(1)
        (artifacts_dir / "run-local").mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts_dir / "run-local" / "browser-after-reload.png"))


def plain(output: str) -> str:
    """Without ANSI colour codes, so each log test fails only for its own reason."""
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def service_lines(output: str, service: str) -> list[str]:
    """The lines one child printed, without run_local's `name | ` prefix."""
    return [
        line.split(" | ", 1)[1]
        for line in output.splitlines()
        if " | " in line and line.split(" | ", 1)[0].strip() == service
    ]


def test_make_run_uvicorn_start_lines_once(default_stack: Stack) -> None:
    """api and frontend each run two uvicorn servers in one process: every lifecycle line
    is printed once per service, and "Uvicorn running on" once per port."""
    output = plain(default_stack.output())
    for service in ("api", "frontend"):
        lines = service_lines(output, service)
        for text in ("Started server process", "Application startup complete."):
            assert sum(text in line for line in lines) == 1, (service, text, lines)
        assert sum("Uvicorn running on" in line for line in lines) == 2, (service, lines)


def test_make_run_redirected_log_has_no_colour_codes(default_stack: Stack) -> None:
    """Output into a file gets NO_COLOR=1 from run_local, and the services honour it."""
    output = default_stack.output()
    assert "migrated" in output and "Uvicorn running on" in output  # service lines are there
    assert "\x1b[" not in output


def test_make_run_probes_not_logged_at_info(default_stack: Stack) -> None:
    """Probes on every port of every service (and the gateway's own API checks) leave no
    INFO line; an ordinary request still does."""
    stack, api_marker, page_marker = default_stack, uuid.uuid4().hex, uuid.uuid4().hex
    b = stack.base
    probes = [f"http://127.0.0.1:{port}{path}" for port in (b, b + 1, b + 3, b + 5)
              for path in ("/healthz", "/readyz")]  # fmt: skip
    probes += [f"{stack.api}/api/healthz", f"http://127.0.0.1:{b + 2}/healthz"]
    with httpx.Client(timeout=10) as http:
        for url in probes:
            http.get(url)
        # Ordinary requests after the probes, to wait on: each service logs in order.
        http.get(f"{stack.api}/api/openapi.json", headers={"X-Request-ID": api_marker})
        http.get(f"http://127.0.0.1:{b + 2}/static/{page_marker}.js")
    stack.wait_for(api_marker)
    stack.wait_for(page_marker)
    info = [line for line in plain(stack.output()).splitlines() if "[info " in line]
    noisy = [line for line in info if re.search(r"/(healthz|readyz)\b|connection rejected", line)]
    assert noisy == [], noisy[:5]


def test_make_run_ctrl_c_stops_everything(default_stack: Stack) -> None:
    """SIGINT (Ctrl-C) -> every child stops, exit 0; no token or password was logged."""
    stop_and_check(default_stack)
    output = default_stack.output()
    assert PASSWORD not in output and "eyJ" not in output


def test_make_run_postgres_redis_two_gateways(
    tmp_path: Path, stack_log: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    """DATABASE_URL + REDIS_URL + GATEWAY_REPLICAS=2: sent on replica 1, delivered on 2;
    SIGTERM stops all of it with exit 0."""
    db_url = postgres_server.create_database(f"runlocal_{uuid.uuid4().hex[:8]}")
    env = {"DATABASE_URL": db_url, "REDIS_URL": redis_server.url, "GATEWAY_REPLICAS": "2"}
    stack = start_stack(tmp_path, stack_log, env)
    try:
        stack.wait_for(r"ready -> open")
        assert "postgresql+psycopg, redis, 2 gateway(s)" in stack.output()
        alice = register_and_login(stack.api, "al")
        bob = register_and_login(stack.api, "bo")
        room_id = create_room(stack.api, alice, "pair")
        r = httpx.post(f"{stack.api}/api/rooms/{room_id}/join", headers=bearer(bob), timeout=10)
        assert r.status_code == 200, r.text
        origin = stack.frontend_origin
        with (
            joined(stack.gateway(1), origin, bob, room_id) as bob_ws,
            joined(stack.gateway(0), origin, alice, room_id) as alice_ws,
        ):
            send_message(alice_ws, room_id, "across replicas")
            event = next_frame(bob_ws, "event")
        assert event["message"]["content"] == "across replicas"
        assert not (stack.run_dir / "chat.db").exists()  # PostgreSQL, not the SQLite default
        stop_and_check(stack, signal.SIGTERM)
    finally:
        if stack.proc.poll() is None:
            stack.proc.kill()


def test_replicas_without_redis_refused(tmp_path: Path) -> None:
    """GATEWAY_REPLICAS=2 without REDIS_URL stops at once with a clear message."""
    argv = [sys.executable, str(SCRIPT), "--run-dir", str(tmp_path / "run")]
    env = scrubbed_env(GATEWAY_REPLICAS="2")
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "GATEWAY_REPLICAS > 1 needs REDIS_URL" in done.stderr


def test_port_layout(tmp_path: Path) -> None:
    """Contract default ports without --port-base; with it every port moves, replicas pair up."""
    module = load_script()
    env = {"RUN_LOCAL_DIR": str(tmp_path), "JWT_SECRET": "x" * 64}
    cfg = module.build_config(Namespace(port_base=None, run_dir=None), env)
    assert cfg.ports == {
        "API_PORT": 8000, "API_INTERNAL_PORT": 8001, "FRONTEND_PORT": 8080,
        "FRONTEND_OPS_PORT": 9102, "GATEWAY_PORT": 8765, "GATEWAY_OPS_PORT": 9100,
    }  # fmt: skip
    assert cfg.env["CORS_ORIGINS"] == cfg.env["ALLOWED_ORIGINS"] == "http://localhost:8080"
    assert cfg.env["COOKIE_SECURE"] == "false"
    assert cfg.env["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    env |= {"REDIS_URL": "redis://127.0.0.1:1/0", "GATEWAY_REPLICAS": "2"}
    cfg = module.build_config(Namespace(port_base="30000", run_dir=None), env)
    assert cfg.gateway_ports == [(30004, 30005), (30006, 30007)]
    assert cfg.env["PUBLIC_API_BASE"] == "http://localhost:30000/api"
    assert cfg.env["PUBLIC_WS_URL"] == "ws://localhost:30004/ws"
    assert cfg.env["API_URL"] == "http://127.0.0.1:30000"
