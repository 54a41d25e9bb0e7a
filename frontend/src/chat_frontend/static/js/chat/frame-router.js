// Server frames to their handlers, wired once (centrifugo's handler table): each controller
// declares the frame types it answers, keyed by the generated SERVER_FRAMES names. A type
// no SERVER_FRAMES entry names, or one claimed twice, stops the page at start-up instead of
// a frame being dropped or handled twice later.
import { SERVER_FRAMES } from "../protocol.js";

// socket.js answers these itself (the auth handshake): they never reach the page.
const TRANSPORT = new Set([SERVER_FRAMES.AUTH_OK, SERVER_FRAMES.REAUTH_REQUIRED]);
const KNOWN = new Set(Object.values(SERVER_FRAMES));

/** One table from each controller's `{[SERVER_FRAMES.X]: (frame) => ...}`. */
export function frameTable(...tables) {
  const table = new Map();
  for (const part of tables) {
    for (const [type, handler] of Object.entries(part)) {
      if (!KNOWN.has(type) || TRANSPORT.has(type)) throw new Error(`not a page frame: ${type}`);
      if (table.has(type)) throw new Error(`two handlers for ${type} frames`);
      table.set(type, handler);
    }
  }
  return table;
}

/** Every frame the socket delivers goes to its handler; types with none are ignored. */
export function routeFrames(socket, table) {
  socket.addEventListener("frame", (ev) => table.get(ev.detail.type)?.(ev.detail));
}
