// Keeping each loaded room's history complete across reconnects: resume bookkeeping and
// gap fills (socket `fetch` first, the API's `?after=` when the socket cannot help).
import { CLIENT_FRAMES, LIMITS } from "../protocol.js";
import { resumePoints } from "../selectors.js";

const FETCH_TIMEOUT_MS = 8_000;

export class GapFiller {
  constructor({ store, socket, api }) {
    this.store = store;
    this.socket = socket;
    this.api = api; // {messages(roomId, opts)}
    this.fetches = new Map(); // roomId -> {before, timer, http}
    this.resuming = new Set(); // rooms sent in the last `resume` and not answered yet
  }

  startResume() {
    this.resuming = new Set(Object.keys(resumePoints(this.store)).map(Number));
  }

  isResuming(roomId) {
    return this.resuming.has(roomId);
  }

  /** The gateway gave up replaying the room (reset): no `resumed` will come for it. */
  cancelResume(roomId) {
    this.resuming.delete(roomId);
  }

  /** The replay for a room ended; anything still missing up to last_seq is a gap. */
  resumed(roomId, lastSeq) {
    this.resuming.delete(roomId);
    const rs = this.store.room(roomId);
    if (!rs || !rs.loaded) return;
    if (lastSeq > rs.latestSeq) this.requestGap(roomId, { after: rs.latestSeq, before: lastSeq + 1 });
  }

  requestGap(roomId, gap) {
    if (this.fetches.has(roomId)) return; // one fill at a time; later events re-check
    // A message seq is never above the room's event seq at that point, so fetching the
    // events after it replays a superset of the gap (the store keeps the newest versions).
    const sent = this.socket.send({ type: CLIENT_FRAMES.FETCH, room_id: roomId, after_event_seq: gap.after });
    const entry = { before: gap.before, http: false, timer: null };
    entry.timer = setTimeout(() => this.httpFill(roomId, entry), sent ? FETCH_TIMEOUT_MS : 0);
    this.fetches.set(roomId, entry);
  }

  /** `fetched`: the gateway replayed what it could. If seqs are still missing, ask the API. */
  fetched(roomId) {
    const entry = this.fetches.get(roomId);
    const rs = this.store.room(roomId);
    if (!entry || !rs) return;
    clearTimeout(entry.timer);
    if (!entry.http && rs.latestSeq < entry.before - 1) {
      this.httpFill(roomId, entry);
      return;
    }
    this.done(roomId);
  }

  async httpFill(roomId, entry) {
    if (entry.http) return;
    entry.http = true;
    const rs = this.store.room(roomId);
    try {
      let after = rs ? rs.latestSeq : 0;
      for (let i = 0; i < 20; i += 1) {
        const page = await this.api.messages(roomId, { after, limit: LIMITS.PAGE_MAX });
        this.store.applyPage(roomId, page, "after");
        const msgs = page.messages || [];
        if (!page.has_more || !msgs.length || msgs[msgs.length - 1].seq >= entry.before - 1) break;
        after = msgs[msgs.length - 1].seq;
      }
    } catch (err) {
      console.warn("gap fill failed", err);
    }
    this.done(roomId);
  }

  /** Whatever is still missing below `before` does not exist (seqs may have holes). */
  done(roomId) {
    const entry = this.fetches.get(roomId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.fetches.delete(roomId);
    this.store.gapFilled(roomId, entry.before);
  }
}
