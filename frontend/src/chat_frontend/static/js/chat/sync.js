// The event streams (protocol 2): each room's events, counted by `event_seq`, and the user's
// own (`user_seq`). Cursors follow what the page holds (`joined`/`resumed`/`fetched` set
// them, each next live event advances them, store.js keeps them); an event beyond the
// cursor + 1 is a gap, filled by a `fetch` frame from the cursor, or by the API's
// `GET /api/rooms/{id}/events?after=` pages when the socket cannot help. Every event, live
// or replayed, goes to its kind's handler (the controllers' `events()` tables), which apply
// it idempotently, then moves the cursor.
import { CLIENT_FRAMES, LIMITS, SERVER_FRAMES } from "../protocol.js";
import { hasGap, resumePoints } from "../selectors.js";
import { backoffDelay } from "../socket.js";

const FETCH_TIMEOUT_MS = 8_000;
const REST_PAGES_MAX = 20; // a fill reads at most this many pages of LIMITS.PAGE_MAX events

export class StreamSync {
  constructor({ store, socket, api }) {
    this.store = store;
    this.socket = socket;
    this.api = api; // {roomEvents(roomId, {after, limit})}
    this.handlers = new Map(); // event kind -> handler (route())
    this.fills = new Map(); // roomId -> {after, http, timer}
    this.resuming = new Set(); // rooms named in the last `resume`, not answered yet
    this.userResume = null; // timer while the user stream's replay is awaited
    this.retries = new Map(); // roomId -> {attempt, timer}: a join/resume the API refused
  }

  /** The event kinds' handlers, merged by frame-router.js's eventTable(). */
  route(table) {
    this.handlers = table;
  }

  frames() {
    return {
      [SERVER_FRAMES.JOINED]: (f) => this.joined(Number(f.room_id), Number(f.event_seq), Number(f.last_seq)),
      [SERVER_FRAMES.RESUMED]: (f) => this.resumed(Number(f.room_id), Number(f.event_seq), Number(f.last_seq)),
      [SERVER_FRAMES.FETCHED]: (f) => this.fetched(Number(f.room_id), Number(f.event_seq)),
      [SERVER_FRAMES.EVENT]: (f) => this.onEvent(f),
      [SERVER_FRAMES.USER_EVENT]: (f) => this.onUserEvent(f),
      [SERVER_FRAMES.USER_RESUMED]: (f) => this.userResumed(Number(f.user_seq)),
    };
  }

  /**
   * The socket is (again) authenticated (`authOk`) and has sent `resume` for what we hold:
   * the first auth_ok starts the user stream; fills on the old socket are covered now.
   */
  onReady(authOk) {
    const points = resumePoints(this.store); // what socket.js has just sent in `resume`
    if (points.user_seq === null) this.store.followUser(Number(authOk?.user_seq) || 0);
    this.resuming = new Set(Object.keys(points.rooms).map(Number));
    for (const [roomId, entry] of this.fills) {
      if (!entry.http && this.resuming.has(roomId)) this.finish(roomId, false);
    }
    clearTimeout(this.userResume);
    this.userResume = null;
    if (points.user_seq !== null) this.awaitUserResume();
    for (const { timer } of this.retries.values()) clearTimeout(timer);
    this.retries.clear(); // every room was just joined or resumed again
  }

  // ---- room streams -------------------------------------------------------------------------
  /**
   * `joined`: the socket follows the room from `eventSeq`. A room we held already (a
   * cursor, else the snapshot it came in: GET /api/rooms, room.added) at an earlier event
   * seq missed what happened in between: fill it.
   */
  joined(roomId, eventSeq, lastSeq) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    this.followed(roomId);
    this.store.roomHead(roomId, lastSeq || 0);
    const held = rs.eventSeq ?? rs.room.event_seq ?? eventSeq;
    this.store.followRoom(roomId, Math.min(held, eventSeq));
    if (held < eventSeq && !this.resuming.has(roomId)) this.requestFill(roomId);
  }

  /** The replay for a room ended: the page holds it as of `eventSeq`. */
  resumed(roomId, eventSeq, lastSeq) {
    this.resuming.delete(roomId);
    this.followed(roomId);
    this.store.roomHead(roomId, lastSeq || 0);
    this.store.followRoom(roomId, eventSeq);
    this.caughtUp(roomId);
  }

  /** `reset`: the gateway will not replay the room; no `resumed` will come for it. */
  cancelResume(roomId) {
    this.resuming.delete(roomId);
    this.followed(roomId);
  }

  /**
   * An `error` `unavailable` about the room: the API could not answer the gateway. A join or
   * resume that failed so leaves the socket not following the room: ask again, with backoff
   * (a failed `fetch` has its REST fallback already).
   */
  unavailable(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    const wasResuming = this.resuming.delete(roomId);
    if (rs.eventSeq !== null && !wasResuming) return;
    const retry = this.retries.get(roomId) || { attempt: 0, timer: null };
    clearTimeout(retry.timer);
    retry.timer = setTimeout(() => this.follow(roomId), backoffDelay(retry.attempt));
    retry.attempt += 1;
    this.retries.set(roomId, retry);
  }

  follow(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return void this.retries.delete(roomId);
    if (rs.eventSeq === null) return void this.socket.send({ type: CLIENT_FRAMES.JOIN, room_id: roomId });
    const rooms = { [String(roomId)]: rs.eventSeq };
    if (this.socket.send({ type: CLIENT_FRAMES.RESUME, rooms })) this.resuming.add(roomId);
  }

  /** The socket follows the room again: a refused join/resume retried no more. */
  followed(roomId) {
    clearTimeout(this.retries.get(roomId)?.timer);
    this.retries.delete(roomId);
  }

  /** A live or replayed room event: applied by its kind's handler, then counted. */
  onEvent(f) {
    const roomId = Number(f.room_id);
    if (!this.store.room(roomId)) return; // not (or no longer) one of our rooms
    this.handlers.get(f.event)?.(f);
    this.store.sawRoomEvent(roomId, Number(f.event_seq));
    // A replay skips the seqs of superseded message versions; its end frame closes them.
    const rs = this.store.room(roomId);
    if (!f.replay && rs && hasGap(rs) && !this.resuming.has(roomId)) this.requestFill(roomId);
  }

  requestFill(roomId) {
    const rs = this.store.room(roomId);
    if (!rs || rs.eventSeq === null || this.fills.has(roomId)) return; // one fill at a time
    const after = rs.eventSeq;
    const sent = this.socket.send({ type: CLIENT_FRAMES.FETCH, room_id: roomId, after_event_seq: after });
    const entry = { after, http: false, timer: null };
    entry.timer = setTimeout(() => this.httpFill(roomId, entry), sent ? FETCH_TIMEOUT_MS : 0);
    this.fills.set(roomId, entry);
  }

  /** `fetched`: the gateway replayed everything up to `eventSeq`. */
  fetched(roomId, eventSeq) {
    this.store.followRoom(roomId, eventSeq);
    const entry = this.fills.get(roomId);
    if (entry && !entry.http) this.finish(roomId, true);
  }

  /** The API's pages of the room's events from the cursor, when the socket did not answer. */
  async httpFill(roomId, entry) {
    if (entry.http) return;
    entry.http = true;
    let ok = false;
    try {
      let after = entry.after;
      for (let i = 0; i < REST_PAGES_MAX && !ok; i += 1) {
        const page = await this.api.roomEvents(roomId, { after, limit: LIMITS.PAGE_MAX });
        const events = page.events || [];
        for (const ev of events) this.onEvent({ ...ev, room_id: roomId, replay: true });
        if (!page.has_more || !events.length) {
          this.store.followRoom(roomId, Number(page.head) || after);
          ok = true;
        } else after = events[events.length - 1].event_seq;
      }
    } catch (err) {
      console.warn("gap fill failed", err);
    }
    this.finish(roomId, ok);
  }

  finish(roomId, ok) {
    const entry = this.fills.get(roomId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.fills.delete(roomId);
    if (ok) this.caughtUp(roomId);
  }

  /** The room is held up to its cursor; seqs seen live beyond a hole still need a fill. */
  caughtUp(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    if (hasGap(rs)) this.requestFill(roomId);
    else this.store.gapFilled(roomId);
  }

  // ---- the user stream ---------------------------------------------------------------------
  /** Our own events (rooms added/removed, profiles, read markers), each applied once. */
  onUserEvent(f) {
    if (!this.store.sawUserEvent(Number(f.user_seq))) return; // a copy: applied already
    this.handlers.get(f.event)?.(f);
    if (this.store.userGap && !this.userResume) {
      // A user event went missing: replay the user stream from the cursor.
      const sent = this.socket.send({ type: CLIENT_FRAMES.RESUME, rooms: {}, user_seq: this.store.userSeq });
      if (sent) this.awaitUserResume();
    }
  }

  userResumed(userSeq) {
    clearTimeout(this.userResume);
    this.userResume = null;
    this.store.followUser(userSeq);
  }

  /** While the user stream replays, later live user events are no gap; it may never answer. */
  awaitUserResume() {
    clearTimeout(this.userResume);
    this.userResume = setTimeout(() => {
      this.userResume = null;
    }, FETCH_TIMEOUT_MS);
  }
}
