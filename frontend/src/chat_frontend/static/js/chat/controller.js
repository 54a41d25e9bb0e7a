// Glue between the API, the socket, the store and the views for the chat page.
import { api } from "../api.js";
import { LIMITS, SERVER_FRAMES } from "../protocol.js";
import { errorText, uuid } from "../ui.js";
import { ReadMarkers } from "./reads.js";
import { RefRequests } from "./refs.js";
import { GapFiller } from "./sync.js";

const ACK_TIMEOUT_MS = 20_000;
const TYPING_SEND_EVERY_MS = 3_000;
const MAX_AUTO_RETRIES = 3;

export class ChatController {
  constructor({ store, socket, views, banner }) {
    this.store = store;
    this.socket = socket;
    this.views = views; // {messages, sidebar, members, room}
    this.banner = banner; // (text, state) => void
    this.ackTimers = new Map();
    this.sync = new GapFiller({ store, socket });
    this.userFetches = new Map();
    this.loadingOlder = false;
    this.lastTypingSent = 0;
    this.reads = new ReadMarkers({ store, api });
    this.membersReload = null;
    this.refs = new RefRequests(socket, ACK_TIMEOUT_MS); // edit/delete frames

    socket.addEventListener("frame", (ev) => this.onFrame(ev.detail));
    socket.addEventListener("ready", () => this.onReady());
  }

  // ---- rooms ---------------------------------------------------------------------
  async loadRooms() {
    const rooms = await api.rooms();
    this.store.setRooms(rooms);
    for (const rs of this.store.rooms.values()) {
      this.reads.recountIfStale(rs.room.id);
      this.socket.join(rs.room.id);
      if (rs.room.kind === "dm" && !rs.members.size) this.loadMembers(rs.room.id).catch(() => {});
    }
  }

  async loadMembers(roomId) {
    const users = await api.members(roomId);
    const rs = this.store.room(roomId);
    if (!rs) return;
    this.store.rememberUsers(users);
    rs.members = new Map(users.map((u) => [u.id, u]));
    this.store.changed("members", rs.room.id);
  }

  async open(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    // What the last room showed goes to the server now, not after a debounce it could lose.
    this.reads.flush();
    this.store.activeRoomId = rs.room.id;
    window.history.replaceState(null, "", `#room=${rs.room.id}`);
    this.views.room.show(rs);
    this.views.messages.show(rs.room.id);
    this.showRead(); // a room whose history we hold is on screen now
    this.store.changed("rooms");
    this.socket.join(rs.room.id);
    this.socket.send({ type: "presence", room_id: rs.room.id });
    const tasks = [this.loadMembers(rs.room.id)];
    if (!rs.loaded) tasks.push(this.loadNewest(rs.room.id).then(() => this.showRead()));
    await Promise.allSettled(tasks);
  }

  async loadNewest(roomId) {
    this.views.messages.setLoading(true);
    try {
      const page = await api.messages(roomId, { limit: 50 });
      this.store.applyPage(roomId, page, "newest");
    } finally {
      this.views.messages.setLoading(false);
    }
  }

  async loadOlder() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs || !rs.loaded || !rs.hasMoreBefore || this.loadingOlder || rs.oldestSeq === null) return;
    this.loadingOlder = true;
    this.views.messages.setLoading(true);
    try {
      const page = await api.messages(rs.room.id, { before: rs.oldestSeq, limit: 50 });
      this.store.applyPage(rs.room.id, page, "before");
    } catch (err) {
      console.warn("history failed", err);
    } finally {
      this.loadingOlder = false;
      this.views.messages.setLoading(false);
    }
  }

  joined(room) {
    this.store.upsertRoom(room);
    this.socket.join(room.id);
    return this.open(room.id);
  }

  async leave(roomId) {
    await api.leaveRoom(roomId);
    this.socket.leave(roomId);
    const wasActive = this.store.activeRoomId === Number(roomId);
    this.store.removeRoom(roomId);
    if (wasActive) {
      window.history.replaceState(null, "", "#");
      this.views.room.show(null);
    }
  }

  async dm(userId) {
    const room = await api.openDm(userId);
    this.views.sidebar.clearSearch();
    await this.joined(room);
  }

  /** The visible room's messages are on screen: they are read (see reads.js). */
  showRead() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs || !rs.loaded || document.visibilityState !== "visible") return;
    this.reads.shown(rs.room.id, rs.latestSeq);
  }

  // ---- sending -----------------------------------------------------------------------
  send(content) {
    const roomId = this.store.activeRoomId;
    const text = content.trim();
    if (!roomId || !text) return false;
    const p = this.store.addPending(roomId, text.slice(0, LIMITS.CONTENT_MAX), uuid());
    this.transmit(p);
    return true;
  }

  transmit(p) {
    const sent = this.socket.send({ type: "message", room_id: p.room_id, client_msg_id: p.client_msg_id, content: p.content });
    clearTimeout(this.ackTimers.get(p.client_msg_id));
    // Not connected: it stays "sending…" and goes out after the next auth_ok.
    if (!sent) return;
    this.ackTimers.set(
      p.client_msg_id,
      setTimeout(() => this.store.nack(p.client_msg_id, "no answer from the server"), ACK_TIMEOUT_MS),
    );
  }

  retry(p) {
    // client_msg_id is kept: if the first attempt did commit, the server returns it, not a copy.
    const again = this.store.markPending(p.client_msg_id);
    if (!again) return;
    again.retries = 0;
    this.transmit(again);
  }

  /**
   * Edit/delete go over the socket (the gateway fans the change out, also without Redis);
   * over HTTP only while disconnected.
   */
  async edit(msg, content) {
    try {
      const updated = await this.refs.request({ type: "edit", message_id: msg.id, content }, () =>
        api.editMessage(msg.id, content),
      );
      this.store.upsertMessage(updated);
      this.store.changed("messages", updated.room_id);
    } catch (err) {
      throw new Error(errorText(err));
    }
  }

  async remove(msg) {
    try {
      const deleted = await this.refs.request({ type: "delete", message_id: msg.id }, () =>
        api.deleteMessage(msg.id),
      );
      this.store.upsertMessage(deleted);
      this.store.changed("messages", deleted.room_id);
    } catch (err) {
      this.banner(`Could not delete: ${errorText(err)}`, "error");
    }
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_SEND_EVERY_MS || !this.store.activeRoomId) return;
    this.lastTypingSent = now;
    this.socket.send({ type: "typing", room_id: this.store.activeRoomId });
  }

  userNeeded(id) {
    if (id === undefined || id === null || this.userFetches.has(id)) return;
    this.userFetches.set(
      id,
      api.user(id).then(
        (u) => {
          this.store.rememberUsers([u]);
          this.store.changed("users");
        },
        () => {},
      ),
    );
  }

  // ---- socket ------------------------------------------------------------------------
  onReady() {
    this.reads.flush(); // markers that could not be sent while we were away
    this.sync.startResume();
    for (const p of this.store.allPending()) if (p.status === "pending") this.transmit(p);
    if (this.store.activeRoomId) this.socket.send({ type: "presence", room_id: this.store.activeRoomId });
    // Unread counts and rooms we were added to while away.
    this.loadRooms().catch(() => {});
  }

  onFrame(f) {
    switch (f.type) {
      case SERVER_FRAMES.EVENT:
        return this.onEvent(f);
      case SERVER_FRAMES.ACK:
        if (f.ref !== undefined && this.refs.settle(f)) return;
        if (!f.client_msg_id || !f.message) return;
        clearTimeout(this.ackTimers.get(f.client_msg_id));
        this.ackTimers.delete(f.client_msg_id);
        this.store.ack(f.client_msg_id, f.message);
        return this.showRead();
      case SERVER_FRAMES.NACK:
        if (f.ref !== undefined && this.refs.settle(f)) return;
        if (!f.client_msg_id) return;
        clearTimeout(this.ackTimers.get(f.client_msg_id));
        return this.onNack(f);
      case SERVER_FRAMES.JOINED:
        return this.onJoined(f);
      case SERVER_FRAMES.RESUMED:
        return this.sync.resumed(Number(f.room_id), Number(f.last_seq));
      case SERVER_FRAMES.RESET:
        return this.onReset(f.room_id);
      case SERVER_FRAMES.FETCHED:
        return this.sync.fetched(Number(f.room_id));
      case SERVER_FRAMES.PRESENCE:
        this.store.setOnline(f.room_id, f.online, f.joined, f.left);
        return this.membersMayHaveChanged(Number(f.room_id), [...(f.online || []), ...(f.joined || [])]);
      case SERVER_FRAMES.TYPING:
        if (!this.store.users.has(f.user_id)) this.userNeeded(f.user_id);
        return this.store.setTyping(f.room_id, f.user_id);
      case SERVER_FRAMES.ERROR:
        if (f.ref !== undefined && this.refs.settle({ ...f, error: f.message })) return;
        console.warn("gateway error", f.code, f.message);
        return;
      default:
        return;
    }
  }

  /** Retryable refusals (e.g. a draining replica) go out again by themselves, a few times. */
  onNack(f) {
    const p = this.store.findPending(f.client_msg_id);
    if (!p) return;
    p.retries = (p.retries || 0) + 1;
    if (!f.retryable || p.retries > MAX_AUTO_RETRIES) return this.store.nack(f.client_msg_id, f.error);
    // Still "sending…": resent on the next auth_ok, or here after a jittered pause.
    setTimeout(() => p.status === "pending" && this.transmit(p), 500 + Math.random() * 1500);
  }

  onEvent(f) {
    if (!f.message) return;
    const { gap } = this.store.upsertMessage(f.message, { live: true });
    this.store.changed("messages", f.message.room_id);
    this.store.changed("rooms");
    if (gap) this.sync.requestGap(f.message.room_id, gap);
    if (Number(f.room_id) === this.store.activeRoomId) this.showRead();
    this.membersMayHaveChanged(Number(f.message.room_id), [f.message.sender_id]);
  }

  /** Someone we do not list is online or wrote here: they joined, re-read the members. */
  membersMayHaveChanged(roomId, userIds) {
    const rs = this.store.room(roomId);
    if (!rs || roomId !== this.store.activeRoomId || this.membersReload) return;
    if (!userIds.some((id) => !rs.members.has(id))) return;
    this.membersReload = this.loadMembers(roomId)
      .catch(() => {})
      .finally(() => {
        this.membersReload = null;
      });
  }

  onJoined(f) {
    const rs = this.store.room(f.room_id);
    if (!rs) return;
    const last = Number(f.last_seq) || 0;
    if (rs.loaded && !this.sync.resuming.has(rs.room.id) && last > rs.latestSeq) {
      this.sync.requestGap(rs.room.id, { after: rs.latestSeq, before: last + 1 });
    }
    rs.room.last_seq = Math.max(rs.room.last_seq || 0, last);
  }

  onReset(roomId) {
    this.sync.resuming.delete(Number(roomId));
    this.store.resetRoom(roomId);
    // The messages our count was derived from are gone: take the server's count again.
    api.room(Number(roomId)).then((room) => this.store.upsertRoom(room), () => {});
    if (Number(roomId) === this.store.activeRoomId) this.loadNewest(Number(roomId)).catch(() => {});
  }
}
