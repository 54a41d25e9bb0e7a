"""The chat page in real Chromium against a stubbed API and gateway (Playwright routes):
what the page itself shows, with no backend behind the frontend process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

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


def fake_api(route: Any) -> None:
    """Just enough of the API for a signed-in page: one session, three rooms, no messages."""
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


def fake_gateway(ws: Any) -> None:
    """Accepts the auth frame; nothing else is answered."""

    def on_message(message: str | bytes) -> None:
        if json.loads(message).get("type") == "auth":
            ws.send(json.dumps({"type": "auth_ok", "user_id": ME["id"]}))

    ws.on_message(on_message)


@pytest.fixture
def chat(chromium_browser, frontend) -> Iterator[tuple[Any, list[str]]]:
    context = chromium_browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/api/**", fake_api)
    page.route_web_socket("**/ws", fake_gateway)
    page.goto(frontend.url + "/")
    expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")
    try:
        yield page, errors
    finally:
        context.close()


def open_room(page: Any, room_id: int) -> None:
    page.locator(f'[data-testid="room-item"][data-room-id="{room_id}"]').click()


def test_title_names_the_open_room(chat) -> None:
    """The tab reads "Chat" with no room open, then "#room · Chat" or the DM partner's name,
    never "Chat · Chat"."""
    page, errors = chat
    assert page.title() == "Chat"
    open_room(page, 7)
    expect(page).to_have_title("#solo · Chat")
    open_room(page, 9)
    expect(page.get_by_test_id("room-title")).to_have_text("Bob")
    expect(page).to_have_title("Bob · Chat")
    assert errors == []


def test_member_counts_are_pluralised(chat) -> None:
    """The room header and the public room list say "1 member", "2 members", "0 members"."""
    page, errors = chat
    open_room(page, 7)
    expect(page.get_by_test_id("room-meta")).to_have_text("public room · 1 member")
    open_room(page, 8)
    expect(page.get_by_test_id("room-meta")).to_have_text("private room · 2 members")
    page.get_by_test_id("open-room-browser").click()
    counts = page.get_by_test_id("public-room-members")
    expect(counts).to_have_text(["1 member", "2 members", "0 members"])
    assert errors == []
