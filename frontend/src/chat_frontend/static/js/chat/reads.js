// Read markers: what this tab has shown reaches the server, and is never dropped.
//
// The local count changes the moment a message is shown (store.markRead); the network is
// throttled per room (the first marker goes at once, later ones at most every SEND_EVERY_MS)
// and flushed, not cancelled, when the user switches rooms, hides or closes the tab. A marker
// that could not be sent (offline, API down) stays pending and goes out on the next flush:
// after a reconnect, when the network returns, or with the next marker.
//
// The count is the server's: the PUT answers the marker and the unread count from there,
// and read.moved on our stream says the same when another tab or device moved it.
import { EVENTS } from "../protocol.js";
import { countIsStale } from "../selectors.js";

const SEND_EVERY_MS = 1_000;

export class ReadMarkers {
  constructor({ store, api }) {
    this.store = store;
    this.api = api; // {markRead(roomId, seq, {keepalive}), room(roomId)}
    this.pending = new Map(); // roomId -> highest seq shown and not yet confirmed
    this.confirmed = new Map(); // roomId -> highest seq the server accepted from this tab
    this.inflight = new Set(); // roomIds with a PUT on the wire
    this.lastSent = new Map(); // roomId -> ms epoch of the last PUT
    this.timers = new Map(); // roomId -> trailing flush timer
    this.again = new Set(); // roomIds flushed while their PUT was on the wire: send once it ends
  }

  events() {
    return { [EVENTS.READ_MOVED]: (f) => f.data && this.moved(f.data) };
  }

  /** read.moved: the server's marker and count; a marker sent from here is confirmed too. */
  moved(read) {
    const id = Number(read.room_id);
    this.store.readMoved(read);
    this.accepted(id, Number(read.last_read_seq));
  }

  /** The open room's messages are on screen (its history loaded, the tab visible): read. */
  showActive() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs || !rs.loaded || document.visibilityState !== "visible") return;
    this.shown(rs.room.id, rs.latestSeq);
  }

  /** The room is on screen with every message up to `seq`: read locally now, tell the server. */
  shown(roomId, seq) {
    const id = Number(roomId);
    this.store.markRead(id, seq);
    if (seq <= Math.max(this.confirmed.get(id) || 0, this.pending.get(id) || 0)) return;
    this.pending.set(id, seq);
    this.schedule(id);
  }

  schedule(id) {
    if ((this.pending.get(id) || 0) <= (this.confirmed.get(id) || 0) || this.timers.has(id)) return;
    const wait = SEND_EVERY_MS - (Date.now() - (this.lastSent.get(id) || 0));
    if (wait <= 0) this.send(id);
    else this.timers.set(id, setTimeout(() => this.send(id), wait));
  }

  /** Send every pending marker now (room switch, tab hidden, reconnect, network back). */
  flush({ keepalive = false } = {}) {
    for (const id of [...this.pending.keys()]) this.send(id, { keepalive });
  }

  send(id, { keepalive = false } = {}) {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const seq = this.pending.get(id);
    if (seq === undefined) return;
    // One PUT per room at a time: a later marker waits for its answer.
    if (this.inflight.has(id) && !keepalive) return void this.again.add(id);
    this.inflight.add(id);
    this.lastSent.set(id, Date.now());
    this.api.markRead(id, seq, { keepalive }).then(
      (answer) => {
        this.inflight.delete(id);
        this.again.delete(id);
        if (answer && answer.room_id !== undefined) this.store.readMoved(answer);
        this.accepted(id, seq);
        this.schedule(id); // shown meanwhile: goes out after the usual spacing
      },
      (err) => {
        // Kept pending for the next flush (reconnect, network back) or the next marker; a
        // flush that came while this PUT was failing is that next flush.
        this.inflight.delete(id);
        console.warn("read marker not sent yet", err?.status ?? err);
        if (this.again.delete(id)) this.send(id);
      },
    );
  }

  accepted(id, seq) {
    this.confirmed.set(id, Math.max(this.confirmed.get(id) || 0, seq));
    if ((this.pending.get(id) || 0) <= seq) this.pending.delete(id);
    this.recountIfStale(id);
  }

  /**
   * The server's count was taken before our marker and covers more than we hold: ask it
   * again instead of guessing (rare: history not loaded up to the room's head).
   */
  recountIfStale(id) {
    if (countIsStale(this.store, id)) this.api.room(id).then((room) => this.store.refreshRoom(room), () => {});
  }
}
