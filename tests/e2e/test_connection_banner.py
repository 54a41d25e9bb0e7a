"""The connection banner in real Chromium through nginx: it says what the socket is, not what
the last browser network event was.

Chromium's offline emulation (`context.set_offline`) fires `offline`/`online` and fails HTTP
requests, but leaves an open WebSocket up: exactly the case where the banner used to stay red
("Offline") after the network came back, until the socket happened to reconnect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def person(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Person]:
    someone = new_person(browser, stack.http, e2e_artifacts, "net")
    try:
        yield someone
    finally:
        someone.context.close()


def test_banner_is_connected_again_when_the_network_returns_and_the_socket_survived(
    person: Person,
) -> None:
    """Offline, then online with the same socket still open: the banner says connected at once,
    and that socket still carries messages (nothing reconnected behind the test's back)."""
    room_id = person.create_room(f"net-{person.username}")
    (socket,) = person.open_sockets()
    person.context.set_offline(True)
    expect(person.status()).to_have_attribute("data-state", "offline")
    person.context.set_offline(False)
    # Functional, not a speed check: the socket never closed, so nothing but the online event
    # can clear the banner; 5 s is far below the ~40 s a dead socket takes to be noticed.
    expect(person.status()).to_have_attribute("data-state", "open", timeout=5_000)
    expect(person.status()).to_have_text("Connected")
    assert person.open_sockets() == [socket]
    person.send("still on the same socket")
    expect(person.message_with("still on the same socket")).to_have_attribute("data-status", "sent")
    assert person.open_sockets() == [socket]
    assert person.current_room() == room_id
    assert person.errors == []
