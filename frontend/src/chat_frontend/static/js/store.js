// Client state, and the only code that changes it (todomvc's model.js): every change is a
// named method below that emits `change` {kind, roomId} when it is done. Controllers call
// these methods, views subscribe and render; no other module writes into what the store
// holds (frontend/tests/test_frontend_store_writes.py checks the sources). The records it
// hands out (rooms, users, messages, pending sends) are frozen, so a stray write elsewhere
// throws instead of changing what no view was told about.
//
// Every incoming copy of a message (history page, live event, ack, replay) funnels through
// #put, so duplicates collapse by seq/id/client_msg_id.

import { contiguousTop, countBase, findPending, newerVersion } from "./selectors.js";

const TYPING_TTL_MS = 5_000;

class RoomState {
  constructor(room) {
    this.room = Object.freeze({ unread: 0, last_seq: 0, last_read_seq: 0, ...room });
    this.base = countBase(this.room);
    this.messages = new Map(); // seq -> Message
    this.idToSeq = new Map(); // message id -> seq
    this.pending = new Map(); // client_msg_id -> {client_msg_id, content, status, error, created_at}
    this.loaded = false; // the newest page has been fetched
    this.loading = false; // a history page is on its way
    this.latestSeq = 0; // we hold every message up to here (as far as we know)
    this.oldestSeq = null; // lowest seq loaded (for ?before=)
    this.hasMoreBefore = true;
    this.members = new Map(); // user id -> User
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

  get me() { return this.#me; }
  get rooms() { return this.#rooms; }
  get users() { return this.#users; }
  get activeRoomId() { return this.#activeRoomId; }
  get connection() { return this.#connection; }
  get notice() { return this.#notice; }

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

  rememberUsers(users) {
    for (const u of users) this.#users.set(u.id, Object.freeze({ ...u }));
    this.#emit("users");
  }

  // ---- rooms ----------------------------------------------------------------------
  setRooms(list) {
    const seen = new Set();
    for (const room of list) {
      seen.add(room.id);
      this.#putRoom(room);
    }
    for (const id of [...this.#rooms.keys()]) if (!seen.has(id)) this.#dropRoom(id);
    this.#emit("rooms");
  }

  upsertRoom(room) {
    this.#putRoom(room);
    this.#emit("rooms", room.id);
  }

  removeRoom(id) {
    this.#dropRoom(Number(id));
    this.#emit("rooms", Number(id));
  }

  #putRoom(room) {
    const existing = this.#rooms.get(room.id);
    if (!existing) return void this.#rooms.set(room.id, new RoomState(room));
    // A snapshot may be older than what we hold: seqs and markers only move forward.
    const forward = (key) => Math.max(existing.room[key] || 0, room[key] || 0);
    patch(existing, { ...room, last_seq: forward("last_seq"), last_read_seq: forward("last_read_seq") });
    if (room.unread !== undefined) existing.base = countBase(room);
  }

  #dropRoom(id) {
    this.#rooms.delete(id);
    if (this.#activeRoomId === id) this.setActiveRoom(null);
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

  setMembers(roomId, users) {
    const rs = this.room(roomId);
    if (!rs) return;
    for (const u of users) this.#users.set(u.id, Object.freeze({ ...u }));
    rs.members = new Map(users.map((u) => [u.id, this.#users.get(u.id)]));
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

  // ---- messages -----------------------------------------------------------------------
  /**
   * Store one message. Returns {gap: {after, before}} when it reveals missing seqs.
   * `live` = it came as a real-time event (a seq beyond what we hold is then a gap).
   */
  upsertMessage(msg, { live = false } = {}) {
    const out = this.#put(msg, live);
    this.#emit("messages", msg.room_id);
    return out;
  }

  /**
   * A message from the gateway (live or replayed). `fresh`: just written, not a replay or
   * an edit, so its sender has stopped typing there: whatever they typed has arrived.
   */
  receive(msg, { fresh = false } = {}) {
    const out = this.#put(msg, true);
    this.#emit("messages", msg.room_id);
    const rs = this.room(msg.room_id);
    if (fresh && rs?.typing.delete(msg.sender_id)) this.#emit("typing", rs.room.id);
    return out;
  }

  #put(msg, live) {
    const rs = this.room(msg.room_id);
    if (!rs) return { gap: null };
    const old = rs.messages.get(msg.seq);
    if (!old || newerVersion(msg, old)) {
      rs.messages.set(msg.seq, Object.freeze(msg));
      rs.idToSeq.set(msg.id, msg.seq);
    }
    if (msg.client_msg_id && msg.sender_id === this.#me?.id) rs.pending.delete(msg.client_msg_id);
    if (msg.seq > (rs.room.last_seq || 0)) patch(rs, { last_seq: msg.seq });
    let gap = null;
    if (rs.loaded && live && msg.seq > rs.latestSeq + 1) gap = { after: rs.latestSeq, before: msg.seq };
    if (rs.loaded || !live) advance(rs);
    return { gap };
  }

  /** A gap fill finished: whatever is still missing below `before` does not exist. */
  gapFilled(roomId, before) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (before && before - 1 > rs.latestSeq) rs.latestSeq = before - 1;
    advance(rs);
    this.#emit("messages", rs.room.id);
  }

  applyPage(roomId, page, mode) {
    const rs = this.room(roomId);
    if (!rs) return;
    const msgs = page.messages || [];
    for (const m of msgs) this.#put(m, false);
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

  /** The server could not replay what we missed: drop the room's messages and reload. */
  resetRoom(roomId) {
    const rs = this.room(roomId);
    if (!rs) return;
    rs.messages.clear();
    rs.idToSeq.clear();
    Object.assign(rs, { loaded: false, latestSeq: 0, oldestSeq: null, hasMoreBefore: true });
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
    this.#put(message, true);
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

/** Room records are replaced, never changed in place (they are frozen). */
function patch(rs, change) {
  rs.room = Object.freeze({ ...rs.room, ...change });
}
