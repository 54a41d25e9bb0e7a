// The gateway connection: auth as the first frame (never a token in the URL),
// reconnect with exponential backoff + full jitter, then `resume` from the page's event
// cursors (each room's and the user stream's) and `join` for rooms it does not follow yet.
import { resolveWsUrl } from "./config.js";
import { CLIENT_FRAMES, CLOSE_CODES, PROTOCOL_VERSION, SERVER_FRAMES } from "./protocol.js";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const AUTH_TIMEOUT_MS = 10_000;
// After the network returns, an open socket must answer within this or it is replaced.
const PROBE_TIMEOUT_MS = 5_000;
const PROBE_REF = "socket-probe";

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)] (AWS architecture blog). */
export function backoffDelay(attempt, random = Math.random) {
  return Math.floor(random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
}

/**
 * Events dispatched: "state" {state, detail}, "ready" {auth_ok frame} (authenticated;
 * joins and resume sent),
 * "frame" {frame} for every server frame after auth, "loggedout".
 * States: connecting, open, reconnecting, offline, closed. "offline" follows the browser's
 * network events, which say nothing about the socket: when the network returns, an open
 * socket is asked to prove it still works (probe) instead of waiting for a reconnect that
 * never comes because nothing closed.
 */
export class ChatSocket extends EventTarget {
  constructor({ url, getToken, tokenValidFor, refresh, resumePoints }) {
    super();
    this.url = resolveWsUrl(url);
    this.getToken = getToken;
    this.tokenValidFor = tokenValidFor;
    this.refresh = refresh;
    this.resumePoints = resumePoints; // () => {rooms: {roomId: eventSeq}, user_seq}
    this.ws = null;
    this.authed = false;
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
    this.authTimer = null;
    this.probeTimer = null;
    this.rooms = new Set(); // rooms to (re)join on every connection
    this.state = "closed";
    this._onOnline = () => this.networkBack();
    this._onOffline = () => this.setState("offline", "You are offline");
  }

  setState(state, detail = "") {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, detail } }));
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this._onOnline);
    window.addEventListener("offline", this._onOffline);
    this.connect();
  }

  /** Close for good (logout, page leaving). */
  stop(reason = "bye") {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.authTimer);
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        ws.close(1000, reason);
      } catch {
        /* already closed */
      }
    }
    this.authed = false;
    this.setState("closed");
  }

  /** The browser says the network is back. */
  networkBack() {
    if (this.authed) return this.probe();
    if (this.state === "offline" || this.state === "reconnecting") this.connectNow();
  }

  /**
   * Any frame that arrives after this one proves the socket alive (see onFrame); silence
   * closes it, and the usual reconnect follows. A presence query is answered whether or not
   * the room is joined (a snapshot or not_joined); with no room to name there is nothing to
   * ask, and the socket counts as open.
   */
  probe() {
    const [roomId] = this.rooms;
    if (roomId === undefined) return this.setState("open");
    if (this.probeTimer) return;
    const ws = this.ws;
    this.probeTimer = setTimeout(() => ws.close(4000, "no answer after the network returned"), PROBE_TIMEOUT_MS);
    this.sendRaw({ type: CLIENT_FRAMES.PRESENCE, room_id: roomId, ref: PROBE_REF });
  }

  probeAnswered() {
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.setState("open");
  }

  connectNow() {
    clearTimeout(this.timer);
    if (!this.stopped && !this.ws) this.connect();
  }

  async connect() {
    if (this.stopped || this.ws) return;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    try {
      if (!this.getToken() || this.tokenValidFor() < 10_000) await this.refresh();
    } catch (err) {
      if (err && (err.status === 401 || err.status === 403)) return this.loggedOut();
      return this.scheduleReconnect(); // API unreachable: try again later
    }
    if (this.stopped || this.ws) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.warn("websocket failed", err);
      return this.scheduleReconnect();
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      ws.send(JSON.stringify(this.authFrame()));
      this.authTimer = setTimeout(() => ws.close(4000, "auth timeout"), AUTH_TIMEOUT_MS);
    });
    ws.addEventListener("message", (ev) => {
      if (ws === this.ws) this.onFrame(ev.data);
    });
    ws.addEventListener("close", (ev) => {
      if (ws === this.ws) this.onClose(ev);
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  authFrame() {
    // The wire version this page speaks; auth_ok says which one the gateway serves.
    return { type: CLIENT_FRAMES.AUTH, token: this.getToken(), protocol: PROTOCOL_VERSION };
  }

  onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (this.probeTimer) this.probeAnswered();
    if (frame.ref === PROBE_REF) return; // the probe's own answer: nobody else asked
    switch (frame.type) {
      case SERVER_FRAMES.AUTH_OK: {
        const first = !this.authed;
        clearTimeout(this.authTimer);
        this.authed = true;
        this.attempt = 0;
        if (first) this.afterAuth(frame);
        return;
      }
      case SERVER_FRAMES.REAUTH_REQUIRED:
        this.reauth();
        return;
      default:
        this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    }
  }

  /**
   * Rooms the page holds up to a cursor are resumed from it (their missed events replayed),
   * the others joined; the user stream resumes from its cursor too (none on the first
   * connection: auth_ok's user_seq is where it starts).
   */
  afterAuth(authOk) {
    this.setState("open");
    const { rooms: cursors, user_seq: userSeq } = this.resumePoints();
    const rooms = {};
    for (const id of this.rooms) {
      if (String(id) in cursors) rooms[String(id)] = cursors[String(id)];
      else this.sendRaw({ type: CLIENT_FRAMES.JOIN, room_id: id });
    }
    const resume = { type: CLIENT_FRAMES.RESUME, rooms };
    if (userSeq !== null && userSeq !== undefined) resume.user_seq = userSeq;
    if (Object.keys(rooms).length || "user_seq" in resume) this.sendRaw(resume);
    this.dispatchEvent(new CustomEvent("ready", { detail: authOk }));
  }

  async reauth() {
    try {
      await this.refresh();
      this.sendRaw(this.authFrame());
    } catch (err) {
      if (err && (err.status === 401 || err.status === 403)) this.loggedOut();
      // Otherwise the grace period may still save us on the next refresh timer.
    }
  }

  onClose(ev) {
    clearTimeout(this.authTimer);
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.ws = null;
    const wasAuthed = this.authed;
    this.authed = false;
    if (this.stopped) return;
    const reason = String(ev.reason || "");
    if (ev.code === CLOSE_CODES.POLICY) {
      if (/revok/i.test(reason)) return this.loggedOut();
      // Policy close: maybe our token expired. A failing refresh means we are signed out.
      this.refresh().then(
        () => this.scheduleReconnect(),
        (err) => (err && (err.status === 401 || err.status === 403) ? this.loggedOut() : this.scheduleReconnect()),
      );
      return;
    }
    if ((ev.code === CLOSE_CODES.GOING_AWAY || ev.code === CLOSE_CODES.SERVICE_RESTART) && wasAuthed) {
      // Server draining: reconnect soon (jittered so replicas are not stampeded).
      return this.scheduleReconnect(1000);
    }
    this.scheduleReconnect();
  }

  scheduleReconnect(capMs = null) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = capMs === null ? backoffDelay(this.attempt) : Math.floor(Math.random() * capMs);
    this.attempt += 1;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting", `retrying in ${Math.ceil(delay / 1000)}s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  loggedOut() {
    this.stop("logged out");
    this.dispatchEvent(new Event("loggedout"));
  }

  sendRaw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send an application frame; false when not connected + authenticated. */
  send(frame) {
    return this.authed ? this.sendRaw(frame) : false;
  }

  join(roomId) {
    const id = Number(roomId);
    if (this.rooms.has(id)) return; // already joined (or will be, right after auth)
    this.rooms.add(id);
    this.send({ type: CLIENT_FRAMES.JOIN, room_id: id });
  }

  leave(roomId) {
    this.rooms.delete(Number(roomId));
    this.send({ type: CLIENT_FRAMES.LEAVE, room_id: Number(roomId) });
  }
}
