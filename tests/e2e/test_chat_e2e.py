"""Two people chat in real Chromium through nginx, api, 2 gateway replicas, PostgreSQL, Redis.

Tests run in file order and share one pair of users (module fixture); the last one greps
every log the run produced, so keep it last.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from chat_contracts.channels import presence_key
from chat_testkit import RedisServer
from chat_testkit.client import login, room_history
from e2e_stack import Stack
from e2e_ui import PASSWORDS, Person, new_person
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

XSS = "<img src=x onerror=window.__xss=1>"
TAG = uuid.uuid4().hex[:6]


@dataclass
class Pair:
    alice: Person
    bob: Person
    room_id: int
    room_name: str


@pytest.fixture(scope="module")
def pair(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Pair]:
    """Alice and Bob registered in two browser contexts; Alice's public room, Bob joined."""
    alice = new_person(browser, stack.http, e2e_artifacts, "alice", "Alice")
    bob = new_person(browser, stack.http, e2e_artifacts, "bob", "Bob")
    name = f"lobby-{TAG}"
    room_id = alice.create_room(name)
    assert bob.join_room(name) == room_id
    try:
        yield Pair(alice, bob, room_id, name)
    finally:
        for person in (alice, bob):
            person.context.close()


def assert_matches_database(person: Person, stack: Stack, room_id: int) -> None:
    """The open room's DOM equals GET /api/messages: same seqs, once each, same state."""
    user = login(stack.http, person.username, person.password)
    stored = room_history(stack.http, user.token, room_id)
    # A deleted message shows a placeholder, so only its state is compared.
    expected = [
        (m["seq"], "deleted", "") if m["deleted"] else (m["seq"], "sent", m["content"])
        for m in stored
    ]
    deadline = time.monotonic() + 20
    while True:
        dom = [
            (m["seq"], m["status"], "" if m["status"] == "deleted" else m["content"])
            for m in person.dom_messages()
        ]
        if dom == expected or time.monotonic() > deadline:
            break
        person.page.wait_for_timeout(100)  # poll: the page applies events asynchronously
    assert dom == expected


def test_two_users_chat_presence_typing_edit_delete_unread(pair: Pair, stack: Stack) -> None:
    """Messages both ways, online + typing, edit and delete seen live, unread counts move."""
    alice, bob = pair.alice, pair.bob
    alice.send("hello from alice")
    expect(bob.message_with("hello from alice")).to_have_attribute("data-status", "sent")
    bob.send("hello from bob")
    expect(alice.message_with("hello from bob")).to_have_attribute("data-status", "sent")
    expect(alice.message_with("hello from alice")).to_have_count(1)

    expect(alice.member(bob.user_id)).to_have_attribute("data-online", "true")
    expect(bob.member(alice.user_id)).to_have_attribute("data-online", "true")
    bob.tid("composer-input").press_sequentially("typing", delay=20)
    expect(alice.tid("typing-indicator")).to_contain_text("Bob is typing")
    alice.shot("01-typing")
    bob.tid("composer-input").fill("")

    mine = alice.message_with("hello from alice")
    message_id = mine.get_attribute("data-message-id")
    mine.hover()
    mine.get_by_test_id("message-edit").click()
    alice.tid("message-edit-input").fill("hello from alice, edited")
    alice.tid("message-edit-input").press("Enter")
    edited = bob.page.locator(f'[data-testid=message][data-message-id="{message_id}"]')
    expect(edited.get_by_test_id("message-content")).to_have_text("hello from alice, edited")
    expect(edited.get_by_test_id("message-edited")).to_be_visible()
    bob.shot("02-edited")
    mine = alice.page.locator(f'[data-testid=message][data-message-id="{message_id}"]')
    mine.hover()
    mine.get_by_test_id("message-delete").click()
    mine.get_by_test_id("message-delete-confirm").click()
    expect(edited).to_have_attribute("data-status", "deleted")
    expect(mine).to_have_attribute("data-status", "deleted")

    # Unread: Bob looks at another room while Alice writes in the lobby.
    bob.create_room(f"side-{TAG}")
    alice.send("unread one")
    alice.send("unread two")
    expect(alice.message_with("unread two")).to_have_attribute("data-status", "sent")
    expect(bob.room_item(pair.room_id)).to_have_attribute("data-unread", "2")
    expect(bob.room_item(pair.room_id).get_by_test_id("room-unread")).to_have_text("2")
    expect(alice.room_item(pair.room_id)).to_have_attribute("data-unread", "0")
    bob.shot("03-unread")
    bob.open_room(pair.room_id)
    expect(bob.message_with("unread two")).to_have_count(1)
    expect(bob.room_item(pair.room_id)).to_have_attribute("data-unread", "0")
    alice.shot("04-conversation")
    for person in (alice, bob):
        assert_matches_database(person, stack, pair.room_id)


def replicas_of(redis_url: str, room_id: int, user_id: int) -> set[str]:
    """Replicas holding the user's sockets in a room: presence members are "<user>:<replica>".
    A killed replica's entry lingers until PRESENCE_TTL_SECONDS."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        found = client.zrangebyscore(presence_key(room_id), time.time(), "+inf")
    finally:
        client.close()
    return {str(m).split(":", 1)[1] for m in found if str(m).startswith(f"{user_id}:")}


def wait_replicas(redis_url: str, room_id: int, user_id: int, want: str | None) -> set[str]:
    """Poll until the user is on exactly one replica (want=None) or on `want`."""
    deadline = time.monotonic() + 20
    while True:
        seen = replicas_of(redis_url, room_id, user_id)
        if (len(seen) == 1 if want is None else want in seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def test_gateway_replica_killed_conversation_continues(
    pair: Pair, stack: Stack, redis_server: RedisServer
) -> None:
    """kill -9 Alice's replica: she reconnects to the other, nothing is missing or doubled."""
    alice, bob = pair.alice, pair.bob
    (replica,) = wait_replicas(redis_server.url, pair.room_id, alice.user_id, None)
    assert stack.gateway_connections(replica) >= 1
    before = len(alice.sockets)
    victim = stack.gateways[replica]
    victim.signal(signal.SIGKILL)
    assert victim.proc is not None
    victim.proc.wait(timeout=10)

    alice.send("alice while her replica died")
    bob.send("bob while alice's replica died")
    # A new socket (through nginx, to the surviving replica) and the old one closed.
    alice.page.wait_for_function(
        "() => document.querySelector('[data-testid=connection-status]').dataset.state === 'open'"
    )
    deadline = time.monotonic() + 30
    while len(alice.sockets) <= before and time.monotonic() < deadline:
        alice.page.wait_for_timeout(100)  # poll: Playwright reports sockets between calls
    assert len(alice.sockets) > before
    assert all(ws.is_closed() for ws in alice.sockets[:before])
    expect(alice.status()).to_have_attribute("data-state", "open")
    survivor = next(r for r in stack.gateways if r != replica)
    assert survivor in wait_replicas(redis_server.url, pair.room_id, alice.user_id, survivor)

    for person, text in (
        (alice, "bob while alice's replica died"),
        (bob, "alice while her replica died"),
    ):
        expect(person.message_with(text)).to_have_attribute("data-status", "sent")
    alice.send("after recovery")
    expect(bob.message_with("after recovery")).to_have_count(1)
    expect(
        alice.messages().and_(alice.page.locator("[data-status=pending], [data-status=failed]"))
    ).to_have_count(0)
    alice.shot("05-after-replica-kill")
    bob.shot("05-after-replica-kill")
    for person in (alice, bob):
        assert_matches_database(person, stack, pair.room_id)


def test_xss_payload_renders_as_text(
    pair: Pair, stack: Stack, browser: Browser, e2e_artifacts: Path
) -> None:
    """A display name and a message of <img onerror> show as text and run nothing."""
    carol = new_person(browser, stack.http, e2e_artifacts, "carol", XSS)
    bob = pair.bob
    try:
        expect(carol.tid("current-user")).to_have_text(XSS)
        carol.create_room(f"xss-{TAG}")
        bob.join_room(f"xss-{TAG}")
        carol.send(XSS)
        message = bob.message_with(XSS)
        expect(message).to_have_attribute("data-status", "sent")
        expect(message.get_by_test_id("message-author")).to_have_text(XSS)
        expect(bob.member(carol.user_id).get_by_test_id("member-name")).to_have_text(XSS)
        bob.shot("06-xss")
        for person in (bob, carol):
            assert person.page.locator("img[src=x]").count() == 0
            assert person.page.evaluate("typeof window.__xss") == "undefined"
    finally:
        carol.context.close()
    bob.open_room(pair.room_id)


def test_no_token_in_storage_urls_or_script_cookies(pair: Pair) -> None:
    """After login no JWT in localStorage/sessionStorage, any URL or document.cookie."""
    for person in (pair.alice, pair.bob):
        storage = person.page.evaluate(
            "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert "eyJ" not in storage and person.page.evaluate("localStorage.length") == 0
        assert "chat_refresh" not in person.page.evaluate("document.cookie")
        cookie = next(c for c in person.context.cookies() if c["name"] == "chat_refresh")
        assert cookie["httpOnly"] and cookie["path"] == "/api" and cookie["sameSite"] == "Strict"
        urls = person.urls + [ws.url for ws in person.sockets]
        assert urls and not [u for u in urls if "eyJ" in u or re.search(r"token=", u)]
        assert person.errors == []


def test_reload_keeps_session_and_logout_closes_socket(pair: Pair) -> None:
    """A reload stays signed in (refresh cookie via nginx); logout closes the socket."""
    alice, bob = pair.alice, pair.bob
    bob.page.reload()
    expect(bob.tid("chat-app")).to_have_attribute("data-ready", "true")
    expect(bob.status()).to_have_attribute("data-state", "open")
    open_before = alice.open_sockets()
    assert open_before
    alice.tid("logout-button").click()
    alice.page.wait_for_url(re.compile(r"/login"))
    for ws in open_before:
        if not ws.is_closed():
            ws.wait_for_event("close")
    assert alice.open_sockets() == []
    bob.open_room(pair.room_id)
    expect(bob.member(alice.user_id)).to_have_attribute("data-online", "false")
    alice.page.goto("/")  # the refresh cookie is revoked: back to the login page
    alice.page.wait_for_url(re.compile(r"/login"))
    alice.shot("07-logged-out")


def test_signed_out_visits_log_no_console_error(stack: Stack, browser: Browser) -> None:
    """With no session, the chat, profile and login pages through nginx end on /login with a
    clean console: the session probe (`/api/refresh?optional=true`) is a 204, not a red 401."""
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    probes: list[int] = []
    page.on("response", lambda r: probes.append(r.status) if "/api/refresh" in r.url else None)
    try:
        for path in ("/", "/profile", "/login"):
            page.goto(path)
            page.wait_for_url(re.compile(r"/login"))
            page.wait_for_load_state("networkidle")
        assert errors == []
        assert probes == [204, 204]
    finally:
        context.close()


def test_no_token_or_password_in_any_log(stack: Stack) -> None:
    """nginx access/error logs and every service log hold no JWT and no test password."""
    access = stack.access_log.read_text()
    assert "/api/login" in access and "/ws" in access
    assert PASSWORDS
    for path in stack.all_logs():
        text = path.read_text(errors="replace")
        assert "eyJ" not in text, f"a token in {path}"
        leaked = [p for p in PASSWORDS if p in text]
        assert not leaked, f"a test password in {path}"
