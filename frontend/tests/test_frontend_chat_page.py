"""The chat page in real Chromium against a stubbed API and gateway (Playwright routes):
what the page itself shows, with no backend behind the frontend process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def chat(chromium_browser, frontend, fake_api, stub_gateway) -> Iterator[tuple[Any, list[str]]]:
    context = chromium_browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/api/**", fake_api)
    page.route_web_socket("**/ws", stub_gateway)
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
