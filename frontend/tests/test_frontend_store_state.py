"""The store in real Chromium: every method that changes state emits, what it hands out cannot
be written, drafts are per room, a typist's message ends their typing; and the frame table."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SETUP = """
window.__t = (async () => {
  const { Store } = await import('/static/js/store.js');
  const selectors = await import('/static/js/selectors.js');
  const { frameTable } = await import('/static/js/chat/frame-router.js');
  const room = (id) => ({ id, name: 'r' + id, kind: 'public', last_seq: 0, unread: 0 });
  const msg = (seq, extra = {}) => ({
    id: 100 + seq, room_id: 7, seq, version: seq, sender_id: 2, content: 'm' + seq,
    client_msg_id: null, created_at: '2024-05-01T10:00:00Z', edited_at: null, deleted: false,
    ...extra,
  });
  const fresh = () => {
    const s = new Store();
    s.setMe({ id: 1, username: 'me' });
    s.setRooms([room(7), room(8)]);
    return s;
  };
  // Everything the store holds, as plain data: what "changed" means below.
  const snapshot = (s) => JSON.stringify({
    me: s.me, active: s.activeRoomId, connection: s.connection, notice: s.notice,
    users: [...s.users], userSeq: s.userSeq, generation: s.generation,
    rooms: [...s.rooms].map(([id, rs]) => [id, {
      ...rs, messages: [...rs.messages], idToSeq: [...rs.idToSeq], pending: [...rs.pending],
      members: [...rs.members], online: [...rs.online], typing: [...rs.typing],
      ahead: [...rs.ahead], memberLog: [...rs.memberLog] }]),
  });
  Object.assign(window, { Store, selectors, frameTable, room, msg, fresh, snapshot });
})();
"""


# Each public Store method once, with arguments that change something (in this order).
CALLS = """[
  ['setMe', [{ id: 1, username: 'me2' }]],
  ['rememberUsers', [[{ id: 2, username: 'bob' }]]],
  ['userUpdated', [{ id: 2, username: 'bob', display_name: 'Bob' }]],
  ['setRooms', [[room(7), room(8), room(9)]]],
  ['upsertRoom', [{ ...room(10) }]],
  ['refreshRoom', [{ ...room(10), name: 'ten' }]],
  ['removeRoom', [10]],
  ['setActiveRoom', [8]],
  ['roomHead', [7, 5]],
  ['setMembers', [7, [{ id: 2, username: 'bob' }]]],
  ['memberEvent', [7, 1, { user: { id: 3, username: 'cy' }, actor_id: 3, member_count: 2 }, true]],
  ['roomUpdated', [7, 2, { id: 7, name: 'renamed', topic: 'plans', actor_id: 2 }]],
  ['markRead', [7, 1]],
  ['readMoved', [{ room_id: 7, last_read_seq: 2, unread: 1 }]],
  ['followRoom', [7, 3]],
  ['sawRoomEvent', [7, 4]],
  ['followUser', [5]],
  ['sawUserEvent', [6]],
  ['upsertMessage', [msg(3)]],
  ['applyPage', [7, { messages: [msg(4)], has_more: false }, 'newest']],
  ['receive', [msg(6), { fresh: true }]],
  ['gapFilled', [7]],
  ['setLoading', [7, true]],
  ['resetRoom', [7, 9]],
  ['addPending', [7, 'hi', 'c-1']],
  ['nack', ['c-1', 'refused']],
  ['markPending', ['c-1']],
  ['ack', ['c-1', msg(3, { sender_id: 1, client_msg_id: 'c-1' })]],
  ['setDraft', [8, 'half a thought']],
  ['setOnline', [7, [2], [3], []]],
  ['setTyping', [7, 2]],
  ['expireTyping', [Date.now() + 60000]],
  ['setConnection', ['offline', 'You are offline']],
  ['setNotice', ['Could not delete']],
]"""


def test_every_store_method_that_changes_state_emits(js) -> None:
    """Each public method, called so that it changes something, emits a change: no silent
    writes (the list covers every public method, so a new one must be added here)."""
    out = js.evaluate(
        f"""() => {{
      const s = fresh();
      const calls = {CALLS};
      const own = Object.getOwnPropertyNames(Store.prototype).filter((n) => n !== 'constructor'
        && typeof Object.getOwnPropertyDescriptor(Store.prototype, n).value === 'function');
      const results = calls.map(([name, args]) => {{
        let emitted = 0;
        const count = () => {{ emitted += 1; }};
        s.addEventListener('change', count);
        const before = snapshot(s);
        s[name](...args);
        s.removeEventListener('change', count);
        return [name, snapshot(s) !== before, emitted];
      }});
      return {{ own: own.sort(), called: calls.map(([n]) => n).sort(), results }};
    }}"""
    )
    readers = {"room"}  # the one public reader on the class (the rest are selectors.js)
    assert sorted(set(out["own"]) - readers) == out["called"]
    silent = [name for name, changed, emitted in out["results"] if changed and not emitted]
    unchanged = [name for name, changed, _ in out["results"] if not changed]
    assert silent == []
    assert unchanged == []  # each call above really exercised a change


def test_what_the_store_hands_out_cannot_be_written(js) -> None:
    """Its fields have no setters and its records are frozen: a write elsewhere throws."""
    out = js.evaluate(
        """() => {
      'use strict';
      const s = fresh();
      s.applyPage(7, { messages: [msg(1)], has_more: false }, 'newest');
      s.addPending(7, 'hi', 'c-1');
      const attempts = {
        me: () => { s.me = null; },
        active: () => { s.activeRoomId = 8; },
        room: () => { s.room(7).room.last_seq = 99; },
        message: () => { s.room(7).messages.get(1).content = 'x'; },
        pending: () => { selectors.findPending(s, 'c-1').status = 'failed'; },
        user: () => { s.users.get(1).username = 'x'; },
        connection: () => { s.connection.state = 'open'; },
      };
      return Object.fromEntries(Object.entries(attempts).map(([k, f]) => {
        try { f(); return [k, 'written']; } catch (e) { return [k, e.constructor.name]; }
      }));
    }"""
    )
    assert out == dict.fromkeys(out, "TypeError") and len(out) == 7


def test_drafts_are_kept_per_room(js) -> None:
    """A draft belongs to its room: switching rooms shows the other room's draft."""
    out = js.evaluate(
        """() => {
      const s = fresh();
      s.setDraft(7, 'for seven');
      s.setActiveRoom(8);
      const in8 = selectors.draft(s, s.activeRoomId);
      s.setActiveRoom(7);
      return { in8, in7: selectors.draft(s, s.activeRoomId), none: selectors.draft(s, 99) };
    }"""
    )
    assert out == {"in8": "", "in7": "for seven", "none": ""}


def test_a_fresh_message_ends_its_senders_typing_only(js) -> None:
    """A new message from a typist ends their typing in that room; a replay, another
    person's message or another room leave typing alone, and reading never expires it."""
    out = js.evaluate(
        """() => {
      const s = fresh();
      s.setTyping(7, 2); s.setTyping(7, 3); s.setTyping(8, 2);
      s.receive(msg(1, { sender_id: 2 }), { fresh: false });  // a replay
      const afterReplay = selectors.typingUsers(s, 7);
      s.receive(msg(2, { sender_id: 2 }), { fresh: true });
      const now = Date.now();
      const later = selectors.typingUsers(s, 7, now + 60000);
      return { afterReplay, after: selectors.typingUsers(s, 7), other: selectors.typingUsers(s, 8),
               later, held: [...s.room(7).typing.keys()] };
    }"""
    )
    assert out == {"afterReplay": [2, 3], "after": [3], "other": [2], "later": [], "held": [3]}


def test_frame_table_refuses_unknown_and_doubled_types(js) -> None:
    """A handler for a type protocol.js does not name, for one socket.js answers itself, or a
    second handler for one type stops the wiring."""
    out = js.evaluate(
        """() => {
      const f = () => {};
      const attempt = (...parts) => { try { frameTable(...parts); return 'ok'; }
                                      catch (e) { return e.message; } };
      return [attempt({ event: f }, { ack: f }), attempt({ evnt: f }), attempt({ auth_ok: f }),
              attempt({ event: f }, { event: f }), frameTable({ event: f }).get('event') === f];
    }"""
    )
    assert out == [
        "ok",
        "not a page frame: evnt",
        "not a page frame: auth_ok",
        "two handlers for event frames",
        True,
    ]
