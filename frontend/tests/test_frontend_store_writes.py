"""store.js is the only writer of client state (todomvc's model.js): source checks over every
module, and checks that the checker itself sees through the usual disguises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from js_writes import Program

JS = Path(__file__).resolve().parents[1] / "src/chat_frontend/static/js"
SOURCES = {p.relative_to(JS).as_posix(): p.read_text() for p in sorted(JS.rglob("*.js"))}
WRITER = "store.js"


def writes(**modules: str) -> list[str]:
    """Writes into store state found in the given modules (name=source), beside the real
    selectors.js (whose functions hand out the store's values)."""
    sources = {"selectors.js": SOURCES["selectors.js"]}
    sources |= {f"{name}.js": src for name, src in modules.items()}
    return Program(sources).writes(skip=set())


def test_only_store_js_writes_store_state() -> None:
    """No module but store.js assigns into, deletes from or mutates what the store holds."""
    assert {"store.js", "pages/chat.js", "chat/messages-controller.js"} <= set(SOURCES)
    assert Program(SOURCES).writes(skip={WRITER}) == []


def test_the_checker_finds_the_writes_store_js_makes() -> None:
    """Over store.js with its `this.` read as `store.` (as if another module did the same),
    it finds the writes there: a checker that sees nothing fails here."""
    found = writes(store=SOURCES[WRITER].replace("this.", "store."))
    assert len(found) > 30
    assert {w.split(": ", 1)[1] for w in found} >= {".set()", ".delete()", "assignment (=)"}


BAD = {
    "direct field": "store.activeRoomId = 5;",
    "through this.store": "class A { go() { this.store.me = null; } }",
    "alias": "const rs = this.store.room(id); rs.loaded = true;",
    "alias of an alias": "const rs = store.room(1); const r = rs.room; r.last_seq += 1;",
    "rebinding": "let rs; rs = store.room(1); rs.draft = 'x';",
    "destructuring": "const { members } = store.room(id); members.set(1, u);",
    "nested destructuring": "const { room: { kind } = {}, online } = store.room(1); online.add(2);",
    "conditional": "const x = ok ? store.room(1) : null; x.loaded = false;",
    "logical": "const x = store.room(1) || fallback; x.latestSeq = 0;",
    "increment": "store.room(id).latestSeq++;",
    "prefix decrement": "--store.room(id).latestSeq;",
    "delete": "delete store.room(id).draft;",
    "bracket": 'store["rooms"].clear();',
    "bracket assignment": "store.rooms.get(1)[key] = 2;",
    "Object.assign": "Object.assign(store.room(1), { loaded: true });",
    "Reflect.set": "Reflect.set(store.room(1), 'loaded', true);",
    "Map.prototype.set.call": "Map.prototype.set.call(store.users, 1, {});",
    "for-of element": "for (const rs of store.rooms.values()) rs.typing.clear();",
    "for-of entry": "for (const [, rs] of store.rooms) rs.online.delete(3);",
    "callback parameter": "timeline(store, 1).forEach((m) => { m.content = 'x'; });",
    "element of a copy": "const all = [...store.rooms.values()]; all[0].online.add(3);",
    "found element of a copy": "Array.from(store.users.values()).find(f).name = 'x';",
    "a .store member": "chat.rooms.store.users.clear();",
    "field alias": "class A { constructor({ store }) { this.s = store; } f() { this.s.me.x = 1 } }",
    "await": "async function f() { const p = await findPending(store, 'c'); p.status = 'x'; }",
    "in a template": "const t = `${(store.room(1).draft = 'x')}`;",
    "emitting for the store": "store.dispatchEvent(new Event('change'));",
    "sorting in place": "store.room(1).members.sort();",
    "optional chaining": "store.room(1)?.members.set(1, u);",
    "destructured store": "const { rooms } = store; rooms.get(1).loaded = true;",
    "renamed store": "class A { f() { const { store: s } = this; s.me = 1; } }",
    "renamed store parameter": "function f({ store: s }) { s.users.clear(); }",
    "a getter function": "const get = (id) => store.room(id); get(1).loaded = true;",
    "a helper's return": "function of(s, id) { return s.room(id); } of(store, 1).draft = '';",
    "destructuring assignment": "[store.room(1).draft] = ['x'];",
    "in a closure": "const rs = store.room(1); setTimeout(() => { rs.loaded = false; });",
}


@pytest.mark.parametrize("snippet", BAD.values(), ids=BAD.keys())
def test_the_checker_sees_a_write(snippet: str) -> None:
    """Each disguise of a write into store state is still found."""
    assert writes(mod=snippet), snippet


BINDS_RS = sorted(n for n, src in SOURCES.items() if n != WRITER and re.search(r"\brs\b", src))


@pytest.mark.parametrize("name", BINDS_RS)
def test_the_checker_sees_a_write_added_to_a_real_module(name: str) -> None:
    """Each real module that holds a room's state (`rs`) is understood: one more line writing
    through it is found there, and nothing else is."""
    assert len(BINDS_RS) >= 6
    found = Program({**SOURCES, name: SOURCES[name] + "\nrs.loaded = false;\n"})
    assert [w.split(": ")[0].rsplit(":", 1)[0] for w in found.writes(skip={WRITER})] == [name]


def test_the_checker_follows_functions_across_modules() -> None:
    """A helper that writes its argument is found when the store's value is passed to it,
    positionally or by key, from another module."""
    helper = """export function wipe(rs) { rs.pending.clear(); }
                export class Keeper { constructor({ room }) { this.room = room; }
                  drop() { this.room.members.delete(1); } }
                export const mark = (p) => { p.status = 'x'; };"""
    caller = """wipe(this.store.room(1)); new Keeper({ room: store.room(2) });
                this.actions.mark(findPending(store, 'c'));"""
    assert len(writes(helper=helper, caller=caller)) == 3
    assert writes(helper=helper, caller="wipe(fresh); new Keeper({ room: {} });") == []


def test_the_checker_accepts_reads_and_fresh_copies() -> None:
    """Reading, copying, reordering a copy and writing one's own objects are not writes."""
    ok = """
      const rs = store.room(1);
      const members = [...rs.members.values()];
      members.sort(byName);
      const list = [];
      for (const r of store.rooms.values()) list.push(r);
      const out = {};
      out[rs.room.id] = rs.latestSeq;
      let n = rs.latestSeq; n += 1;
      this.nodes.set(key, { node, version });
      this.editing = rs.room.id;
      node.textContent = displayName(store, 1);
      store.setDraft(1, 'x');
      // store.me = null; rs.loaded = true;
      const s = "store.me = 1"; const re = /store.me = 1/;
      if (a === store.me) total += 1;
      this.store = store;
    """
    assert writes(mod=ok) == []


# ---- views render, they do not change state ---------------------------------------------------
def store_mutators() -> set[str]:
    """The Store's public methods that change state: they emit, or call one that does."""
    body = SOURCES[WRITER].split("export class Store", 1)[1].split("\n}\n", 1)[0]
    methods = dict(re.findall(r"^  (\w+)\([^)]*\) \{\n(.*?)^  \}$", body, re.M | re.S))
    emitting = {name for name, text in methods.items() if "this.#emit(" in text}
    while True:
        more = {n for n, t in methods.items() if any(f"this.{e}(" in t for e in emitting)}
        if more <= emitting:
            return emitting
        emitting |= more


def test_views_call_no_store_mutator() -> None:
    """*-view.js modules only read the store: state changes go through controllers."""
    mutators = store_mutators()
    assert {"setRooms", "setDraft", "receive", "setConnection", "markRead"} <= mutators
    calls = re.compile(rf"\bstore\s*\.\s*({'|'.join(sorted(mutators))})\s*\(")
    found = [
        (name, m.group(1))
        for name, src in SOURCES.items()
        if name.endswith("-view.js")
        for m in calls.finditer(src)
    ]
    assert found == []


# ---- frames go through the generated protocol module ----------------------------------------
def frame_types() -> set[str]:
    protocol = SOURCES["protocol.js"]
    types: set[str] = set()
    for table in ("CLIENT_FRAMES", "SERVER_FRAMES"):
        block = protocol.split(f"export const {table}", 1)[1].split("});", 1)[0]
        types |= set(re.findall(r':\s*"([a-z_]+)"', block))
    return types


def test_frame_types_are_named_through_protocol_js() -> None:
    """No module spells a frame type as a string: `type: "join"`, `case "ack"`, `.type ===
    "event"` use CLIENT_FRAMES / SERVER_FRAMES, so a renamed frame fails loudly."""
    types = frame_types()
    assert {"join", "message", "ack", "event", "presence"} <= types
    alternatives = "|".join(sorted(types))
    spelled = re.compile(rf'(?:\btype:\s*|\bcase\s+|\.type\s*[!=]==?\s*)"({alternatives})"')
    found = [
        (name, m.group(0))
        for name, src in SOURCES.items()
        if name != "protocol.js"
        for m in spelled.finditer(src)
    ]
    assert found == []
