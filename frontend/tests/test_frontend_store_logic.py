"""store.js, selectors.js and socket.js logic run inside real Chromium (the modules as served,
no bundler)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SETUP = """
window.__t = (async () => {
  const { Store } = await import('/static/js/store.js');
  const { countIsStale, resumePoints, timeline, unread } = await import('/static/js/selectors.js');
  // A store holding one room (room 7 as given, else read up to seq 3 with nothing unread).
  const fresh = (room = { last_seq: 3, last_read_seq: 3, unread: 0 }) => {
    const s = new Store();
    s.setMe({ id: 1, username: 'me' });
    s.setRooms([{ id: 7, name: 'r', kind: 'public', ...room }]);
    return s;
  };
  const s = fresh();
  const msg = (seq, extra = {}) => ({
    id: 100 + seq, room_id: 7, seq, sender_id: 2, content: 'm' + seq,
    client_msg_id: null, created_at: '2024-05-01T10:00:00Z', edited_at: null, deleted: false,
    ...extra,
  });
  window.__s = s; window.__msg = msg; window.__fresh = fresh;
  Object.assign(window, { countIsStale, resumePoints, timeline, unread });
})();
"""


@pytest.fixture
def js(chromium_browser, frontend) -> Iterator[Any]:
    context = chromium_browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(frontend.url + "/login", wait_until="networkidle")
    page.evaluate(SETUP)
    page.evaluate("window.__t")
    try:
        yield page
    finally:
        context.close()
        assert errors == []


def test_history_then_live_events_dedupe_by_seq(js) -> None:
    """A replayed or duplicated event does not add a second copy of a message."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1), __msg(2), __msg(3)], has_more: false }, 'newest');
      s.upsertMessage(__msg(3), { live: true });
      s.upsertMessage(__msg(4), { live: true });
      s.upsertMessage(__msg(4), { live: true });
      return { seqs: timeline(s, 7).map((m) => m.seq), latest: s.room(7).latestSeq,
               unread: unread(s, 7) };
    }"""
    )
    assert out == {"seqs": [1, 2, 3, 4], "latest": 4, "unread": 1}


def test_gap_detected_and_filled(js) -> None:
    """An event beyond latest+1 reports the gap; filling it advances the contiguous mark."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1), __msg(2)], has_more: false }, 'newest');
      const { gap } = s.upsertMessage(__msg(5), { live: true });
      const before = s.room(7).latestSeq;
      s.upsertMessage(__msg(3));
      s.upsertMessage(__msg(4));
      return { gap, before, after: s.room(7).latestSeq,
               seqs: timeline(s, 7).map((m) => m.seq) };
    }"""
    )
    assert out == {
        "gap": {"after": 2, "before": 5},
        "before": 2,
        "after": 5,
        "seqs": [1, 2, 3, 4, 5],
    }


def test_pending_replaced_on_ack_and_failed_on_nack(js) -> None:
    """An optimistic message turns into the stored one on ack; a nack marks it failed."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [], has_more: false }, 'newest');
      s.addPending(7, 'hello', 'c-1');
      s.addPending(7, 'oops', 'c-2');
      const pendingBefore = timeline(s, 7).map((m) => m.status);
      s.ack('c-1', __msg(1, { sender_id: 1, content: 'hello', client_msg_id: 'c-1' }));
      // The same message arriving again as a live event must not duplicate it.
      s.upsertMessage(__msg(1, { sender_id: 1, content: 'hello', client_msg_id: 'c-1' }),
                      { live: true });
      s.nack('c-2', 'rate limited');
      const t = timeline(s, 7);
      return { pendingBefore, ids: t.map((m) => m.id ?? m.client_msg_id),
               failed: t[1].status, error: t[1].error, unread: unread(s, 7) };
    }"""
    )
    assert out == {
        "pendingBefore": ["pending", "pending"],
        "ids": [101, "c-2"],
        "failed": "failed",
        "error": "rate limited",
        "unread": 0,
    }


def test_edits_and_deletes_win_over_stale_copies(js) -> None:
    """A late replay of the original does not undo an edit, and a delete sticks."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1)], has_more: false }, 'newest');
      s.upsertMessage(__msg(1, { content: 'edited', edited_at: '2024-05-01T10:05:00Z' }),
                      { live: true, event: 'message.updated' });
      s.upsertMessage(__msg(1), { live: true });
      const afterReplay = timeline(s, 7)[0].content;
      s.upsertMessage(__msg(1, { content: '', deleted: true }),
                      { live: true, event: 'message.deleted' });
      s.upsertMessage(__msg(1, { content: 'edited', edited_at: '2024-05-01T10:05:00Z' }));
      return { afterReplay, deleted: timeline(s, 7)[0].deleted, count: timeline(s, 7).length };
    }"""
    )
    assert out == {"afterReplay": "edited", "deleted": True, "count": 1}


def test_resume_points_only_for_loaded_rooms(js) -> None:
    """resume carries the last contiguous seq of rooms whose history the page holds."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.upsertRoom({ id: 8, name: 'other', kind: 'public', last_seq: 9 });
      s.applyPage(7, { messages: [__msg(1), __msg(2)], has_more: true }, 'newest');
      return resumePoints(s);
    }"""
    )
    assert out == {"7": 2}


def test_backoff_is_full_jitter_and_capped(js) -> None:
    """Reconnect delays are uniform in [0, min(30 s, 0.5 s * 2^n)]."""
    out = js.evaluate(
        """async () => {
      const { backoffDelay } = await import('/static/js/socket.js');
      const edges = (n) => [backoffDelay(n, () => 0), backoffDelay(n, () => 0.999999)];
      return [0, 1, 3, 10, 50].map(edges);
    }"""
    )
    assert out == [[0, 499], [0, 999], [0, 3999], [0, 29999], [0, 29999]]


def test_relative_ws_url_follows_page_scheme(js) -> None:
    """/ws becomes ws://host/ws on http pages and wss://host/ws on https pages."""
    out = js.evaluate(
        """async () => {
      const { resolveWsUrl } = await import('/static/js/config.js');
      return [
        resolveWsUrl('/ws', { protocol: 'http:', host: 'a:8080' }),
        resolveWsUrl('/ws', { protocol: 'https:', host: 'chat.example' }),
        resolveWsUrl('ws://x:8765/ws', { protocol: 'http:', host: 'a' }),
      ];
    }"""
    )
    assert out == ["ws://a:8080/ws", "wss://chat.example/ws", "ws://x:8765/ws"]


def test_unread_is_the_snapshot_plus_newer_held_messages_counted_once(js) -> None:
    """Replayed, fetched or resumed copies, own and deleted messages never add to the badge."""
    out = js.evaluate(
        """() => {
      // The server counted 2 unread up to seq 3 (marker at 1); no local marker yet.
      const s = __fresh({ last_seq: 3, last_read_seq: 1, unread: 2 });
      s.upsertMessage(__msg(4), { live: true });
      s.upsertMessage(__msg(4), { live: true });  // a resume replay of a message we hold
      s.upsertMessage(__msg(5, { sender_id: 1 }), { live: true });  // our own
      s.upsertMessage(__msg(6, { deleted: true, content: '' }), { live: true });
      s.upsertMessage(__msg(7), { live: true });
      // A gap fill over HTTP brings copies of all of them again.
      s.applyPage(7, { messages: [3, 4, 5, 6, 7].map((n) => __msg(n)), has_more: false }, 'after');
      const before = unread(s, 7);
      s.markRead(7, 5);  // shown up to 5: the server's span is read, only 7 is left
      const afterRead = unread(s, 7);
      // A later snapshot replaces the server part; what we hold beyond it still counts once.
      s.upsertRoom({ id: 7, name: 'r', kind: 'public', last_seq: 6, last_read_seq: 5, unread: 0 });
      return { before, afterRead, afterSnapshot: unread(s, 7), stale: countIsStale(s, 7) };
    }"""
    )
    assert out == {"before": 4, "afterRead": 1, "afterSnapshot": 1, "stale": False}


def test_marker_inside_the_servers_span_asks_again(js) -> None:
    """A marker between the snapshot's marker and head cannot be derived: it is stale."""
    out = js.evaluate(
        """() => {
      const s = __fresh({ last_seq: 9, last_read_seq: 2, unread: 7 });
      s.markRead(7, 4);
      return { stale: countIsStale(s, 7), marker: s.room(7).room.last_read_seq };
    }"""
    )
    assert out == {"stale": True, "marker": 4}
