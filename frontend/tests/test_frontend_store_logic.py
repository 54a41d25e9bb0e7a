"""store.js, selectors.js and socket.js logic run inside real Chromium (the modules as served,
no bundler)."""

from __future__ import annotations

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
    id: 100 + seq, room_id: 7, seq, version: seq, sender_id: 2, content: 'm' + seq,
    client_msg_id: null, created_at: '2024-05-01T10:00:00Z', edited_at: null, deleted: false,
    ...extra,
  });
  window.__s = s; window.__msg = msg; window.__fresh = fresh;
  Object.assign(window, { countIsStale, resumePoints, timeline, unread });
})();
"""


def test_history_then_live_events_dedupe_by_seq(js) -> None:
    """A replayed or duplicated event does not add a second copy of a message."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1), __msg(2), __msg(3)], has_more: false }, 'newest');
      s.receive(__msg(3));
      s.receive(__msg(4));
      s.receive(__msg(4));
      return { seqs: timeline(s, 7).map((m) => m.seq), latest: s.room(7).latestSeq,
               unread: unread(s, 7) };
    }"""
    )
    assert out == {"seqs": [1, 2, 3, 4], "latest": 4, "unread": 1}


def test_the_contiguous_top_waits_for_what_is_missing(js) -> None:
    """A message beyond the contiguous top (what a read marker may cover) does not move it
    until the ones between arrive, or a finished fill says nothing is missing."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1), __msg(2)], has_more: false }, 'newest');
      s.receive(__msg(6));
      const before = s.room(7).latestSeq;
      s.receive(__msg(3));
      const mid = s.room(7).latestSeq;
      s.gapFilled(7);
      return { before, mid, after: s.room(7).latestSeq, seqs: timeline(s, 7).map((m) => m.seq) };
    }"""
    )
    assert out == {"before": 2, "mid": 3, "after": 6, "seqs": [1, 2, 3, 6]}


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
      s.receive(__msg(1, { sender_id: 1, content: 'hello', client_msg_id: 'c-1' }));
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
    """A late replay of the original (a lower version) does not undo an edit, and a delete
    (the highest version) sticks."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.applyPage(7, { messages: [__msg(1)], has_more: false }, 'newest');
      const edited = __msg(1, { version: 4, content: 'edited', edited_at: '2024-05-01T10:05:00Z' });
      s.receive(edited);
      s.receive(__msg(1));
      const afterReplay = timeline(s, 7)[0].content;
      s.receive(__msg(1, { version: 5, content: '', deleted: true }));
      s.upsertMessage(edited);
      return { afterReplay, deleted: timeline(s, 7)[0].deleted, count: timeline(s, 7).length };
    }"""
    )
    assert out == {"afterReplay": "edited", "deleted": True, "count": 1}


def test_resume_points_are_the_followed_rooms_event_cursors(js) -> None:
    """resume carries the event cursor of each room the page follows (loaded or not) and the
    user stream's; a room not followed yet (no `joined`) is not named."""
    out = js.evaluate(
        """() => {
      const s = __s;
      s.upsertRoom({ id: 8, name: 'other', kind: 'public', last_seq: 9 });
      s.applyPage(7, { messages: [__msg(1), __msg(2)], has_more: true }, 'newest');
      const before = resumePoints(s);
      s.followRoom(7, 4);
      s.followUser(3);
      return { before, after: resumePoints(s) };
    }"""
    )
    assert out == {
        "before": {"rooms": {}, "user_seq": None},
        "after": {"rooms": {"7": 4}, "user_seq": 3},
    }


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
      s.receive(__msg(4));
      s.receive(__msg(4));  // a resume replay of a message we hold
      s.receive(__msg(5, { sender_id: 1 }));  // our own
      s.receive(__msg(6, { deleted: true, content: '' }));
      s.receive(__msg(7));
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
