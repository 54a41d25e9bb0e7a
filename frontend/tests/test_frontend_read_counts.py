"""Unread counts in the browser, in real Chromium: the server's count (read.moved, the PUT
answer) is taken at a room head it names, and the page adds only what it holds above it."""

from __future__ import annotations

import pytest
from chat_page_fakes import SETUP

__all__ = ["SETUP"]  # the `js` fixture evaluates it in this module's pages

pytestmark = pytest.mark.browser


def test_read_moved_and_the_put_answer_set_the_count(js) -> None:
    """read.moved (another tab) sets the marker and the server's count; messages after it
    still add; a read.moved behind this tab's marker changes nothing; the PUT answer is
    applied like it."""
    out = js.evaluate(
        """async () => {
      const t = chat([room(7, { last_seq: 4, unread: 4, event_seq: 4 }), room(8)]);
      t.socket.ready({ type: 'auth_ok', user_seq: 10 });
      t.socket.frame(f.joined(7, 4));
      const counts = [sel.unread(t.store, 7)];
      t.socket.frame(f.user('read.moved', 11, f.read(3, 1, 4)));
      counts.push(sel.unread(t.store, 7));
      t.socket.frame(f.message('message.created', msg(5, { version: 5 })));
      counts.push(sel.unread(t.store, 7));
      t.socket.frame(f.user('read.moved', 12, f.read(2, 3, 5)));
      counts.push(sel.unread(t.store, 7), t.rs().room.last_read_seq);
      // This tab shows room 7: its marker goes out, the answer is the server's count.
      t.answers.markRead = [f.read(5, 0, 5)];
      t.c.reads.shown(7, 5);
      for (let i = 0; i < 3; i += 1) await tick();
      counts.push(sel.unread(t.store, 7), t.rs().base.unread, t.rs().base.read);
      return counts;
    }"""
    )
    assert out == [4, 1, 2, 2, 3, 0, 0, 5]


def test_a_count_is_placed_at_its_own_head_not_the_pages(js) -> None:
    """The page and the server disagree on the head when an answer crosses a message: one
    committed after the count but delivered first is still unread (it was counted one low
    against the page's head), and one the count included but delivered after it is not
    counted twice (it was one high)."""
    out = js.evaluate(
        """() => {
      const t = chat([room(7, { last_seq: 4, unread: 4, event_seq: 4 })]);
      t.socket.ready({ type: 'auth_ok', user_seq: 10 });
      t.socket.frame(f.joined(7, 4));
      t.socket.frame(f.message('message.created', msg(5, { version: 5 })));
      // Counted at head 4 (message 5 committed just after): none unread up to 4.
      t.socket.frame(f.user('read.moved', 11, f.read(4, 0, 4)));
      const behind = sel.unread(t.store, 7);
      // Counted at head 7: 6 and 7 not yet here, and counted; they arrive afterwards.
      t.socket.frame(f.user('read.moved', 12, f.read(5, 2, 7)));
      const ahead = [sel.unread(t.store, 7)];
      t.socket.frame(f.message('message.created', msg(6, { version: 6 })));
      t.socket.frame(f.message('message.created', msg(7, { version: 7 })));
      ahead.push(sel.unread(t.store, 7));
      t.socket.frame(f.message('message.created', msg(8, { version: 8 })));
      ahead.push(sel.unread(t.store, 7));
      return { behind, ahead };
    }"""
    )
    assert out == {"behind": 1, "ahead": [2, 2, 3]}
