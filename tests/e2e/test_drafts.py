"""Composer drafts in real Chromium through nginx: one draft per room, and Enter sends the
open room's draft only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def person(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Person]:
    someone = new_person(browser, stack.http, e2e_artifacts, "draft")
    try:
        yield someone
    finally:
        someone.context.close()


def message_frames(person: Person) -> list[dict[str, Any]]:
    """Every `message` frame the page sent, on any of its sockets, in order."""
    frames: list[dict[str, Any]] = []

    def record(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "message":
            frames.append(frame)

    for ws in person.sockets:
        ws.on("framesent", record)
    person.page.on("websocket", lambda ws: ws.on("framesent", record))
    return frames


def test_draft_stays_in_its_room_and_enter_sends_nothing_elsewhere(person: Person) -> None:
    """Typed in A, switch to B: the composer is empty and Enter sends nothing; back in A the
    draft is there and goes to A."""
    tag = person.username
    room_a = person.create_room(f"draft-a-{tag}")
    room_b = person.create_room(f"draft-b-{tag}")
    sent = message_frames(person)
    box = person.tid("composer-input")

    person.open_room(room_a)
    box.fill("half a thought for A")
    person.open_room(room_b)
    expect(box).to_have_value("")
    box.press("Enter")
    # Frames leave in order: once this one is acked, an Enter that sent the draft would show.
    person.send("meant for B")
    expect(person.message_with("meant for B")).to_have_attribute("data-status", "sent")
    assert [(f["room_id"], f["content"]) for f in sent] == [(room_b, "meant for B")]
    expect(person.messages()).to_have_count(1)
    expect(box).to_have_value("")

    person.open_room(room_a)
    expect(box).to_have_value("half a thought for A")
    box.press("Enter")
    expect(person.message_with("half a thought for A")).to_have_attribute("data-status", "sent")
    assert [(f["room_id"], f["content"]) for f in sent][1:] == [(room_a, "half a thought for A")]
    expect(box).to_have_value("")
    person.open_room(room_b)
    expect(person.messages()).to_have_count(1)
    assert person.errors == []
