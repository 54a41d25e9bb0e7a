"""Protocol 2 in the browser, in real Chromium: the page's wiring (chat/app.js) over a fake
socket and API, fed server frames. Event cursors and gaps, message versions, unread counts
from the server moved by events, member/room/user events, and the frame and event tables."""

from __future__ import annotations

import pytest
from chat_page_fakes import SETUP

__all__ = ["SETUP"]  # the `js` fixture evaluates it in this module's pages

pytestmark = pytest.mark.browser


# ---- cursors and gaps ---------------------------------------------------------------------------
def test_cursor_follows_joined_and_each_next_event(js) -> None:
    """`joined` sets the room's cursor, each next event moves it; nothing is fetched."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 5 })]);
      t.socket.frame(f.joined(7, 5));
      const joined = t.rs().eventSeq;
      t.socket.frame(f.message('message.created', msg(1, { version: 6 })));
      t.socket.frame(f.member('member.joined', 7, 3, 3));
      return { joined, now: t.rs().eventSeq, sent: t.socket.sent };
    }"""
    )
    assert out == {"joined": 5, "now": 7, "sent": []}


def test_a_jump_is_fetched_from_the_cursor_and_fetched_closes_it(js) -> None:
    """A live event_seq beyond cursor + 1 sends one `fetch` after the cursor; the replay (with
    the seq of a superseded version skipped) and `fetched` bring the cursor to its head."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 6 })]);
      t.socket.frame(f.joined(7, 6));
      t.socket.frame(f.message('message.created', msg(3, { version: 9 })));
      t.socket.frame(f.message('message.created', msg(4, { version: 10 })));  // still a gap
      const during = { cursor: t.rs().eventSeq, sent: [...t.socket.sent] };
      // Replayed: seq 7 (a message), 8 superseded by 9, then 9 and 10 again.
      t.socket.frame(f.replay('message.created', msg(1, { version: 7 })));
      t.socket.frame(f.replay('message.updated', msg(2, { version: 9, content: 'e' })));
      t.socket.frame(f.fetched(7, 10));
      t.socket.frame(f.message('message.created', msg(5, { version: 11 })));
      return { during, after: t.rs().eventSeq, sent: t.socket.sent.length,
               seqs: sel.timeline(t.store, 7).map((m) => m.seq) };
    }"""
    )
    assert out["during"] == {
        "cursor": 6,
        "sent": [{"type": "fetch", "room_id": 7, "after_event_seq": 6}],
    }
    assert out["after"] == 11
    assert out["sent"] == 1
    assert out["seqs"] == [1, 2, 3, 4, 5]


def test_joined_later_than_the_snapshot_fills_from_the_snapshot(js) -> None:
    """A room listed at event seq 3 and joined at 5 missed events 4-5: fetched from 3."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 3 })]);
      t.socket.frame(f.joined(7, 5));
      return { cursor: t.rs().eventSeq, sent: t.socket.sent };
    }"""
    )
    assert out == {"cursor": 3, "sent": [{"type": "fetch", "room_id": 7, "after_event_seq": 3}]}


def test_without_a_socket_the_fill_reads_the_apis_event_pages(js) -> None:
    """The socket cannot send `fetch`: GET /rooms/{id}/events?after=cursor, page after page
    (the next from the last event seq), until has_more is false; then the cursor is `head`."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7, { event_seq: 2 })]);
      t.socket.frame(f.joined(7, 2));
      t.socket.up = false;
      const ev = (m, event = 'message.created') =>
        ({ event, event_seq: m.version, room_id: 7, seq: m.seq, message: m });
      t.answers.roomEvents = [
        { events: [ev(msg(1, { version: 3 })), ev(msg(2, { version: 5 }))],
          head: 9, has_more: true },
        { events: [{ event: 'room.updated', event_seq: 6, room_id: 7,
                     data: { id: 7, name: 'renamed', topic: 't', actor_id: 2 } }],
          head: 9, has_more: false },
      ];
      t.socket.frame(f.message('message.created', msg(4, { version: 9 })));
      for (let i = 0; i < 5; i += 1) await tick();
      return { calls: t.calls.filter(([n]) => n === 'roomEvents').map(([, id, q]) => [id, q]),
               cursor: t.rs().eventSeq, name: t.rs().room.name,
               seqs: sel.timeline(t.store, 7).map((m) => m.seq) };
    }"""
    )
    assert out == {
        "calls": [[7, {"after": 2, "limit": 200}], [7, {"after": 5, "limit": 200}]],
        "cursor": 9,
        "name": "renamed",
        "seqs": [1, 2, 4],
    }


def test_resume_names_each_followed_rooms_cursor_and_the_user_stream(js) -> None:
    """After a reconnect socket.js resumes the rooms the page follows from their cursors and
    the user stream from its own, and joins the rest; the first connection only joins."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 12 }), room(8)]);
      t.socket.ready({ type: 'auth_ok', user_seq: 4 });  // the first auth_ok starts the user stream
      t.socket.frame(f.joined(7, 12));
      t.socket.frame(f.user('user.updated', 5, user(2, 'Bo')));
      const points = sel.resumePoints(t.store);
      const sent = [];
      const make = (pointsNow) => {
        const s = new ChatSocket({ url: '/ws', getToken: () => 't', tokenValidFor: () => 1e6,
                                   refresh: async () => {}, resumePoints: () => pointsNow });
        s.rooms = new Set([7, 8]);
        s.ws = { readyState: WebSocket.OPEN, send: (d) => sent.push(JSON.parse(d)) };
        return s;
      };
      let ready = null;
      const again = make(points);
      again.addEventListener('ready', (ev) => { ready = ev.detail; });
      again.afterAuth({ type: 'auth_ok', user_seq: 9 });
      const reconnect = sent.splice(0);
      make({ rooms: {}, user_seq: null }).afterAuth({ type: 'auth_ok', user_seq: 9 });
      again.stop();
      return { points, reconnect, first: sent, ready };
    }"""
    )
    assert out["points"] == {"rooms": {"7": 12}, "user_seq": 5}
    assert out["reconnect"] == [
        {"type": "join", "room_id": 8},
        {"type": "resume", "rooms": {"7": 12}, "user_seq": 5},
    ]
    assert out["first"] == [{"type": "join", "room_id": 7}, {"type": "join", "room_id": 8}]
    assert out["ready"] == {"type": "auth_ok", "user_seq": 9}


def test_user_events_apply_once_and_a_gap_resumes_the_user_stream(js) -> None:
    """A user event at or below the cursor is a copy (not applied again); one beyond cursor + 1
    asks for the user stream's replay; `user_resumed` moves the cursor."""
    out = js.evaluate(
        """() => {
      const t = chat();
      t.socket.ready({ type: 'auth_ok', user_seq: 3 });
      t.socket.sent.length = 0;
      t.socket.frame(f.user('user.updated', 4, user(2, 'Bob')));
      t.socket.frame(f.user('user.updated', 4, user(2, 'stale copy')));
      const name = sel.displayName(t.store, 2);
      t.socket.frame(f.user('user.updated', 6, user(3, 'Cy')));
      const sent = [...t.socket.sent];
      t.socket.frame(f.user('user.updated', 5, user(2, 'Bobby')));  // the replay
      t.socket.frame({ type: 'user_resumed', user_seq: 6 });
      return { name, sent, cursor: t.store.userSeq, gap: t.store.userGap,
               names: [2, 3].map((id) => sel.displayName(t.store, id)) };
    }"""
    )
    assert out == {
        "name": "Bob",
        "sent": [{"type": "resume", "rooms": {}, "user_seq": 4}],
        "cursor": 6,
        "gap": False,
        "names": ["Bobby", "Cy"],
    }


# ---- messages: versions and the window ---------------------------------------------------------
def test_the_higher_version_wins(js) -> None:
    """The copy with the higher version stays, whatever its edited_at says (two API processes'
    clocks differ): a later edit stamped earlier replaces the first, a late replay of the
    first or of the original does not come back, and a deletion sticks."""
    out = js.evaluate(
        """() => {
      const t = chat();
      t.store.applyPage(7, { messages: [msg(1)], has_more: false }, 'newest');
      const first = msg(1, { version: 5, content: 'first', edited_at: '2024-05-01T10:05:00Z' });
      const second = msg(1, { version: 6, content: 'second', edited_at: '2024-05-01T10:04:59Z' });
      t.store.receive(first);
      t.store.receive(second);
      t.store.receive(first);  // late replays
      t.store.receive(msg(1));
      const edited = t.rs().messages.get(1).content;
      t.store.receive(msg(1, { version: 8, content: '', deleted: true }));
      t.store.upsertMessage(second);
      const m = t.rs().messages.get(1);
      return { edited, deleted: m.deleted, version: m.version, count: t.rs().messages.size };
    }"""
    )
    assert out == {"edited": "second", "deleted": True, "version": 8, "count": 1}


def test_a_replayed_change_is_inserted_only_when_newer_than_the_window(js) -> None:
    """Of a loaded room whose oldest page starts at seq 10, a replayed update of seq 12 (not
    held) is inserted, one of seq 4 is not: scroll-up brings it with its page."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 30, last_seq: 11 })]);
      t.socket.frame(f.joined(7, 30));
      t.store.applyPage(7, { messages: [msg(10), msg(11)], has_more: true }, 'newest');
      t.socket.frame(f.replay('message.updated', msg(12, { version: 31, content: 'new' })));
      t.socket.frame(f.replay('message.deleted', msg(4, { version: 32, deleted: true })));
      return sel.timeline(t.store, 7).map((m) => [m.seq, m.content]);
    }"""
    )
    assert out == [[10, "m10"], [11, "m11"], [12, "new"]]


# ---- unread: the server's count, moved by events -------------------------------------------------
def test_unread_is_the_servers_count_moved_by_live_messages(js) -> None:
    """Base 2 from GET /api/rooms; another's live message adds one (once, whatever copies
    come), ours adds none, its deletion removes it again, and so does the deletion of a
    message the server had counted."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { last_seq: 3, last_read_seq: 1, unread: 2, event_seq: 3 })]);
      t.socket.frame(f.joined(7, 3));
      const counts = [sel.unread(t.store, 7)];
      t.socket.frame(f.message('message.created', msg(4, { version: 4 })));
      t.socket.frame(f.message('message.created', msg(4, { version: 4 }), { replay: true }));
      t.socket.frame(f.message('message.created', msg(5, { version: 5, sender_id: 1 })));
      counts.push(sel.unread(t.store, 7));
      const gone = { deleted: true, content: '' };
      t.socket.frame(f.message('message.deleted', msg(4, { version: 6, ...gone })));
      counts.push(sel.unread(t.store, 7));
      t.socket.frame(f.message('message.deleted', msg(3, { version: 7, ...gone })));
      counts.push(sel.unread(t.store, 7));
      return counts;
    }"""
    )
    assert out == [2, 3, 2, 1]


# ---- member, room and user events --------------------------------------------------------------
def test_member_events_move_the_count_and_the_loaded_list_in_event_order(js) -> None:
    """member.joined/left change member_count and (once loaded) the list; an older event
    arriving late or an older room snapshot changes nothing it has been overtaken on."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7, { event_seq: 2, member_count: 2 })]);
      t.socket.frame(f.joined(7, 2));
      const joined = (seq, id, n) => f.member('member.joined', seq, id, n);
      const left = (seq, id, n) => f.member('member.left', seq, id, n);
      t.socket.frame(joined(3, 3, 3));
      const before = { count: t.rs().room.member_count, listed: t.rs().members.size };
      t.answers.members = [[user(1, 'Me'), user(2, 'U2'), user(3, 'U3')]];
      await t.c.rooms.loadMembers(7);
      t.socket.frame(left(5, 3, 2));
      t.socket.frame(f.renamed(6, 'plans'));
      t.socket.frame(joined(4, 4, 3));  // late (a fill): the count is older than what we hold
      t.socket.frame(joined(3, 3, 3));  // a copy of an event overtaken by 3's leaving
      // A stale snapshot:
      t.store.upsertRoom(room(7, { event_seq: 3, member_count: 9, name: 'old' }));
      return { before, count: t.rs().room.member_count, name: t.rs().room.name,
               members: sel.members(t.store, 7).map((u) => u.id).sort() };
    }"""
    )
    assert out == {
        "before": {"count": 3, "listed": 0},
        "count": 2,
        "name": "plans",
        "members": [1, 2, 4],
    }


def test_a_member_list_read_before_events_gets_them_applied(js) -> None:
    """GET /members requested before a member event the page applied: the event wins."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7, { event_seq: 2 })]);
      t.socket.frame(f.joined(7, 2));
      let answer;
      t.answers.members = [new Promise((r) => { answer = r; })];
      const loading = t.c.rooms.loadMembers(7);
      t.socket.frame(f.member('member.left', 3, 2, 1));
      answer([user(1, 'Me'), user(2, 'U2')]);
      await loading;
      return sel.members(t.store, 7).map((u) => u.id);
    }"""
    )
    assert out == [1]


def test_room_updated_renames_and_our_own_leaving_drops_the_room(js) -> None:
    """room.updated sets name and topic; member.left of ourselves takes the room off the page
    (and off the socket), switching away when it was open."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { event_seq: 1 }), room(8)]);
      t.socket.frame(f.joined(7, 1));
      t.store.setActiveRoom(7);
      t.socket.frame(f.renamed(2, 'plans', 'Q3'));
      const renamed = [t.rs().room.name, t.rs().room.topic];
      t.socket.frame(f.member('member.removed', 3, 1, 1));
      return { renamed, gone: t.store.room(7) === null, active: t.store.activeRoomId,
               socket: [...t.socket.rooms] };
    }"""
    )
    assert out == {"renamed": ["plans", "Q3"], "gone": True, "active": None, "socket": [8]}


def test_room_added_and_removed_survive_a_stale_room_list(js) -> None:
    """room.added puts the room on the page and joins it on the socket; a GET /api/rooms that
    was requested before neither drops it nor, after room.removed, brings it back."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7)]);
      t.socket.ready({ type: 'auth_ok', user_seq: 1 });
      await tick();
      let answer;
      t.answers.rooms = [new Promise((r) => { answer = r; })];
      const loading = t.c.rooms.loadRooms();
      t.socket.frame(f.user('room.added', 2, room(9, { kind: 'dm', name: 'a, b' })));
      const added = { held: Boolean(t.store.room(9)), joined: t.socket.rooms.has(9) };
      t.socket.frame(f.user('room.removed', 3, { room_id: 7, reason: 'removed' }));
      answer([room(7)]);  // read before both events
      await loading;
      return { added, rooms: [...t.store.rooms.keys()], socket: [...t.socket.rooms].sort() };
    }"""
    )
    assert out == {"added": {"held": True, "joined": True}, "rooms": [9], "socket": [9]}


def test_user_updated_renames_everywhere_and_beats_an_older_profile_read(js) -> None:
    """user.updated changes the name the page shows (members included); a profile fetched
    before it does not put the old name back."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7)]);
      t.socket.ready({ type: 'auth_ok', user_seq: 0 });
      t.answers.members = [[user(1, 'Me'), user(2, 'Alice')]];
      await t.c.rooms.loadMembers(7);
      const asOf = t.store.generation;
      t.socket.frame(f.user('user.updated', 1, user(2, 'Alicia')));
      t.store.rememberUsers([user(2, 'Alice')], { asOf });
      return { shown: sel.displayName(t.store, 2),
               members: sel.members(t.store, 7).map((u) => u.display_name) };
    }"""
    )
    assert out == {"shown": "Alicia", "members": ["Me", "Alicia"]}


# ---- the tables -------------------------------------------------------------------------------
def test_every_frame_type_and_event_kind_is_claimed_once(js) -> None:
    """The page claims every server frame type (user_event, user_resumed included) and every
    event kind; a missing one stops the wiring at start-up."""
    out = js.evaluate(
        """() => {
      const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.message; } };
      const wired = attempt(() => chat());
      const noop = () => {};
      const partial = attempt(() => routeFrames(new Socket(), frameTable({ event: noop })));
      const events = attempt(() => eventTable({ 'message.created': noop }));
      const probe = attempt(() => eventTable({ probe: noop }));
      return { wired, partial, events, probe };
    }"""
    )
    assert out["wired"] == "ok"
    assert out["partial"].startswith("no handler for frames: joined, left, resumed")
    assert "user_event, user_resumed" in out["partial"]
    assert out["events"].startswith("no handler for events: message.updated")
    assert out["probe"] == "not a page event: probe"


def test_a_join_or_resume_the_api_refused_is_asked_again(js) -> None:
    """`error` `unavailable` for a room being resumed (or joined) leaves it unfollowed: the
    page resumes it from its cursor (joins it) again after a backoff; a fetch's is left to
    its REST fallback."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7, { event_seq: 4 }), room(8), room(9, { event_seq: 2 })]);
      t.socket.frame(f.joined(7, 4));
      t.socket.frame(f.joined(9, 2));
      t.socket.ready({ type: 'auth_ok', user_seq: 0 });  // as after a reconnect: 7, 9 resumed
      t.socket.sent.length = 0;
      const refused = (room_id) =>
        ({ type: 'error', code: 'unavailable', message: 'api down', room_id });
      t.socket.frame(refused(7));
      t.socket.frame(refused(8));  // its join
      t.socket.frame({ type: 'resumed', room_id: 9, event_seq: 2, last_seq: 0 });
      t.socket.frame(refused(9));  // a fetch of a followed room
      await new Promise((r) => setTimeout(r, 600));  // backoff of a first retry: < 500 ms
      return t.socket.sent;
    }"""
    )
    assert sorted(out, key=lambda f: f["type"]) == [
        {"type": "join", "room_id": 8},
        {"type": "resume", "rooms": {"7": 4}},
    ]
