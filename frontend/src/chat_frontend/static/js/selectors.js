// Read-only questions about the store's state, and the pure rules store.js applies when it
// writes. Nothing here changes anything: every function returns a value or a fresh array.

/** The user's name as shown: display name, else username, else a placeholder. */
export function displayName(store, userId) {
  const u = store.users.get(userId);
  return u ? u.display_name || u.username : `user ${userId}`;
}

// ---- unread counts: the rule, in one place --------------------------------------------
/**
 * The server's unread count and where it was taken: the room head (`seq`) and marker
 * (`read`) it counted from, and the room event seq (`eventSeq`) it was counted at. A room
 * snapshot (GET /api/rooms), a `read.moved` event and the PUT answer each say all of them.
 */
export function countBase(room, eventSeq = room.event_seq) {
  return Object.freeze({
    unread: room.unread || 0,
    seq: Math.max(room.last_seq || 0, room.last_read_seq || 0),
    read: room.last_read_seq || 0,
    eventSeq: eventSeq ?? null, // unknown: no deletion can be told to be after the count
  });
}

/**
 * The badge: the server's count as of its base, plus each message held that is newer than
 * both the base and the marker, from someone else and not deleted, minus each message the
 * server counted that was deleted since (its version is after the base). Derived, never
 * incremented: a replayed, fetched or resumed copy of a message we hold is the same map
 * entry, so it cannot count twice; nor can our own messages.
 */
export function unread(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return 0;
  const { base } = rs;
  const read = rs.room.last_read_seq || 0;
  let count = read >= base.seq ? 0 : base.unread;
  const after = Math.max(read, base.seq);
  for (const [seq, m] of rs.messages) {
    if (m.sender_id === store.me?.id) continue;
    if (seq > after && !m.deleted) count += 1;
    else if (m.deleted && seq > read && seq <= base.seq && base.eventSeq !== null && (m.version || 0) > base.eventSeq) count -= 1;
  }
  return Math.max(0, count);
}

/** Our marker sits inside the span the server's count covers: only the server can say. */
export function countIsStale(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return false;
  const read = rs.room.last_read_seq || 0;
  return read > rs.base.read && read < rs.base.seq && rs.base.unread > 0;
}

// ---- messages ------------------------------------------------------------------------------
/** Should `incoming` replace `current` (same seq)? The higher `version` (the room event seq
 * of the message's last change: an edit, a deletion) wins; an equal one is the same copy. */
export function newerVersion(incoming, current) {
  return (incoming.version || 0) > (current.version || 0);
}

/**
 * Is a message we do not hold part of what the page keeps for the room? Of a loaded room,
 * the window from its oldest loaded page up (an older one comes with its page on scroll-up);
 * of a room never opened, what is newer than our marker (all that can count as unread).
 */
export function inWindow(rs, seq) {
  if (rs.loaded) return !rs.hasMoreBefore || (rs.oldestSeq !== null && seq >= rs.oldestSeq);
  return seq > (rs.room.last_read_seq || 0);
}

/** The highest seq reached from `from` over consecutive seqs held in `messages`. */
export function contiguousTop(messages, from) {
  let seq = from;
  while (messages.has(seq + 1)) seq += 1;
  return seq;
}

/** Stored messages by seq, then pending ones in send order. */
export function timeline(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return [];
  const stored = [...rs.messages.values()].sort((a, b) => a.seq - b.seq);
  return [...stored, ...rs.pending.values()];
}

export function findPending(store, clientMsgId) {
  for (const rs of store.rooms.values()) {
    const p = rs.pending.get(clientMsgId);
    if (p) return p;
  }
  return null;
}

export function allPending(store) {
  return [...store.rooms.values()].flatMap((rs) => [...rs.pending.values()]);
}

/**
 * What `resume` names after a reconnect: each followed room's event cursor (`rooms`) and the
 * user stream's (`user_seq`, null before the first auth_ok).
 */
export function resumePoints(store) {
  const rooms = {};
  for (const [id, rs] of store.rooms) if (rs.eventSeq !== null) rooms[String(id)] = rs.eventSeq;
  return { rooms, user_seq: store.userSeq };
}

/** Events of the room stream seen beyond the cursor, with one missing in between. */
export function hasGap(rs) {
  return rs.ahead.size > 0;
}

/** The room's members as the page knows them now (their latest names). */
export function members(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return [];
  return [...rs.members.keys()].map((id) => store.users.get(id) || rs.members.get(id));
}

export function draft(store, roomId) {
  return store.room(roomId)?.draft ?? "";
}

/** Who is typing in the room now (entries past their expiry no longer count). */
export function typingUsers(store, roomId, now = Date.now()) {
  const rs = store.room(roomId);
  if (!rs) return [];
  return [...rs.typing].filter(([, exp]) => exp > now).map(([id]) => id);
}
