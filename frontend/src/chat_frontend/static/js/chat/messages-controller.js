// Messages: sending (optimistic, acked or refused by the gateway, retried), edits and
// deletes, message events (live or replayed), and the composer's draft for each room.
import { CLIENT_FRAMES, ERROR_CODES, EVENTS, LIMITS, SERVER_FRAMES } from "../protocol.js";
import { allPending, draft, findPending } from "../selectors.js";
import { errorText, uuid } from "../ui.js";
import { RefRequests } from "./refs.js";

const ACK_TIMEOUT_MS = 20_000;
const MAX_AUTO_RETRIES = 3;

export class MessagesController {
  constructor({ store, socket, api, reads, presence, sync }) {
    this.store = store;
    this.socket = socket;
    this.api = api; // {editMessage(id, content), deleteMessage(id)}
    this.reads = reads;
    this.presence = presence;
    this.sync = sync;
    this.ackTimers = new Map(); // client_msg_id -> timer
    this.autoRetries = new Map(); // client_msg_id -> retryable refusals so far
    this.refs = new RefRequests(socket, ACK_TIMEOUT_MS); // edit/delete frames
  }

  frames() {
    return {
      [SERVER_FRAMES.ACK]: (f) => this.onAck(f),
      [SERVER_FRAMES.NACK]: (f) => this.onNack(f),
      [SERVER_FRAMES.ERROR]: (f) => this.onError(f),
    };
  }

  events() {
    const onMessage = (f) => this.onMessage(f);
    return {
      [EVENTS.MESSAGE_CREATED]: onMessage,
      [EVENTS.MESSAGE_UPDATED]: onMessage,
      [EVENTS.MESSAGE_DELETED]: onMessage,
    };
  }

  /** What was still "sending…" goes out on the new socket. */
  onReady() {
    for (const p of allPending(this.store)) if (p.status === "pending") this.transmit(p);
  }

  // ---- the composer ------------------------------------------------------------------------
  setDraft(text) {
    this.store.setDraft(this.store.activeRoomId, text);
  }

  /** Send the open room's draft; false when there is nothing to send. */
  send() {
    const roomId = this.store.activeRoomId;
    const text = draft(this.store, roomId).trim();
    if (!roomId || !text) return false;
    this.store.setDraft(roomId, "");
    this.presence.typingEnded();
    this.transmit(this.store.addPending(roomId, text.slice(0, LIMITS.CONTENT_MAX), uuid()));
    return true;
  }

  transmit(p) {
    const frame = { type: CLIENT_FRAMES.MESSAGE, room_id: p.room_id, client_msg_id: p.client_msg_id, content: p.content };
    clearTimeout(this.ackTimers.get(p.client_msg_id));
    // Not connected: it stays "sending…" and goes out after the next auth_ok.
    if (!this.socket.send(frame)) return;
    const timeout = () => this.store.nack(p.client_msg_id, "no answer from the server");
    this.ackTimers.set(p.client_msg_id, setTimeout(timeout, ACK_TIMEOUT_MS));
  }

  retry(p) {
    // client_msg_id is kept: if the first attempt did commit, the server returns it, not a copy.
    const again = this.store.markPending(p.client_msg_id);
    if (!again) return;
    this.autoRetries.delete(again.client_msg_id);
    this.transmit(again);
  }

  // ---- edits and deletes: over the socket (the gateway fans the change out, also without
  // Redis), over HTTP only while disconnected --------------------------------------------------
  async edit(msg, content) {
    try {
      const frame = { type: CLIENT_FRAMES.EDIT, message_id: msg.id, content };
      this.store.upsertMessage(await this.refs.request(frame, () => this.api.editMessage(msg.id, content)));
    } catch (err) {
      throw new Error(errorText(err));
    }
  }

  async remove(msg) {
    try {
      const frame = { type: CLIENT_FRAMES.DELETE, message_id: msg.id };
      this.store.upsertMessage(await this.refs.request(frame, () => this.api.deleteMessage(msg.id)));
    } catch (err) {
      this.store.setNotice(`Could not delete: ${errorText(err)}`);
    }
  }

  // ---- frames ---------------------------------------------------------------------------------
  /** message.created|updated|deleted: the message as of that event (the higher version stays). */
  onMessage(f) {
    const msg = f.message;
    if (!msg) return;
    this.store.receive(msg, { fresh: f.event === EVENTS.MESSAGE_CREATED && !f.replay });
    if (Number(msg.room_id) === this.store.activeRoomId) this.reads.showActive();
  }

  onAck(f) {
    if (f.ref !== undefined && this.refs.settle(f)) return;
    if (!f.client_msg_id || !f.message) return;
    this.settled(f.client_msg_id);
    this.autoRetries.delete(f.client_msg_id);
    this.store.ack(f.client_msg_id, f.message);
    this.reads.showActive();
  }

  /** Retryable refusals (e.g. a draining replica) go out again by themselves, a few times. */
  onNack(f) {
    if (f.ref !== undefined && this.refs.settle(f)) return;
    if (!f.client_msg_id || !findPending(this.store, f.client_msg_id)) return;
    const id = f.client_msg_id;
    this.settled(id);
    const tries = (this.autoRetries.get(id) || 0) + 1;
    this.autoRetries.set(id, tries);
    if (!f.retryable || tries > MAX_AUTO_RETRIES) return this.store.nack(id, f.error);
    // Still "sending…": resent on the next auth_ok, or here after a jittered pause.
    setTimeout(() => this.resendIfPending(id), 500 + Math.random() * 1500);
  }

  resendIfPending(clientMsgId) {
    const p = findPending(this.store, clientMsgId);
    if (p && p.status === "pending") this.transmit(p);
  }

  onError(f) {
    if (f.ref !== undefined && this.refs.settle({ ...f, error: f.message })) return;
    // A join, resume or fetch the API could not answer: the stream's to retry.
    if (f.room_id !== undefined && f.code === ERROR_CODES.UNAVAILABLE) this.sync.unavailable(Number(f.room_id));
    console.warn("gateway error", f.code, f.message);
  }

  settled(clientMsgId) {
    clearTimeout(this.ackTimers.get(clientMsgId));
    this.ackTimers.delete(clientMsgId);
  }
}
