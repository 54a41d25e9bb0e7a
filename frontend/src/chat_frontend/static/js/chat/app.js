// The chat page's controllers, wired once: who owns which server frames (frame-router.js),
// what each does when the socket is (re)authenticated, and the socket's state in the store.
import { frameTable, routeFrames } from "./frame-router.js";
import { HistoryController } from "./history-controller.js";
import { MessagesController } from "./messages-controller.js";
import { PresenceController } from "./presence-controller.js";
import { ReadMarkers } from "./reads.js";
import { RoomsController } from "./rooms-controller.js";
import { UsersController } from "./users.js";

export function startChat({ store, socket, api }) {
  const reads = new ReadMarkers({ store, api });
  const users = new UsersController({ store, api });
  const history = new HistoryController({ store, socket, api });
  const rooms = new RoomsController({ store, socket, api, reads, history });
  const presence = new PresenceController({ store, socket, users, rooms });
  const messages = new MessagesController({ store, socket, api, reads, history, rooms, presence });

  routeFrames(socket, frameTable(history.frames(), messages.frames(), presence.frames()));
  socket.addEventListener("state", (ev) => store.setConnection(ev.detail.state, ev.detail.detail));
  socket.addEventListener("ready", () => {
    reads.flush(); // markers that could not be sent while we were away
    history.onReady();
    messages.onReady();
    presence.onReady();
    rooms.onReady();
  });
  return { reads, users, history, rooms, messages, presence };
}
