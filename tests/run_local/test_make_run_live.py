"""`make run` without Redis is live too: the gateway follows the API's event stream, so a
bot's REST posts, edits and deletes reach the browser, and logout reaches open sockets."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from chat_testkit.browser import chromium
from run_local_support import PASSWORD, Stack, bearer, create_room, joined, register_and_login
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

pytestmark = pytest.mark.integration


def _rest(stack: Stack, method: str, path: str, login: dict[str, Any], **kw: Any) -> Any:
    url = f"{stack.api}/api{path}"
    r = httpx.request(method, url, headers=bearer(login), timeout=10, **kw)
    assert r.is_success, r.text
    return r.json() if r.content else {}


@pytest.mark.browser
def test_rest_posts_edits_and_deletes_appear_live_in_the_browser(default_stack: Stack) -> None:
    """A message a bot posts over REST shows in Bob's open page, then its edit, then its
    deletion, with no reload (before: nothing appeared until a reload)."""
    from playwright.sync_api import expect

    stack = default_stack
    bot, bob = register_and_login(stack.api, "bot"), register_and_login(stack.api, "bob")
    room = create_room(stack.api, bot, "bots")
    _rest(stack, "POST", f"/rooms/{room}/join", bob)
    with chromium() as browser:
        page = browser.new_page(base_url=stack.frontend_origin)
        page.set_default_timeout(10_000)
        page.goto("/login")
        page.get_by_test_id("login-username").fill(bob["user"]["username"])
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
        page.locator(f"[data-testid=room-item][data-room-id='{room}']").click()
        body = {"room_id": room, "content": "beep from a bot", "client_msg_id": uuid.uuid4().hex}
        msg = _rest(stack, "POST", "/messages", bot, json=body)
        shown = page.locator(f"[data-testid=message][data-message-id='{msg['id']}']")
        expect(shown.get_by_test_id("message-content")).to_have_text("beep from a bot")
        _rest(stack, "PATCH", f"/messages/{msg['id']}", bot, json={"content": "boop"})
        expect(shown.get_by_test_id("message-content")).to_have_text("boop")
        expect(shown.get_by_test_id("message-edited")).to_be_visible()
        _rest(stack, "DELETE", f"/messages/{msg['id']}", bot)
        expect(shown).to_have_attribute("data-status", "deleted")


def test_logout_closes_open_sockets_and_refuses_the_token(default_stack: Stack) -> None:
    """Logout over REST closes the session's open socket (1008) and the same token is
    refused at `auth` (before: the socket stayed open and a new one got auth_ok)."""
    stack = default_stack
    user = register_and_login(stack.api, "out")
    room = create_room(stack.api, user, "leaving")
    with joined(stack.gateway(), stack.frontend_origin, user, room) as ws:
        _rest(stack, "POST", "/logout", user)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "revoked: logout")
    origin = Origin(stack.frontend_origin)
    with connect(stack.gateway(), origin=origin, open_timeout=10) as fresh:
        fresh.send(json.dumps({"type": "auth", "token": user["access_token"]}))
        with pytest.raises(ConnectionClosed) as refused:
            fresh.recv(timeout=10)
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008
