// Server frames to their handlers, wired once (centrifugo's handler table): each controller
// declares the frame types it answers, keyed by the generated SERVER_FRAMES names, and the
// event kinds it applies (`event` and `user_event` frames), keyed by EVENTS. A name
// protocol.js does not know, one claimed twice, or one nobody claims stops the page at
// start-up instead of a frame or an event being dropped or handled twice later.
import { EVENTS, SERVER_FRAMES } from "../protocol.js";

// socket.js answers these itself (the auth handshake): they never reach the page.
const TRANSPORT = new Set([SERVER_FRAMES.AUTH_OK, SERVER_FRAMES.REAUTH_REQUIRED]);
const PAGE_FRAMES = new Set(Object.values(SERVER_FRAMES).filter((t) => !TRANSPORT.has(t)));
// The gateway's own canary: never sent to a socket.
const PAGE_EVENTS = new Set(Object.values(EVENTS).filter((k) => k !== EVENTS.PROBE));

function merge(known, what, tables) {
  const table = new Map();
  for (const part of tables) {
    for (const [name, handler] of Object.entries(part)) {
      if (!known.has(name)) throw new Error(`not a page ${what}: ${name}`);
      if (table.has(name)) throw new Error(`two handlers for ${name} ${what}s`);
      table.set(name, handler);
    }
  }
  return table;
}

function complete(table, known, what) {
  const missing = [...known].filter((name) => !table.has(name));
  if (missing.length) throw new Error(`no handler for ${what}s: ${missing.join(", ")}`);
  return table;
}

/** One table from each controller's `{[SERVER_FRAMES.X]: (frame) => ...}`. */
export function frameTable(...tables) {
  return merge(PAGE_FRAMES, "frame", tables);
}

/** One table from each controller's `{[EVENTS.X]: (frame) => ...}`; every kind claimed. */
export function eventTable(...tables) {
  return complete(merge(PAGE_EVENTS, "event", tables), PAGE_EVENTS, "event");
}

/** Every frame the socket delivers goes to its handler; every page frame type has one. */
export function routeFrames(socket, table) {
  complete(table, PAGE_FRAMES, "frame");
  socket.addEventListener("frame", (ev) => table.get(ev.detail.type)?.(ev.detail));
}
