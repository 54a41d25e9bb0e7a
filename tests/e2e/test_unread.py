"""Unread badges in real Chromium: a read marker is never lost, and no copy of a message counts
twice (a quick room switch used to leave 2 where 1 was right, also after a reload).

Each test registers its own Alice and Bob: Alice owns room A, Bob joined it and owns room B.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chat_testkit.client import login, rest
from e2e_stack import Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@dataclass
class Scene:
    alice: Person
    bob: Person
    room_a: int
    room_b: int


@pytest.fixture
def scene(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Scene]:
    tag = uuid.uuid4().hex[:6]
    alice = new_person(browser, stack.http, e2e_artifacts, "alice-u")
    bob = new_person(browser, stack.http, e2e_artifacts, "bob-u")
    try:
        room_a = alice.create_room(f"reads-{tag}")
        assert bob.join_room(f"reads-{tag}") == room_a
        room_b = bob.create_room(f"aside-{tag}")
        yield Scene(alice, bob, room_a, room_b)
    finally:
        for person in (alice, bob):
            person.context.close()


def badge(page: Page, room_id: int) -> Any:
    return expect(page.locator(f'[data-testid=room-item][data-room-id="{room_id}"]'))


def reload(page: Page) -> None:
    page.reload()
    expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")


def server_unread(stack: Stack, person: Person, room_id: int) -> int:
    user = login(stack.http, person.username, person.password)
    rooms = rest(stack.http, "GET", "/rooms", user).json()
    return int(next(r for r in rooms if r["id"] == room_id)["unread"])


def test_quick_switch_keeps_the_marker(scene: Scene, stack: Stack) -> None:
    """Read M1, switch rooms at once, M2 arrives: the badge is 1, and still 1 after a reload."""
    alice, bob = scene.alice, scene.bob
    bob.open_room(scene.room_a)
    alice.send("seen before the switch")
    expect(bob.message_with("seen before the switch")).to_be_visible()
    bob.room_item(scene.room_b).click()  # well inside the old 400 ms debounce
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "0")
    alice.send("arrives after the switch")
    expect(alice.message_with("arrives after the switch")).to_have_attribute("data-status", "sent")
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "1")
    reload(bob.page)
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "1")
    assert server_unread(stack, bob, scene.room_a) == 1


def test_reading_in_one_tab_clears_the_other_after_reload(scene: Scene, stack: Stack) -> None:
    """Two tabs of Bob: what one tab showed (then switched away or closed) is read in both."""
    alice, bob = scene.alice, scene.bob
    tab2 = bob.context.new_page()
    tab2.goto(f"/#room={scene.room_b}")
    expect(tab2.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")
    alice.send("for both tabs")
    for page in (bob.page, tab2):
        badge(page, scene.room_a).to_have_attribute("data-unread", "1")
    bob.open_room(scene.room_a)
    expect(bob.message_with("for both tabs")).to_be_visible()
    bob.room_item(scene.room_b).click()
    reload(tab2)
    badge(tab2, scene.room_a).to_have_attribute("data-unread", "0")

    alice.send("read, then the tab closes")
    badge(tab2, scene.room_a).to_have_attribute("data-unread", "1")
    bob.open_room(scene.room_a)
    expect(bob.message_with("read, then the tab closes")).to_be_visible()
    bob.page.close(run_before_unload=True)  # as a user closes a tab: unload handlers run
    deadline = time.monotonic() + 20
    while not bob.page.is_closed() and time.monotonic() < deadline:
        tab2.wait_for_timeout(50)  # poll: the close is asynchronous with unload handlers
    reload(tab2)
    badge(tab2, scene.room_a).to_have_attribute("data-unread", "0")
    assert server_unread(stack, bob, scene.room_a) == 0


def test_marker_shown_offline_is_sent_when_the_network_returns(scene: Scene, stack: Stack) -> None:
    """A marker whose PUT failed while offline goes out once the network is back."""
    alice, bob = scene.alice, scene.bob
    bob.open_room(scene.room_a)
    bob.room_item(scene.room_b).click()
    alice.send("read while offline")
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "1")
    bob.context.set_offline(True)
    bob.open_room(scene.room_a)
    expect(bob.message_with("read while offline")).to_be_visible()
    bob.room_item(scene.room_b).click()
    with bob.page.expect_response(lambda r: r.request.method == "PUT" and r.ok):
        bob.context.set_offline(False)
    reload(bob.page)
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "0")
    assert server_unread(stack, bob, scene.room_a) == 0


@dataclass
class Relay:
    """Bob's sockets through Playwright: drops chosen live events and every `fetch` frame, so
    the page fills gaps over HTTP or on resume and receives copies of messages it holds."""

    room_id: int
    drop_live: set[int] = field(default_factory=set)  # seqs whose live event is withheld
    close_after: int | None = None  # close the page's socket right after this live seq
    routes: list[WebSocketRoute] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)  # server -> page, forwarded

    def __call__(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        self.routes.append(ws)

        def down(message: str | bytes) -> None:
            frame = json.loads(message)
            live = frame.get("type") == "event" and not frame.get("replay")
            if live and frame.get("room_id") == self.room_id and frame.get("seq") in self.drop_live:
                return
            self.frames.append(frame)
            ws.send(message)
            if (
                live
                and frame.get("room_id") == self.room_id
                and frame.get("seq") == self.close_after
            ):
                ws.close()  # before the page's own HTTP fallback: it resumes on a new socket

        def up(message: str | bytes) -> None:
            if json.loads(message).get("type") != "fetch":
                server.send(message)

        server.on_message(down)
        ws.on_message(up)

    def resumed(self, after: int) -> bool:
        return any(
            f.get("type") == "resumed" and f.get("room_id") == self.room_id
            for f in self.frames[after:]
        )


def settle(page: Page) -> None:
    """Two animation frames: responses already received are applied and rendered."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_gap_fill_and_resume_copies_count_once(scene: Scene) -> None:
    """Messages filled over HTTP or replayed on resume count once, copies of held ones never."""
    alice, bob = scene.alice, scene.bob
    relay = Relay(scene.room_a, drop_live={1, 4})
    bob.page.route_web_socket(re.compile(r"/ws$"), relay)
    reload(bob.page)  # the socket now goes through the relay
    bob.open_room(scene.room_a)  # room A loaded and followed from its `joined` event seq
    bob.room_item(scene.room_b).click()
    expect(bob.status()).to_have_attribute("data-state", "open")

    # The socket's `fetch` is withheld: the page reads the room's events from its cursor.
    fill = re.compile(rf"/api/rooms/{scene.room_a}/events\?after=\d+&")
    with bob.page.expect_response(lambda r: bool(fill.search(r.url))) as response:
        for text in ("m1", "m2", "m3"):  # m1's live event withheld: m2 reveals a gap
            alice.send(text)
            expect(alice.message_with(text)).to_have_attribute("data-status", "sent")
    assert response.value.ok  # the HTTP gap fill brought m1 and copies of what Bob holds
    settle(bob.page)
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "3")

    seen = len(relay.frames)
    relay.close_after = 5  # m4 withheld; after m5 the page reconnects, resumes from m3's event
    for text in ("m4", "m5"):
        alice.send(text)
        expect(alice.message_with(text)).to_have_attribute("data-status", "sent")
    deadline = time.monotonic() + 20
    while not relay.resumed(seen) and time.monotonic() < deadline:
        bob.page.wait_for_timeout(50)  # poll: relay callbacks run inside Playwright calls
    assert relay.resumed(seen), "no resume answer for room A on the new socket"
    settle(bob.page)
    badge(bob.page, scene.room_a).to_have_attribute("data-unread", "5")
