// A room's history on the page: the newest page when it opens, older pages on scroll-up,
// and a reload when the gateway could not replay what we missed (`reset`). Keeping it
// complete across reconnects is sync.js's (the room's event stream).

const PAGE = 50;

export class HistoryController {
  constructor({ store, api, sync }) {
    this.store = store;
    this.api = api; // {messages(roomId, opts)}
    this.sync = sync;
    this.olderInFlight = false;
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

  /** Too much was missed to replay (`reset`): drop the messages, follow from `eventSeq`,
   * and load the newest page again if the room is on screen. */
  reset(roomId, eventSeq) {
    this.sync.cancelResume(roomId);
    this.store.resetRoom(roomId, eventSeq);
    if (roomId === this.store.activeRoomId) this.loadNewest(roomId).catch(() => {});
  }
}
