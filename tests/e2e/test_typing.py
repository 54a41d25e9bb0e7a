"""The typing indicator in real Chromium through nginx: a typist's message ends their typing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def pair(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[tuple[Person, Person]]:
    alice = new_person(browser, stack.http, e2e_artifacts, "alice-t", "Alice")
    bob = new_person(browser, stack.http, e2e_artifacts, "bob-t", "Bob")
    try:
        yield alice, bob
    finally:
        for person in (alice, bob):
            person.context.close()


def test_typing_indicator_goes_when_the_typists_message_arrives(
    pair: tuple[Person, Person],
) -> None:
    """Bob types (Alice sees it), Bob sends: with his message on Alice's screen the indicator is
    already gone, not lingering until its 5 s expiry."""
    alice, bob = pair
    name = f"typing-{uuid.uuid4().hex[:6]}"
    room_id = alice.create_room(name)
    assert bob.join_room(name) == room_id
    expect(alice.member(bob.user_id)).to_have_attribute("data-online", "true")

    indicator = alice.tid("typing-indicator")
    bob.tid("composer-input").press_sequentially("on my way", delay=20)
    expect(indicator).to_have_text("Bob is typing…")
    bob.tid("composer-input").press("Enter")
    expect(alice.message_with("on my way")).to_have_attribute("data-status", "sent")
    # Functional, not a speed check: only the message can clear it this soon; the old linger
    # was the rest of the 5 s expiry, refreshed every second.
    expect(indicator).to_have_text("", timeout=1_000)
    assert alice.errors == [] and bob.errors == []
