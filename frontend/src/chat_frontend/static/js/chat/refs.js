// Request/response over the socket: a frame carries a fresh `ref`, the gateway echoes it
// in the matching ack/nack/error.
import { SERVER_FRAMES } from "../protocol.js";

export class RefRequests {
  constructor(socket, timeoutMs) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.waiting = new Map(); // ref -> {resolve, reject, timer}
    this.next = 0;
  }

  /** Resolve with the ack's `message`; reject on nack/error/timeout. Not connected: fallback(). */
  request(frame, fallback) {
    this.next += 1;
    const ref = `r${this.next}`;
    if (!this.socket.send({ ...frame, ref })) return fallback();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ref);
        reject(new Error("no answer from the server"));
      }, this.timeoutMs);
      this.waiting.set(ref, { resolve, reject, timer });
    });
  }

  /** Hand a server frame to its waiter; false when nobody waits for that ref. */
  settle(frame) {
    const waiter = this.waiting.get(frame.ref);
    if (!waiter) return false;
    this.waiting.delete(frame.ref);
    clearTimeout(waiter.timer);
    if (frame.type === SERVER_FRAMES.ACK) waiter.resolve(frame.message);
    else waiter.reject(new Error(frame.error || frame.message || "refused"));
    return true;
  }
}
