"""The frontend runs as a real process (`python -m chat_frontend`) on free ports."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


# ---- a signed-in chat page with no backend: the API and the gateway as Playwright routes ----
ME = {"id": 1, "username": "me", "display_name": "Me", "created_at": "2024-05-01T10:00:00Z"}
BOB = {"id": 2, "username": "bob", "display_name": "Bob", "created_at": "2024-05-01T10:00:00Z"}


def room(room_id: int, name: str, kind: str, member_count: int) -> dict[str, Any]:
    return {
        "id": room_id,
        "name": name,
        "kind": kind,
        "member_count": member_count,
        "last_seq": 0,
        "last_read_seq": 0,
        "unread": 0,
        "created_at": "2024-05-01T10:00:00Z",
    }


ROOMS = [room(7, "solo", "public", 1), room(8, "pair", "private", 2), room(9, "", "dm", 2)]
PUBLIC = [
    room(7, "solo", "public", 1),
    room(10, "lobby", "public", 2),
    room(11, "void", "public", 0),
]
MEMBERS = {7: [ME], 8: [ME, BOB], 9: [ME, BOB]}


def _fake_api(route: Any) -> None:
    request = route.request
    path = request.url.split("/api", 1)[1].split("?", 1)[0]
    if path == "/refresh":
        token = {"access_token": "t", "token_type": "bearer", "expires_in": 900}
        route.fulfill(json={**token, "refresh_token": "r", "user": ME})
    elif path == "/rooms":
        route.fulfill(json=ROOMS)
    elif path == "/rooms/public":
        route.fulfill(json=PUBLIC)
    elif path.startswith("/rooms/") and path.endswith("/members"):
        route.fulfill(json=MEMBERS[int(path.split("/")[2])])
    elif path == "/messages":
        route.fulfill(json={"messages": [], "has_more": False})
    elif path.endswith("/read"):
        route.fulfill(status=204)
    else:
        route.fulfill(status=404, json={"detail": f"not stubbed: {request.method} {path}"})


@pytest.fixture
def fake_api() -> Callable[[Any], None]:
    """Just enough of the API for a signed-in page (`page.route("**/api/**", fake_api)`):
    one session, rooms 7, 8 and DM 9, no messages."""
    return _fake_api


@dataclass
class StubGateway:
    """The gateway as a `page.route_web_socket` handler: accepts the auth frame and, when
    `answers`, answers `presence` queries (their ref echoed) as the real one does."""

    answers: bool = False
    connections: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)  # page -> gateway frames

    def __call__(self, ws: Any) -> None:
        self.connections += 1

        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            self.received.append(frame)
            if frame.get("type") == "auth":
                ws.send(json.dumps({"type": "auth_ok", "user_id": ME["id"]}))
            elif frame.get("type") == "presence" and self.answers:
                reply = {"type": "presence", "room_id": frame["room_id"], "online": [ME["id"]]}
                ws.send(json.dumps({**reply, **({"ref": frame["ref"]} if "ref" in frame else {})}))

        ws.on_message(on_message)


@pytest.fixture
def stub_gateway() -> StubGateway:
    return StubGateway()


@pytest.fixture
def js(chromium_browser: Any, frontend: Frontend, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page of the real frontend with the test module's `SETUP` script evaluated (the
    modules under test imported into `window.__t`); a page error fails the test."""
    context = chromium_browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(frontend.url + "/login", wait_until="networkidle")
    page.evaluate(request.module.SETUP)
    page.evaluate("window.__t")
    try:
        yield page
    finally:
        context.close()
        assert errors == []
