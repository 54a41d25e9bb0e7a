"""Browser-side helpers: one `Person` = one browser context + page, driven by data-testid only.
REST calls (logging in to read what PostgreSQL holds) are chat_testkit.client's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from chat_testkit.client import login
from playwright.sync_api import Browser, BrowserContext, Locator, Page, WebSocket, expect

TIMEOUT_MS = 20_000
# Passwords of every browser user; the secret-grep test looks for each in every log.
PASSWORDS: list[str] = []


@dataclass
class Person:
    role: str  # "alice", "bob", ...: names the screenshots
    username: str
    display_name: str
    password: str
    context: BrowserContext
    page: Page
    http: httpx.Client  # through nginx, verifying its certificate
    shots: Path
    user_id: int = 0
    sockets: list[WebSocket] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def tid(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}-{self.role}.png"), full_page=True)

    def status(self) -> Locator:
        return self.tid("connection-status")

    def room_item(self, room_id: int) -> Locator:
        return self.page.locator(f'[data-testid=room-item][data-room-id="{room_id}"]')

    def member(self, user_id: int) -> Locator:
        return self.page.locator(f'[data-testid=member-item][data-user-id="{user_id}"]')

    def messages(self) -> Locator:
        return self.tid("message-list").get_by_test_id("message")

    def message_with(self, text: str) -> Locator:
        return self.messages().filter(
            has=self.page.get_by_test_id("message-content").get_by_text(text, exact=True)
        )

    def open_sockets(self) -> list[WebSocket]:
        return [ws for ws in self.sockets if not ws.is_closed()]

    def send(self, text: str) -> None:
        box = self.tid("composer-input")
        box.fill(text)
        box.press("Enter")

    def create_room(self, name: str) -> int:
        self.tid("open-room-browser").click()
        self.tid("create-room-name").fill(name)
        self.tid("create-room-submit").click()
        expect(self.tid("room-title")).to_have_text(name)
        return self.current_room()

    def join_room(self, name: str) -> int:
        self.tid("open-room-browser").click()
        item = self.tid("public-room-item").filter(
            has=self.page.get_by_test_id("public-room-name").get_by_text(name, exact=True)
        )
        item.get_by_test_id("public-room-join").click()
        expect(self.tid("room-title")).to_have_text(name)
        return self.current_room()

    def open_room(self, room_id: int) -> None:
        self.room_item(room_id).click()
        expect(self.tid("room")).to_be_visible()
        self.page.wait_for_function(f"location.hash === '#room={room_id}'")

    def current_room(self) -> int:
        self.page.wait_for_function("/^#room=\\d+$/.test(location.hash)")
        return int(self.page.evaluate("location.hash.split('=')[1]"))

    def dom_messages(self) -> list[dict[str, Any]]:
        """(seq, content, status) of every rendered message in the open room, in DOM order."""
        result: list[dict[str, Any]] = self.messages().evaluate_all(
            """els => els.map(e => ({
                seq: Number(e.dataset.seq), status: e.dataset.status,
                content: e.querySelector('[data-testid=message-content]')?.textContent ?? ''}))"""
        )
        return result


def new_person(
    browser: Browser, http: httpx.Client, shots: Path, tag: str, display_name: str | None = None
) -> Person:
    """A fresh context, registered through the UI and logged in (the register page signs in)."""
    base_url = str(http.base_url).rstrip("/")
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    username = f"{tag}{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    PASSWORDS.append(password)
    name = display_name or username
    person = Person(tag, username, name, password, context, page, http, shots)
    page.on("websocket", lambda ws: person.sockets.append(ws))
    context.on("request", lambda req: person.urls.append(req.url))
    page.on("pageerror", lambda exc: person.errors.append(str(exc)))
    page.goto("/register")
    person.tid("register-username").fill(username)
    if display_name:
        person.tid("register-display-name").fill(display_name)
    person.tid("register-password").fill(password)
    person.tid("register-submit").click()
    page.wait_for_url(f"{base_url}/**")
    if "/login" in page.url:  # registration may hand over to the login page
        person.tid("login-username").fill(username)
        person.tid("login-password").fill(password)
        person.tid("login-submit").click()
    expect(person.tid("chat-app")).to_have_attribute("data-ready", "true")
    expect(person.status()).to_have_attribute("data-state", "open")
    person.user_id = login(http, username, password).id
    return person
