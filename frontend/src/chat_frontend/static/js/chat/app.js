// The chat page's controllers, wired once: who owns which server frames and which event
// kinds (frame-router.js), what each does when the socket is (re)authenticated, and the
// socket's state in the store.
import { eventTable, frameTable, routeFrames } from "./frame-router.js";
import { HistoryController } from "./history-controller.js";
import { MessagesController } from "./messages-controller.js";
import { PresenceController } from "./presence-controller.js";
import { ReadMarkers } from "./reads.js";
import { RoomsController } from "./rooms-controller.js";
import { StreamSync } from "./sync.js";
import { UsersController } from "./users.js";

export function startChat({ store, socket, api }) {
  const sync = new StreamSync({ store, socket, api });
  const reads = new ReadMarkers({ store, api });
  const users = new UsersController({ store, api });
  const history = new HistoryController({ store, api, sync });
  const rooms = new RoomsController({ store, socket, api, reads, history });
  const presence = new PresenceController({ store, socket, users });
  const messages = new MessagesController({ store, socket, api, reads, presence, sync });

  sync.route(eventTable(messages.events(), rooms.events(), users.events(), reads.events()));
  routeFrames(socket, frameTable(sync.frames(), rooms.frames(), messages.frames(), presence.frames()));
  socket.addEventListener("state", (ev) => store.setConnection(ev.detail.state, ev.detail.detail));
  socket.addEventListener("ready", (ev) => {
    sync.onReady(ev.detail); // before anything reads the user stream's cursor
    reads.flush(); // markers that could not be sent while we were away
    messages.onReady();
    presence.onReady();
    rooms.onReady();
  });
  return { reads, users, history, rooms, messages, presence };
}
