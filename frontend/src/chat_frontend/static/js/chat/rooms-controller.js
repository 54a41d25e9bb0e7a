// Rooms and their members: the room list (on load, on every reconnect, on a timer), opening
// one, joining, leaving, direct messages, and re-reading members when strangers show up.
import { CLIENT_FRAMES } from "../protocol.js";

export class RoomsController {
  constructor({ store, socket, api, reads, history }) {
    this.store = store;
    this.socket = socket;
    this.api = api; // {rooms(), members(id), leaveRoom(id), openDm(userId)}
    this.reads = reads;
    this.history = history;
    this.membersReload = null; // one members re-read at a time
  }

  /** Unread counts and rooms we were added to while away. */
  onReady() {
    this.loadRooms().catch(() => {});
  }

  async loadRooms() {
    this.store.setRooms(await this.api.rooms());
    for (const rs of this.store.rooms.values()) {
      this.reads.recountIfStale(rs.room.id);
      this.socket.join(rs.room.id);
      // A DM is named after the other person, so its members are needed for the sidebar.
      if (rs.room.kind === "dm" && !rs.members.size) this.loadMembers(rs.room.id).catch(() => {});
    }
  }

  async loadMembers(roomId) {
    this.store.setMembers(roomId, await this.api.members(roomId));
  }

  async open(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    const id = rs.room.id;
    // What the last room showed goes to the server now, not after a debounce it could lose.
    this.reads.flush();
    this.store.setActiveRoom(id);
    this.reads.showActive(); // a room whose history we hold is on screen now
    this.socket.join(id);
    this.socket.send({ type: CLIENT_FRAMES.PRESENCE, room_id: id });
    const tasks = [this.loadMembers(id)];
    if (!rs.loaded) tasks.push(this.history.loadNewest(id).then(() => this.reads.showActive()));
    await Promise.allSettled(tasks);
  }

  joined(room) {
    this.store.upsertRoom(room);
    this.socket.join(room.id);
    return this.open(room.id);
  }

  async leave(roomId) {
    await this.api.leaveRoom(roomId);
    this.socket.leave(roomId);
    this.store.removeRoom(roomId);
  }

  async dm(userId) {
    await this.joined(await this.api.openDm(userId));
  }

  /** Someone we do not list is online or wrote here: they joined, re-read the members. */
  membersMayHaveChanged(roomId, userIds) {
    const rs = this.store.room(roomId);
    if (!rs || rs.room.id !== this.store.activeRoomId || this.membersReload) return;
    if (!userIds.some((id) => !rs.members.has(id))) return;
    this.membersReload = this.loadMembers(rs.room.id)
      .catch(() => {})
      .finally(() => {
        this.membersReload = null;
      });
  }
}
