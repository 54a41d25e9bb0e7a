"""Protocol 2 in real Chromium through nginx, api, 2 gateways, PostgreSQL and Redis: what other
people do shows on an already open page, live, from the room and user event streams.

"Within 1 s" is a functional check, not a speed benchmark: each `expect(..., timeout=1000)`
starts right after the request that caused the change returned, and before protocol 2 the
page learnt of these changes only from its 30 s room poll, a reload, or never.
Each test registers its own Alice and Bob (fresh browser contexts).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chat_testkit.client import User, login, rest
from e2e_stack import Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LIVE_MS = 1_000
Body = dict[str, Any] | None


@dataclass
class Duo:
    stack: Stack
    alice: Person
    bob: Person
    alice_api: User

    def as_alice(self, method: str, path: str, body: Body = None) -> Any:
        """Alice's REST call through nginx (her own session, beside her browser's)."""
        return self.call(self.alice_api, method, path, body)

    def as_user(self, person: Person, method: str, path: str, body: Body = None) -> Any:
        user = login(self.stack.http, person.username, person.password)
        return self.call(user, method, path, body)

    def call(self, user: User, method: str, path: str, body: Body) -> Any:
        r = rest(self.stack.http, method, path.removeprefix("/api"), user, json=body)
        assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def post(self, room_id: int, content: str) -> dict[str, Any]:
        body = {"room_id": room_id, "content": content, "client_msg_id": uuid.uuid4().hex}
        message: dict[str, Any] = self.as_alice("POST", "/api/messages", body)
        return message


@pytest.fixture
def duo(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Duo]:
    tag = uuid.uuid4().hex[:4]
    alice = new_person(browser, stack.http, e2e_artifacts, "alice-live", f"Alice {tag}")
    bob = new_person(browser, stack.http, e2e_artifacts, "bob-live", f"Bob {tag}")
    alice_api = login(stack.http, alice.username, alice.password)
    try:
        yield Duo(stack, alice, bob, alice_api)
        assert alice.errors == [] and bob.errors == []
    finally:
        for person in (alice, bob):
            person.context.close()


def tag() -> str:
    return uuid.uuid4().hex[:6]


def public_room_with_bob(duo: Duo) -> int:
    """Alice's public room (open on her page), joined and open on Bob's."""
    name = f"live-{tag()}"
    room_id = duo.alice.create_room(name)
    assert duo.bob.join_room(name) == room_id
    return room_id


def test_a_new_dm_appears_on_the_recipients_open_page(duo: Duo) -> None:
    """Alice opens a DM with Bob: it is in Bob's sidebar within 1 s, named after her, and
    her first message there counts as unread (Bob's socket follows the new room)."""
    dm = duo.as_alice("POST", "/api/dms", {"user_id": duo.bob.user_id})
    item = duo.bob.room_item(dm["id"])
    expect(item).to_be_visible(timeout=LIVE_MS)
    expect(item).to_have_attribute("data-kind", "dm")
    expect(item.get_by_test_id("room-name")).to_have_text(duo.alice.display_name)
    duo.post(dm["id"], "hello in our new DM")
    expect(item).to_have_attribute("data-unread", "1")
    item.click()
    expect(duo.bob.message_with("hello in our new DM")).to_be_visible()


def test_a_private_room_invite_appears_on_the_invitees_open_page(duo: Duo) -> None:
    """Alice invites Bob into her private room: it is in his sidebar within 1 s."""
    name = f"secret-{tag()}"
    room = duo.as_alice("POST", "/api/rooms", {"name": name, "kind": "private"})
    duo.as_alice("POST", f"/api/rooms/{room['id']}/invite", {"user_id": duo.bob.user_id})
    item = duo.bob.room_item(room["id"])
    expect(item).to_be_visible(timeout=LIVE_MS)
    expect(item.get_by_test_id("room-name")).to_have_text(name)
    expect(item).to_have_attribute("data-kind", "private")


def test_a_display_name_change_shows_on_the_other_users_page(duo: Duo) -> None:
    """Alice renames herself: within 1 s Bob's page shows the new name as her messages'
    author and in the member list (and her own page in its top bar)."""
    alice, bob = duo.alice, duo.bob
    public_room_with_bob(duo)
    alice.send("said before the rename")
    said = bob.message_with("said before the rename")
    expect(said.get_by_test_id("message-author")).to_have_text(alice.display_name)
    expect(bob.member(alice.user_id).get_by_test_id("member-name")).to_have_text(alice.display_name)

    new_name = f"Alicia {tag()}"
    duo.as_alice("PUT", "/api/users/me", {"display_name": new_name})
    expect(said.get_by_test_id("message-author")).to_have_text(new_name, timeout=LIVE_MS)
    expect(bob.member(alice.user_id).get_by_test_id("member-name")).to_have_text(
        new_name, timeout=LIVE_MS
    )
    expect(alice.tid("current-user")).to_have_text(new_name, timeout=LIVE_MS)


def test_the_header_member_count_follows_joins_and_leaves(duo: Duo) -> None:
    """Bob joins and leaves Alice's open room over REST: her header's "N members", the
    sidebar's count and her member list follow each within 1 s."""
    alice, bob = duo.alice, duo.bob
    room_id = alice.create_room(f"count-{tag()}")
    meta, item = alice.tid("room-meta"), alice.room_item(room_id)
    expect(meta).to_have_text("public room · 1 member")
    duo.as_user(bob, "POST", f"/api/rooms/{room_id}/join")
    expect(meta).to_have_text("public room · 2 members", timeout=LIVE_MS)
    expect(item).to_have_attribute("data-member-count", "2", timeout=LIVE_MS)
    expect(alice.member(bob.user_id)).to_be_visible(timeout=LIVE_MS)
    duo.as_user(bob, "POST", f"/api/rooms/{room_id}/leave")
    expect(meta).to_have_text("public room · 1 member", timeout=LIVE_MS)
    expect(item).to_have_attribute("data-member-count", "1", timeout=LIVE_MS)
    expect(alice.member(bob.user_id)).to_have_count(0, timeout=LIVE_MS)


def test_a_room_renamed_in_the_header_shows_on_the_other_members_page(duo: Duo) -> None:
    """Alice renames the room and sets its topic from the header's Edit form: Bob's header,
    topic line, sidebar and tab title show them within 1 s of her PATCH."""
    alice, bob = duo.alice, duo.bob
    room_id = public_room_with_bob(duo)
    new_name, topic = f"plans-{tag()}", "Q3 planning, Thursdays"
    alice.tid("room-edit-button").click()
    alice.tid("room-edit-name").fill(new_name)
    alice.tid("room-edit-topic").fill(topic)
    with alice.page.expect_response(
        lambda r: r.request.method == "PATCH" and r.url.endswith(f"/api/rooms/{room_id}")
    ) as patched:
        alice.tid("room-edit-save").click()
    assert patched.value.ok
    expect(bob.tid("room-title")).to_have_text(new_name, timeout=LIVE_MS)
    expect(bob.tid("room-topic")).to_have_text(topic, timeout=LIVE_MS)
    expect(bob.room_item(room_id).get_by_test_id("room-name")).to_have_text(
        new_name, timeout=LIVE_MS
    )
    expect(bob.page).to_have_title(f"#{new_name} · Chat", timeout=LIVE_MS)
    expect(alice.tid("room-edit-form")).to_be_hidden()
    expect(alice.tid("room-title")).to_have_text(new_name)
    expect(alice.tid("room-topic")).to_have_text(topic)


def test_a_removed_member_loses_the_room(duo: Duo) -> None:
    """Alice removes Bob from her private room while he has it open: it leaves his sidebar
    and his page switches away, within 1 s."""
    bob = duo.bob
    room = duo.as_alice("POST", "/api/rooms", {"name": f"crew-{tag()}", "kind": "private"})
    duo.as_alice("POST", f"/api/rooms/{room['id']}/invite", {"user_id": bob.user_id})
    reload(bob.page)  # the invite's own live arrival is the test above
    bob.open_room(room["id"])
    duo.as_alice("DELETE", f"/api/rooms/{room['id']}/members/{bob.user_id}")
    expect(bob.room_item(room["id"])).to_have_count(0, timeout=LIVE_MS)
    expect(bob.tid("no-room-selected")).to_be_visible(timeout=LIVE_MS)


@dataclass
class Cutter:
    """Bob's sockets through Playwright, passed through to the real gateway until `cut()`:
    then the open one is closed from the server's side and new ones are closed at once,
    until `restore()`."""

    down: bool = False
    routes: list[tuple[WebSocketRoute, WebSocketRoute]] = field(default_factory=list)

    def __call__(self, ws: WebSocketRoute) -> None:
        if self.down:
            ws.close(code=1012, reason="test: no gateway")
            return
        self.routes.append((ws, ws.connect_to_server()))

    def cut(self) -> None:
        self.down = True
        for page_side, server_side in self.routes:
            page_side.close(code=1012, reason="test: gateway went away")
            server_side.close()
        self.routes.clear()

    def restore(self) -> None:
        self.down = False


def reload(page: Page) -> None:
    page.reload()
    expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")


def test_changes_made_while_the_socket_was_down_show_after_the_reconnect(duo: Duo) -> None:
    """Bob's socket is down while Alice edits one message and deletes another over REST in
    the room he has open, deletes her unread message in a room he never opened and renames
    herself: after the reconnect (resume from his room and user event cursors) all of it
    shows, the badge and her new name included."""
    alice, bob = duo.alice, duo.bob
    open_room = public_room_with_bob(duo)
    other = f"aside-{tag()}"
    other_room = alice.create_room(other)
    duo.as_user(bob, "POST", f"/api/rooms/{other_room}/join")
    cutter = Cutter()
    bob.page.route_web_socket(re.compile(r"/ws$"), cutter)
    reload(bob.page)  # the socket now goes through the cutter
    expect(bob.status()).to_have_attribute("data-state", "open")
    expect(bob.room_item(other_room)).to_be_visible()
    bob.open_room(open_room)

    keep, drop = duo.post(open_room, "to be edited"), duo.post(open_room, "to be deleted")
    unread = duo.post(other_room, "unread, then deleted")
    expect(bob.message_with("to be deleted")).to_be_visible()
    expect(bob.room_item(other_room)).to_have_attribute("data-unread", "1")

    cutter.cut()
    expect(bob.status()).not_to_have_attribute("data-state", "open")
    duo.as_alice("PATCH", f"/api/messages/{keep['id']}", {"content": "edited while away"})
    duo.as_alice("DELETE", f"/api/messages/{drop['id']}")
    duo.as_alice("DELETE", f"/api/messages/{unread['id']}")
    new_name = f"Alicia {tag()}"
    duo.as_alice("PUT", "/api/users/me", {"display_name": new_name})
    cutter.restore()

    expect(bob.status()).to_have_attribute("data-state", "open")
    shown = bob.page.locator(f'[data-testid=message][data-message-id="{keep["id"]}"]')
    expect(shown.get_by_test_id("message-content")).to_have_text("edited while away")
    expect(shown.get_by_test_id("message-edited")).to_be_visible()
    gone = bob.page.locator(f'[data-testid=message][data-message-id="{drop["id"]}"]')
    expect(gone).to_have_attribute("data-status", "deleted")
    expect(bob.room_item(other_room)).to_have_attribute("data-unread", "0")
    expect(shown.get_by_test_id("message-author")).to_have_text(new_name)


def test_unread_badges_follow_read_moved_from_another_tab(duo: Duo) -> None:
    """Bob's second tab reads the room: his first tab's badge follows within 1 s of that
    tab's PUT, and counts Alice's next message again."""
    alice, bob = duo.alice, duo.bob
    room_id = public_room_with_bob(duo)
    aside = bob.create_room(f"aside-{tag()}")  # tab 1 looks elsewhere
    duo.post(room_id, "one")
    duo.post(room_id, "two")
    badge = bob.room_item(room_id)
    expect(badge).to_have_attribute("data-unread", "2")

    tab2 = bob.context.new_page()
    with tab2.expect_response(
        lambda r: r.request.method == "PUT" and r.url.endswith(f"/api/rooms/{room_id}/read")
    ) as marked:
        tab2.goto(f"/#room={room_id}")
    assert marked.value.ok and marked.value.json()["unread"] == 0
    expect(badge).to_have_attribute("data-unread", "0", timeout=LIVE_MS)

    tab2.locator(f'[data-testid=room-item][data-room-id="{aside}"]').click()
    tab2.wait_for_function(f"location.hash === '#room={aside}'")
    alice.send("three")
    expect(alice.message_with("three")).to_have_attribute("data-status", "sent")
    expect(badge).to_have_attribute("data-unread", "1")
    expect(tab2.locator(f'[data-testid=room-item][data-room-id="{room_id}"]')).to_have_attribute(
        "data-unread", "1"
    )
