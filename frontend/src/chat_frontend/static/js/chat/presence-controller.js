// Who is here and who is typing: presence snapshots and changes, typing frames both ways,
// and typing that ran out. (A typist's message ending their typing is store.receive's.)
import { CLIENT_FRAMES, SERVER_FRAMES } from "../protocol.js";
import { draft } from "../selectors.js";

const TYPING_SEND_EVERY_MS = 3_000;
// After our message, typing goes out again this long after the previous typing frame: the
// gateway drops frames closer than its TYPING_MIN_INTERVAL_SECONDS (1 s by default), timed
// as it reads them, so twice that keeps a first frame that waited in a queue from making
// the next look early.
const TYPING_AFTER_MESSAGE_MS = 2_000;
const TYPING_EXPIRE_EVERY_MS = 1_000;

export class PresenceController {
  constructor({ store, socket, users }) {
    this.store = store;
    this.socket = socket;
    this.users = users;
    this.lastTypingSent = 0;
    this.typingAgain = false; // our message ended our typing: announce it again soon
    this.typingTimer = null;
    setInterval(() => this.store.expireTyping(), TYPING_EXPIRE_EVERY_MS);
  }

  frames() {
    return {
      [SERVER_FRAMES.PRESENCE]: (f) => this.onPresence(f),
      [SERVER_FRAMES.TYPING]: (f) => this.onTyping(f),
    };
  }

  /** A new socket knows nothing of the open room's presence yet: ask. */
  onReady() {
    const roomId = this.store.activeRoomId;
    if (roomId) this.socket.send({ type: CLIENT_FRAMES.PRESENCE, room_id: roomId });
  }

  onPresence(f) {
    this.store.setOnline(f.room_id, f.online, f.joined, f.left);
  }

  onTyping(f) {
    this.users.need(f.user_id);
    this.store.setTyping(f.room_id, f.user_id);
  }

  /**
   * We sent a message: on the others' screens it ended our typing (store.receive), so the
   * next keystroke says so again without waiting out the usual spacing.
   */
  typingEnded() {
    this.typingAgain = true;
  }

  /** The composer changed: tell the room, at most every few seconds. */
  typing() {
    if (!this.store.activeRoomId || this.typingTimer) return;
    const since = Date.now() - this.lastTypingSent;
    if (since >= TYPING_SEND_EVERY_MS) return this.sendTyping();
    if (!this.typingAgain) return;
    const wait = Math.max(0, TYPING_AFTER_MESSAGE_MS - since);
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      if (draft(this.store, this.store.activeRoomId)) this.sendTyping();
    }, wait);
  }

  sendTyping() {
    const roomId = this.store.activeRoomId;
    if (!roomId) return;
    this.typingAgain = false;
    this.lastTypingSent = Date.now();
    this.socket.send({ type: CLIENT_FRAMES.TYPING, room_id: roomId });
  }
}
