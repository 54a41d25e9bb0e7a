// Client-side state: rooms, messages per room keyed by seq, optimistic pending messages.
// Every incoming copy of a message (history page, live event, ack, replay) funnels
// through upsertMessage, so duplicates collapse by seq/id/client_msg_id.

class RoomState {
  constructor(room) {
    this.room = { unread: 0, last_seq: 0, last_read_seq: 0, ...room };
    this.base = countBase(this.room);
    this.messages = new Map(); // seq -> Message
    this.idToSeq = new Map(); // message id -> seq
    this.pending = new Map(); // client_msg_id -> {client_msg_id, content, status, error, created_at}
    this.loaded = false; // the newest page has been fetched
    this.latestSeq = 0; // we hold every message up to here (as far as we know)
    this.oldestSeq = null; // lowest seq loaded (for ?before=)
    this.hasMoreBefore = true;
    this.members = new Map(); // user id -> User
    this.online = new Set(); // user ids
    this.typing = new Map(); // user id -> expiry (ms epoch)
  }
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.me = null;
    this.rooms = new Map();
    this.users = new Map();
    this.activeRoomId = null;
  }

  changed(kind, roomId = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { kind, roomId } }));
  }

  room(id) {
    return this.rooms.get(Number(id)) || null;
  }

  // ---- rooms ----------------------------------------------------------------
  setRooms(list) {
    const seen = new Set();
    for (const room of list) {
      seen.add(room.id);
      this.upsertRoom(room, { silent: true });
    }
    for (const id of [...this.rooms.keys()]) if (!seen.has(id)) this.rooms.delete(id);
    this.changed("rooms");
  }

  upsertRoom(room, { silent = false } = {}) {
    const existing = this.rooms.get(room.id);
    if (existing) {
      // A snapshot may be older than what we hold: seqs and markers only move forward.
      const forward = (key) => Math.max(existing.room[key] || 0, room[key] || 0);
      existing.room = { ...existing.room, ...room, last_seq: forward("last_seq"), last_read_seq: forward("last_read_seq") };
      if (room.unread !== undefined) existing.base = countBase(room);
    } else {
      this.rooms.set(room.id, new RoomState(room));
    }
    if (!silent) this.changed("rooms");
    return this.rooms.get(room.id);
  }

  removeRoom(id) {
    this.rooms.delete(Number(id));
    if (this.activeRoomId === Number(id)) this.activeRoomId = null;
    this.changed("rooms");
  }

  rememberUsers(users) {
    for (const u of users) this.users.set(u.id, u);
  }

  displayName(userId) {
    const u = this.users.get(userId);
    return u ? u.display_name || u.username : `user ${userId}`;
  }

  // ---- unread counts -------------------------------------------------------------
  /**
   * The badge: the server's count as of its snapshot (`base`), plus the messages we hold
   * that are newer than both that snapshot and our read marker, from others, not deleted.
   * Derived, never incremented: a replayed, fetched or resumed copy of a message we hold
   * is the same map entry, so it cannot be counted twice; nor can our own messages.
   */
  unread(roomId) {
    const rs = this.room(roomId);
    if (!rs) return 0;
    const read = rs.room.last_read_seq || 0;
    let count = read >= rs.base.seq ? 0 : rs.base.unread;
    const after = Math.max(read, rs.base.seq);
    for (const [seq, m] of rs.messages) {
      if (seq > after && !m.deleted && m.sender_id !== this.me?.id) count += 1;
    }
    return count;
  }

  /** Messages up to `seq` were shown: the local marker moves (forward only). */
  markRead(roomId, seq) {
    const rs = this.room(roomId);
    if (!rs || seq <= (rs.room.last_read_seq || 0)) return;
    rs.room.last_read_seq = seq;
    this.changed("rooms");
  }

  /** Our marker sits inside the span the server's count covers: only the server can say. */
  countIsStale(roomId) {
    const rs = this.room(roomId);
    if (!rs) return false;
    const read = rs.room.last_read_seq || 0;
    return read > rs.base.read && read < rs.base.seq && rs.base.unread > 0;
  }

  // ---- messages ---------------------------------------------------------------
  /**
   * Store one message. Returns {gap: {after, before}} when it reveals missing seqs.
   * `live` = it came as a real-time event (a seq beyond what we hold is then a gap).
   */
  upsertMessage(msg, { live = false } = {}) {
    const rs = this.room(msg.room_id);
    if (!rs) return { gap: null };
    const old = rs.messages.get(msg.seq);
    if (!old || newerVersion(msg, old)) {
      rs.messages.set(msg.seq, msg);
      rs.idToSeq.set(msg.id, msg.seq);
    }
    if (msg.client_msg_id && msg.sender_id === this.me?.id) rs.pending.delete(msg.client_msg_id);
    rs.room.last_seq = Math.max(rs.room.last_seq || 0, msg.seq);

    let gap = null;
    if (rs.loaded) {
      if (msg.seq > rs.latestSeq + 1 && live) gap = { after: rs.latestSeq, before: msg.seq };
      this.advance(rs);
    }
    if (!rs.loaded && !live) this.advance(rs);
    return { gap };
  }

  /** Move latestSeq over every contiguous seq we now hold. */
  advance(rs) {
    while (rs.messages.has(rs.latestSeq + 1)) rs.latestSeq += 1;
  }

  /** A gap fill finished: whatever is still missing below `before` does not exist. */
  gapFilled(roomId, before) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (before && before - 1 > rs.latestSeq) rs.latestSeq = before - 1;
    this.advance(rs);
    this.changed("messages", rs.room.id);
  }

  applyPage(roomId, page, mode) {
    const rs = this.room(roomId);
    if (!rs) return;
    const msgs = page.messages || [];
    for (const m of msgs) this.upsertMessage(m);
    if (mode === "newest" || mode === "before") {
      if (msgs.length) {
        const low = msgs[0].seq;
        rs.oldestSeq = rs.oldestSeq === null ? low : Math.min(rs.oldestSeq, low);
      }
      rs.hasMoreBefore = Boolean(page.has_more);
    }
    if (mode === "newest") {
      const high = msgs.length ? msgs[msgs.length - 1].seq : 0;
      // The newest page is contiguous by construction; start counting from its top.
      rs.latestSeq = Math.max(rs.latestSeq, high);
      if (!msgs.length) rs.hasMoreBefore = false;
      rs.loaded = true;
    }
    this.advance(rs);
    this.changed("messages", rs.room.id);
  }

  /** The server could not replay what we missed: drop the room's messages and reload. */
  resetRoom(roomId) {
    const rs = this.room(roomId);
    if (!rs) return;
    rs.messages.clear();
    rs.idToSeq.clear();
    rs.loaded = false;
    rs.latestSeq = 0;
    rs.oldestSeq = null;
    rs.hasMoreBefore = true;
    this.changed("messages", rs.room.id);
  }

  addPending(roomId, content, clientMsgId) {
    const rs = this.room(roomId);
    const p = {
      client_msg_id: clientMsgId,
      room_id: Number(roomId),
      content,
      status: "pending",
      error: null,
      created_at: new Date().toISOString(),
      sender_id: this.me?.id,
    };
    rs.pending.set(clientMsgId, p);
    this.changed("messages", rs.room.id);
    return p;
  }

  findPending(clientMsgId) {
    for (const rs of this.rooms.values()) {
      const p = rs.pending.get(clientMsgId);
      if (p) return p;
    }
    return null;
  }

  ack(clientMsgId, message) {
    this.upsertMessage(message, { live: true });
    // As on the server: sending moves the sender's marker to their own message.
    this.markRead(message.room_id, message.seq);
    this.changed("messages", message.room_id);
  }

  nack(clientMsgId, error) {
    const p = this.findPending(clientMsgId);
    if (!p) return;
    p.status = "failed";
    p.error = error || "not sent";
    this.changed("messages", p.room_id);
  }

  markPending(clientMsgId) {
    const p = this.findPending(clientMsgId);
    if (!p) return null;
    p.status = "pending";
    p.error = null;
    this.changed("messages", p.room_id);
    return p;
  }

  allPending() {
    const out = [];
    for (const rs of this.rooms.values()) for (const p of rs.pending.values()) out.push(p);
    return out;
  }

  /** Stored messages by seq, then pending ones in send order. */
  timeline(roomId) {
    const rs = this.room(roomId);
    if (!rs) return [];
    const stored = [...rs.messages.values()].sort((a, b) => a.seq - b.seq);
    return [...stored, ...rs.pending.values()];
  }

  /** {roomId: latestSeq} for rooms whose history we hold (socket resume). */
  resumePoints() {
    const out = {};
    for (const [id, rs] of this.rooms) if (rs.loaded) out[String(id)] = rs.latestSeq;
    return out;
  }

  // ---- presence / typing -------------------------------------------------------
  setOnline(roomId, online, joined = [], left = []) {
    const rs = this.room(roomId);
    if (!rs) return;
    if (Array.isArray(online)) rs.online = new Set(online);
    for (const id of joined || []) rs.online.add(id);
    for (const id of left || []) rs.online.delete(id);
    this.changed("presence", rs.room.id);
  }

  setTyping(roomId, userId, ttlMs = 5000) {
    const rs = this.room(roomId);
    if (!rs || userId === this.me?.id) return;
    rs.typing.set(userId, Date.now() + ttlMs);
    this.changed("typing", rs.room.id);
  }

  typingUsers(roomId) {
    const rs = this.room(roomId);
    if (!rs) return [];
    const now = Date.now();
    for (const [id, exp] of rs.typing) if (exp <= now) rs.typing.delete(id);
    return [...rs.typing.keys()];
  }
}

/** The server's unread count and the room head and marker it was computed at. */
function countBase(room) {
  return { unread: room.unread || 0, seq: room.last_seq || 0, read: room.last_read_seq || 0 };
}

/** Should `incoming` replace `current` (same seq)? Deletions win; later edits win. */
function newerVersion(incoming, current) {
  if (current.deleted) return false;
  if (incoming.deleted) return true;
  if (!incoming.edited_at) return false;
  if (!current.edited_at) return true;
  return Date.parse(incoming.edited_at) >= Date.parse(current.edited_at);
}
