// Client state, and the only code that changes it (todomvc's model.js): every change is a
// named method below that emits `change` {kind, roomId} when it is done. Controllers call
// these methods, views subscribe and render; no other module writes into what the store
// holds (frontend/tests/test_frontend_store_writes.py checks the sources). The records it
// hands out (rooms, users, messages, pending sends) are frozen, so a stray write elsewhere
// throws instead of changing what no view was told about.
//
// Every incoming copy of a message (history page, live event, ack, replay) funnels through
// #put, so duplicates collapse by seq/id/client_msg_id and the higher `version` wins.
//
// Protocol 2 (docs/contract.md, "Event streams"): each room's events come with a gap-free
// `event_seq`, the user's own with a `user_seq`. The store keeps both cursors (how far the
// page holds each stream) and applies every event idempotently: a room's name, topic and
// member count carry the event seq they are as of, a member the event seq of their last
// change, a message its version. A REST answer read before an event the page already
// applied must not undo it: what events changed since a request began (`generation`) wins.

import { contiguousTop, countBase, findPending, inWindow, newerVersion } from "./selectors.js";

const TYPING_TTL_MS = 5_000;

class RoomState {
  constructor(room) {
    this.room = Object.freeze({ unread: 0, last_seq: 0, last_read_seq: 0, ...room });
    this.base = countBase(this.room);
    // The room stream: the cursor (events up to it are held; null: not followed yet), the
    // event seqs seen beyond it, and the event seq that name/topic and member_count are as of.
    this.eventSeq = null;
    this.ahead = new Set();
    this.infoSeq = this.room.event_seq || 0;
    this.countSeq = this.room.event_seq || 0;
    this.messages = new Map(); // seq -> Message
    this.idToSeq = new Map(); // message id -> seq
    this.pending = new Map(); // client_msg_id -> {client_msg_id, content, status, error, created_at}
    this.loaded = false; // the newest page has been fetched
    this.loading = false; // a history page is on its way
    this.latestSeq = 0; // we hold every message up to here (as far as we know)
    this.oldestSeq = null; // lowest seq loaded (for ?before=)
    this.hasMoreBefore = true;
    this.members = new Map(); // user id -> User
    this.membersLoaded = false; // the member list was read (else only the count is known)
    this.memberLog = new Map(); // user id -> {seq, gen, present, user}: their last member event
    this.online = new Set(); // user ids
    this.typing = new Map(); // user id -> expiry (ms epoch)
    this.draft = ""; // the composer's text for this room
  }
}

export class Store extends EventTarget {
  #me = null;
  #rooms = new Map(); // room id -> RoomState
  #users = new Map(); // user id -> User
  #activeRoomId = null;
  #connection = Object.freeze({ state: "connecting", detail: "" });
  #notice = null; // an error to show until the connection state next changes
  #userSeq = null; // the user stream's cursor (null until the first auth_ok)
  #userAhead = new Set(); // user event seqs seen beyond it
  // Counts changes learnt from events or our own actions; a REST answer requested at
  // generation g does not undo what changed after g.
  #generation = 0;
  #membership = new Map(); // room id -> {gen, present}: the last change of our membership
  #renamed = new Map(); // user id -> generation of their last user.updated

  get me() { return this.#me; }
  get rooms() { return this.#rooms; }
  get users() { return this.#users; }
  get activeRoomId() { return this.#activeRoomId; }
  get connection() { return this.#connection; }
  get notice() { return this.#notice; }
  get userSeq() { return this.#userSeq; }
  get generation() { return this.#generation; }

  #emit(kind, roomId = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { kind, roomId } }));
  }

  room(id) {
    return this.#rooms.get(Number(id)) || null;
  }

  // ---- who we are, who others are -------------------------------------------------
  setMe(user) {
    this.#me = Object.freeze({ ...user });
    this.rememberUsers([user]);
  }

  /** Profiles read over REST (requested at generation `asOf`): a newer rename stays. */
  rememberUsers(users, { asOf = null } = {}) {
    for (const u of users) this.#putUser(u, asOf);
    this.#emit("users");
  }

  /** user.updated: the user's name as it is now, wherever it is shown. */
  userUpdated(user) {
    this.#renamed.set(user.id, ++this.#generation);
    this.#putUser(user, null);
    this.#emit("users");
  }

  #putUser(u, asOf) {
    const old = this.#users.get(u.id);
    if (old && asOf !== null && (this.#renamed.get(u.id) || 0) > asOf) return;
    this.#users.set(u.id, Object.freeze({ ...old, ...u }));
    if (u.id === this.#me?.id) this.#me = Object.freeze({ ...this.#me, ...u });
  }

  // ---- rooms ----------------------------------------------------------------------
  /**
   * My rooms as GET /api/rooms listed them, requested at generation `asOf`: a room we were
   * added to or removed from since (an event, or our own join/leave) keeps what we know.
   */
  setRooms(list, { asOf = null } = {}) {
    const since = (id) => {
      const m = this.#membership.get(id);
      return m && asOf !== null && m.gen > asOf ? m : null;
    };
    const seen = new Set();
    for (const room of list) {
      seen.add(room.id);
      if (since(room.id)?.present !== false) this.#putRoom(room);
    }
    for (const id of [...this.#rooms.keys()]) if (!seen.has(id) && !since(id)?.present) this.#dropRoom(id);
    this.#emit("rooms");
  }

  /** A room we are in (joined, created, opened, or room.added on our stream). */
  upsertRoom(room) {
    this.#membership.set(room.id, { gen: ++this.#generation, present: true });
    this.#putRoom(room);
    this.#emit("rooms", room.id);
  }

  /** A fresh view of a room we hold (GET /api/rooms/{id}, a PATCH answer): never brings
   * back a room the page has dropped meanwhile. */
  refreshRoom(room) {
    if (!this.#rooms.has(room.id)) return;
    this.#putRoom(room);
    this.#emit("rooms", room.id);
  }

  /** A room we are no longer in (left here, room.removed, or our own member.left/removed). */
  removeRoom(id) {
    this.#membership.set(Number(id), { gen: ++this.#generation, present: false });
    this.#dropRoom(Number(id));
    this.#emit("rooms", Number(id));
  }

  #putRoom(room) {
    const existing = this.#rooms.get(room.id);
    if (!existing) return void this.#rooms.set(room.id, new RoomState(room));
    // A snapshot may be older than what we hold: seqs and markers only move forward, and
    // name/topic/member_count only give way to what is as of a later room event.
    const forward = (key) => Math.max(existing.room[key] || 0, room[key] || 0);
    const change = { ...room, last_seq: forward("last_seq"), last_read_seq: forward("last_read_seq"), event_seq: forward("event_seq") };
    const at = room.event_seq || 0;
    if (at < existing.infoSeq) Object.assign(change, { name: existing.room.name, topic: existing.room.topic });
    else existing.infoSeq = at;
    if (at < existing.countSeq || room.member_count === undefined) change.member_count = existing.room.member_count;
    else existing.countSeq = at;
    patch(existing, change);
    if (room.unread !== undefined) existing.base = countBase(room);
  }

  #dropRoom(id) {
    this.#rooms.delete(id);
    if (this.#activeRoomId === id) this.setActiveRoom(null);
  }

  /** room.updated: the new name and topic, unless we hold a later state already. */
  roomUpdated(roomId, eventSeq, data) {
    const rs = this.room(roomId);
    if (!rs || eventSeq <= rs.infoSeq) return;
    rs.infoSeq = eventSeq;
    patch(rs, { name: data.name, topic: data.topic ?? "" });
    this.#emit("rooms", rs.room.id);
  }

  /**
   * member.joined|invited (present) or member.left|removed: the count after it, and the
   * member list when it is loaded. Each is applied once per member and in event order: an
   * older event arriving late (a gap fill) changes nothing it has been overtaken on.
   */
  memberEvent(roomId, eventSeq, data, present) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (typeof data.member_count === "number" && eventSeq > rs.countSeq) {
      rs.countSeq = eventSeq;
      patch(rs, { member_count: data.member_count });
    }
    const user = data.user;
    if (user && eventSeq > (rs.memberLog.get(user.id)?.seq || 0)) {
      if (!this.#users.has(user.id)) this.#users.set(user.id, Object.freeze({ ...user }));
      rs.memberLog.set(user.id, Object.freeze({ seq: eventSeq, gen: ++this.#generation, present }));
      if (rs.membersLoaded) setMember(rs, user.id, present ? this.#users.get(user.id) : null);
    }
    this.#emit("rooms", rs.room.id);
    this.#emit("members", rs.room.id);
  }

  /** The room on screen (null: none). */
  setActiveRoom(id) {
    const next = id === null ? null : Number(id);
    if (next !== null && !this.#rooms.has(next)) return;
    this.#activeRoomId = next;
    this.#emit("active", next);
  }

  /** The gateway told us the room's head (on join): it only moves forward. */
  roomHead(roomId, lastSeq) {
    const rs = this.room(roomId);
    if (!rs || lastSeq <= (rs.room.last_seq || 0)) return;
    patch(rs, { last_seq: lastSeq });
    this.#emit("rooms", rs.room.id);
  }

  /** GET /api/rooms/{id}/members, requested at generation `asOf`: member events learnt
   * since are applied over it. */
  setMembers(roomId, users, { asOf = null } = {}) {
    const rs = this.room(roomId);
    if (!rs) return;
    for (const u of users) this.#putUser(u, asOf);
    rs.members = new Map(users.map((u) => [u.id, this.#users.get(u.id)]));
    rs.membersLoaded = true;
    for (const [id, entry] of rs.memberLog) {
      if (asOf === null || entry.gen > asOf) setMember(rs, id, entry.present ? this.#users.get(id) : null);
    }
    this.#emit("users");
    this.#emit("members", rs.room.id);
  }

  /** Messages up to `seq` were shown: the local marker moves (forward only). */
  markRead(roomId, seq) {
    const rs = this.room(roomId);
    if (!rs || seq <= (rs.room.last_read_seq || 0)) return;
    patch(rs, { last_read_seq: seq });
    this.#emit("rooms", rs.room.id);
  }

  /**
   * read.moved, or the PUT answer: the server's marker and its unread count, taken at the
   * room head it names (`last_seq`, `event_seq`), which may be behind or ahead of what this
   * page holds. A marker behind ours (this tab has shown more since) says nothing new.
   */
  readMoved({ room_id: roomId, last_read_seq: read, unread, last_seq: head, event_seq: eventSeq }) {
    const rs = this.room(roomId);
    if (!rs || read < (rs.room.last_read_seq || 0)) return;
    patch(rs, { last_read_seq: read, unread });
    rs.base = countBase({ unread, last_read_seq: read, last_seq: head }, eventSeq);
    this.#emit("rooms", rs.room.id);
  }

  // ---- event streams ----------------------------------------------------------------------
  /**
   * The page holds the room as of `eventSeq` (joined, resumed, fetched, a REST page's head):
   * the cursor moves there (forward only) and over every seq seen beyond it.
   */
  followRoom(roomId, eventSeq) {
    const rs = this.room(roomId);
    if (!rs) return;
    rs.eventSeq = Math.max(rs.eventSeq ?? 0, eventSeq);
    for (const seq of rs.ahead) if (seq <= rs.eventSeq) rs.ahead.delete(seq);
    advanceCursor(rs);
    this.#emit("stream", rs.room.id);
  }

  /** A room event (already applied) was seen: the cursor follows it when it is the next. */
  sawRoomEvent(roomId, eventSeq) {
    const rs = this.room(roomId);
    if (!rs || rs.eventSeq === null || eventSeq <= rs.eventSeq) return;
    rs.ahead.add(eventSeq);
    advanceCursor(rs);
    this.#emit("stream", rs.room.id);
  }

  /** The user stream is held as of `userSeq` (the first auth_ok, user_resumed). */
  followUser(userSeq) {
    this.#userSeq = Math.max(this.#userSeq ?? 0, userSeq);
    for (const seq of this.#userAhead) if (seq <= this.#userSeq) this.#userAhead.delete(seq);
    this.#advanceUser();
    this.#emit("stream");
  }

  /** A user event arrived: true when it is new to the page (apply it), false for a copy. */
  sawUserEvent(userSeq) {
    if (this.#userSeq !== null && (userSeq <= this.#userSeq || this.#userAhead.has(userSeq))) return false;
    if (this.#userSeq === null) this.#userSeq = userSeq - 1;
    this.#userAhead.add(userSeq);
    this.#advanceUser();
    this.#emit("stream");
    return true;
  }

  /** User event seqs seen beyond the cursor, with one missing in between. */
  get userGap() {
    return this.#userAhead.size > 0;
  }

  #advanceUser() {
    while (this.#userAhead.delete(this.#userSeq + 1)) this.#userSeq += 1;
  }

  // ---- messages -----------------------------------------------------------------------
  /** Store one message we asked for (an edit's or delete's answer): the higher version wins. */
  upsertMessage(msg) {
    this.#put(msg, false);
    this.#emit("messages", msg.room_id);
  }

  /**
   * A message event from the gateway or a REST replay. `fresh`: just written, not a replay
   * or an edit, so its sender has stopped typing there: whatever they typed has arrived.
   */
  receive(msg, { fresh = false } = {}) {
    this.#put(msg, false);
    this.#emit("messages", msg.room_id);
    const rs = this.room(msg.room_id);
    if (fresh && rs?.typing.delete(msg.sender_id)) this.#emit("typing", rs.room.id);
  }

  /** `page`: it comes from a history page (or is our own ack), so it is in the window. */
  #put(msg, page) {
    const rs = this.room(msg.room_id);
    if (!rs) return;
    const old = rs.messages.get(msg.seq);
    if (old ? newerVersion(msg, old) : page || inWindow(rs, msg.seq)) {
      rs.messages.set(msg.seq, Object.freeze(msg));
      rs.idToSeq.set(msg.id, msg.seq);
    }
    if (msg.client_msg_id && msg.sender_id === this.#me?.id) rs.pending.delete(msg.client_msg_id);
    if (msg.seq > (rs.room.last_seq || 0)) patch(rs, { last_seq: msg.seq });
    if (rs.loaded) advance(rs);
  }

  /**
   * A replay (resume, fetch, REST events) finished with nothing missing up to the cursor:
   * every message created by then is held, so the contiguous top is the highest one held.
   */
  gapFilled(roomId) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (rs.loaded && rs.messages.size) rs.latestSeq = Math.max(rs.latestSeq, ...rs.messages.keys());
    this.#emit("messages", rs.room.id);
  }

  applyPage(roomId, page, mode) {
    const rs = this.room(roomId);
    if (!rs) return;
    const msgs = page.messages || [];
    if (mode === "newest" && !rs.loaded && msgs.length && page.has_more) {
      // Events of a room never opened kept what is newer than the marker; below this page
      // those would be an island above a hole (scroll-up brings them in order).
      for (const seq of [...rs.messages.keys()]) if (seq < msgs[0].seq) dropMessage(rs, seq);
    }
    for (const m of msgs) this.#put(m, true);
    if (mode === "newest" || mode === "before") {
      if (msgs.length) rs.oldestSeq = rs.oldestSeq === null ? msgs[0].seq : Math.min(rs.oldestSeq, msgs[0].seq);
      rs.hasMoreBefore = Boolean(page.has_more);
    }
    if (mode === "newest") {
      // The newest page is contiguous by construction; start counting from its top.
      rs.latestSeq = Math.max(rs.latestSeq, msgs.length ? msgs[msgs.length - 1].seq : 0);
      if (!msgs.length) rs.hasMoreBefore = false;
      rs.loaded = true;
    }
    advance(rs);
    this.#emit("messages", rs.room.id);
  }

  setLoading(roomId, loading) {
    const rs = this.room(roomId);
    if (!rs || rs.loading === loading) return;
    rs.loading = loading;
    this.#emit("messages", rs.room.id);
  }

  /**
   * The server could not replay what we missed (`reset`): drop the room's messages (the
   * page reloads them) and follow the room from `eventSeq`.
   */
  resetRoom(roomId, eventSeq) {
    const rs = this.room(roomId);
    if (!rs) return;
    rs.messages.clear();
    rs.idToSeq.clear();
    rs.ahead.clear();
    Object.assign(rs, { loaded: false, latestSeq: 0, oldestSeq: null, hasMoreBefore: true, eventSeq });
    this.#emit("messages", rs.room.id);
  }

  // ---- sending --------------------------------------------------------------------------
  addPending(roomId, content, clientMsgId) {
    const rs = this.room(roomId);
    if (!rs) return null;
    const p = { client_msg_id: clientMsgId, room_id: rs.room.id, content, status: "pending", error: null };
    Object.assign(p, { created_at: new Date().toISOString(), sender_id: this.#me?.id });
    rs.pending.set(clientMsgId, Object.freeze(p));
    this.#emit("messages", rs.room.id);
    return rs.pending.get(clientMsgId);
  }

  ack(clientMsgId, message) {
    this.#put(message, true); // our own, just stored: always the newest of the room
    // As on the server: sending moves the sender's marker to their own message.
    this.markRead(message.room_id, message.seq);
    this.#emit("messages", message.room_id);
  }

  nack(clientMsgId, error) {
    this.#setPending(clientMsgId, { status: "failed", error: error || "not sent" });
  }

  /** Back to "sending…" (a retry); returns the pending record, or null when it is gone. */
  markPending(clientMsgId) {
    return this.#setPending(clientMsgId, { status: "pending", error: null });
  }

  #setPending(clientMsgId, change) {
    const p = findPending(this, clientMsgId);
    if (!p) return null;
    const next = Object.freeze({ ...p, ...change });
    this.room(p.room_id).pending.set(clientMsgId, next);
    this.#emit("messages", p.room_id);
    return next;
  }

  /** One draft per room: what the composer shows when that room is open. */
  setDraft(roomId, text) {
    const rs = this.room(roomId);
    if (!rs || rs.draft === text) return;
    rs.draft = text;
    this.#emit("draft", rs.room.id);
  }

  // ---- presence / typing ------------------------------------------------------------------
  setOnline(roomId, online, joined = [], left = []) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (Array.isArray(online)) rs.online = new Set(online);
    for (const id of joined || []) rs.online.add(id);
    for (const id of left || []) rs.online.delete(id);
    this.#emit("presence", rs.room.id);
  }

  setTyping(roomId, userId, ttlMs = TYPING_TTL_MS) {
    const rs = this.room(roomId);
    if (!rs || userId === this.#me?.id) return;
    rs.typing.set(userId, Date.now() + ttlMs);
    this.#emit("typing", rs.room.id);
  }

  /** Forget typing that ran out (called on a timer); emits only when someone stopped. */
  expireTyping(now = Date.now()) {
    for (const rs of this.#rooms.values()) {
      let gone = false;
      for (const [id, exp] of rs.typing) if (exp <= now) gone = rs.typing.delete(id) || gone;
      if (gone) this.#emit("typing", rs.room.id);
    }
  }

  // ---- connection -----------------------------------------------------------------------------
  /** What the socket is (socket.js's states); a newer state replaces an older error notice. */
  setConnection(state, detail = "") {
    this.#connection = Object.freeze({ state, detail });
    this.#notice = null;
    this.#emit("connection");
  }

  setNotice(text) {
    this.#notice = text || null;
    this.#emit("connection");
  }
}

/** Move latestSeq over every contiguous seq we now hold. */
function advance(rs) {
  rs.latestSeq = contiguousTop(rs.messages, rs.latestSeq);
}

/** Move the room's event cursor over every next seq already seen. */
function advanceCursor(rs) {
  while (rs.ahead.delete(rs.eventSeq + 1)) rs.eventSeq += 1;
}

function dropMessage(rs, seq) {
  rs.idToSeq.delete(rs.messages.get(seq)?.id);
  rs.messages.delete(seq);
}

/** One member in (a user record) or out (null) of a loaded member list. */
function setMember(rs, userId, user) {
  if (user) rs.members.set(userId, user);
  else rs.members.delete(userId);
}

/** Room records are replaced, never changed in place (they are frozen). */
function patch(rs, change) {
  rs.room = Object.freeze({ ...rs.room, ...change });
}
