"""The connection banner of the chat page in real Chromium, with the API and the gateway as
Playwright routes: after the browser's network returns, the banner says what the socket is.

`context.set_offline` fires `offline`/`online`; a routed socket stays up, as a real one often
does. The page then asks the socket to prove itself (a `presence` query with a ref): an
answer means connected, silence means a dead socket, which is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Runs before the page's scripts: every banner state in order, readable by `expect`.
STATE_RECORDER = """
new MutationObserver((changes) => {
  const seen = document.documentElement.dataset;
  for (const c of changes) seen.states = `${seen.states || ""} ${c.target.dataset.state}`;
}).observe(document, { subtree: true, attributeFilter: ["data-state"] });
"""


@pytest.fixture
def chat(chromium_browser, frontend, fake_api, stub_gateway) -> Iterator[tuple[Any, list[str]]]:
    context = chromium_browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(STATE_RECORDER)
    page.route("**/api/**", fake_api)
    page.route_web_socket("**/ws", stub_gateway)
    page.goto(frontend.url + "/#room=7")
    expect(page.get_by_test_id("chat-app")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    try:
        yield page, errors
    finally:
        context.close()


def states(page: Any) -> list[str]:
    """The banner's states so far, repeats (a re-render of the same state) folded."""
    seen = str(page.evaluate("document.documentElement.dataset.states || ''")).split()
    return [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]


def probes(gateway: Any) -> list[dict[str, Any]]:
    return [f for f in gateway.received if f.get("type") == "presence" and "ref" in f]


def test_network_back_and_the_socket_answers_is_connected_at_once(chat, stub_gateway) -> None:
    """Offline, then online: the open socket answers the probe, the banner says Connected,
    and nothing reconnected."""
    page, errors = chat
    stub_gateway.answers = True
    status = page.get_by_test_id("connection-status")
    page.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    page.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "open")
    expect(status).to_have_text("Connected")
    assert stub_gateway.connections == 1
    assert [(p["room_id"], p["ref"]) for p in probes(stub_gateway)] == [(7, "socket-probe")]
    assert states(page)[-2:] == ["offline", "open"]
    assert errors == []


def test_a_socket_silent_after_the_network_returns_is_replaced(chat, stub_gateway) -> None:
    """Online again but the socket never answers the probe: it is closed and a new one
    connects; the banner is not "Connected" until then."""
    page, errors = chat
    status = page.get_by_test_id("connection-status")
    page.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    page.context.set_offline(False)
    # The probe waits 5 s for an answer; the reconnect that follows takes at most 0.5 s more.
    html = page.locator("html")
    expect(html).to_have_attribute(
        "data-states", re.compile(r"offline reconnecting.* open$"), timeout=15_000
    )
    assert len(probes(stub_gateway)) == 1
    assert stub_gateway.connections == 2
    expect(status).to_have_text("Connected")
    assert errors == []
