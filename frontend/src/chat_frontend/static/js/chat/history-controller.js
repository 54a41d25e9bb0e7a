// A room's history on the page: the newest page when it opens, older pages on scroll-up,
// and, with sync.js's GapFiller, nothing missing across reconnects (joined, resumed, reset
// and fetched frames).
import { SERVER_FRAMES } from "../protocol.js";
import { GapFiller } from "./sync.js";

const PAGE = 50;

export class HistoryController {
  constructor({ store, socket, api }) {
    this.store = store;
    this.api = api; // {messages(roomId, opts), room(roomId)}
    this.sync = new GapFiller({ store, socket, api });
    this.olderInFlight = false;
  }

  frames() {
    return {
      [SERVER_FRAMES.JOINED]: (f) => this.onJoined(f),
      [SERVER_FRAMES.RESUMED]: (f) => this.sync.resumed(Number(f.room_id), Number(f.last_seq)),
      [SERVER_FRAMES.RESET]: (f) => this.onReset(Number(f.room_id)),
      [SERVER_FRAMES.FETCHED]: (f) => this.sync.fetched(Number(f.room_id)),
    };
  }

  /** The socket is (again) authenticated and has sent `resume` for the rooms we hold. */
  onReady() {
    this.sync.startResume();
  }

  async loadNewest(roomId) {
    await this.page(roomId, { limit: PAGE }, "newest");
  }

  async loadOlder() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs || !rs.loaded || !rs.hasMoreBefore || this.olderInFlight || rs.oldestSeq === null) return;
    this.olderInFlight = true;
    try {
      await this.page(rs.room.id, { before: rs.oldestSeq, limit: PAGE }, "before");
    } catch (err) {
      console.warn("history failed", err);
    } finally {
      this.olderInFlight = false;
    }
  }

  async page(roomId, query, mode) {
    this.store.setLoading(roomId, true);
    try {
      this.store.applyPage(roomId, await this.api.messages(roomId, query), mode);
    } finally {
      this.store.setLoading(roomId, false);
    }
  }

  /** A live event revealed missing seqs. */
  gap(roomId, gap) {
    this.sync.requestGap(roomId, gap);
  }

  onJoined(f) {
    const rs = this.store.room(f.room_id);
    if (!rs) return;
    const last = Number(f.last_seq) || 0;
    if (rs.loaded && !this.sync.isResuming(rs.room.id) && last > rs.latestSeq) {
      this.sync.requestGap(rs.room.id, { after: rs.latestSeq, before: last + 1 });
    }
    this.store.roomHead(rs.room.id, last);
  }

  onReset(roomId) {
    this.sync.cancelResume(roomId);
    this.store.resetRoom(roomId);
    // The messages our count was derived from are gone: take the server's count again.
    this.api.room(roomId).then((room) => this.store.upsertRoom(room), () => {});
    if (roomId === this.store.activeRoomId) this.loadNewest(roomId).catch(() => {});
  }
}
