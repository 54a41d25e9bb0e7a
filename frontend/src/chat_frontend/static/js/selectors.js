// Read-only questions about the store's state, and the pure rules store.js applies when it
// writes. Nothing here changes anything: every function returns a value or a fresh array.

/** The user's name as shown: display name, else username, else a placeholder. */
export function displayName(store, userId) {
  const u = store.users.get(userId);
  return u ? u.display_name || u.username : `user ${userId}`;
}

// ---- unread counts: the rule, in one place --------------------------------------------
/** The server's unread count and the room head and marker it was computed at. */
export function countBase(room) {
  return Object.freeze({ unread: room.unread || 0, seq: room.last_seq || 0, read: room.last_read_seq || 0 });
}

/**
 * The badge: the server's count as of its snapshot (`base`), plus the messages we hold
 * that are newer than both that snapshot and our read marker, from others, not deleted.
 * Derived, never incremented: a replayed, fetched or resumed copy of a message we hold
 * is the same map entry, so it cannot be counted twice; nor can our own messages.
 */
export function unread(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return 0;
  const read = rs.room.last_read_seq || 0;
  let count = read >= rs.base.seq ? 0 : rs.base.unread;
  const after = Math.max(read, rs.base.seq);
  for (const [seq, m] of rs.messages) {
    if (seq > after && !m.deleted && m.sender_id !== store.me?.id) count += 1;
  }
  return count;
}

/** Our marker sits inside the span the server's count covers: only the server can say. */
export function countIsStale(store, roomId) {
  const rs = store.room(roomId);
  if (!rs) return false;
  const read = rs.room.last_read_seq || 0;
  return read > rs.base.read && read < rs.base.seq && rs.base.unread > 0;
}

// ---- messages ------------------------------------------------------------------------------
/** Should `incoming` replace `current` (same seq)? Deletions win; later edits win. */
export function newerVersion(incoming, current) {
  if (current.deleted) return false;
  if (incoming.deleted) return true;
  if (!incoming.edited_at) return false;
  if (!current.edited_at) return true;
  return Date.parse(incoming.edited_at) >= Date.parse(current.edited_at);
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

/** {roomId: latestSeq} for rooms whose history we hold (socket resume). */
export function resumePoints(store) {
  const out = {};
  for (const [id, rs] of store.rooms) if (rs.loaded) out[String(id)] = rs.latestSeq;
  return out;
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
