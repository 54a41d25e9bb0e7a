// Rooms and their members: the room list (on load, on every reconnect, on a timer), opening
// one, joining, leaving, renaming, direct messages, and the events that change them live:
// member.* and room.updated on the room's stream, room.added/removed on ours.
import { CLIENT_FRAMES, EVENTS, SERVER_FRAMES } from "../protocol.js";

export class RoomsController {
  constructor({ store, socket, api, reads, history }) {
    this.store = store;
    this.socket = socket;
    this.api = api; // {rooms(), room(id), members(id), leaveRoom(id), openDm(userId), updateRoom(id, patch)}
    this.reads = reads;
    this.history = history;
  }

  frames() {
    return {
      [SERVER_FRAMES.RESET]: (f) => this.onReset(Number(f.room_id), Number(f.event_seq)),
      // The answer to our `leave`: the room has left the page already.
      [SERVER_FRAMES.LEFT]: () => {},
    };
  }

  events() {
    const member = (present) => (f) => this.onMember(f, present);
    return {
      [EVENTS.MEMBER_JOINED]: member(true),
      [EVENTS.MEMBER_INVITED]: member(true),
      [EVENTS.MEMBER_LEFT]: member(false),
      [EVENTS.MEMBER_REMOVED]: member(false),
      [EVENTS.ROOM_UPDATED]: (f) => this.store.roomUpdated(Number(f.room_id), Number(f.event_seq), f.data || {}),
      [EVENTS.ROOM_ADDED]: (f) => this.added(f.data),
      [EVENTS.ROOM_REMOVED]: (f) => this.forget(Number(f.data?.room_id)),
    };
  }

  /** Unread counts and rooms we were added to while away. */
  onReady() {
    this.loadRooms().catch(() => {});
  }

  async loadRooms() {
    const asOf = this.store.generation;
    this.store.setRooms(await this.api.rooms(), { asOf });
    for (const id of [...this.socket.rooms]) if (!this.store.room(id)) this.socket.leave(id);
    for (const rs of this.store.rooms.values()) {
      this.reads.recountIfStale(rs.room.id);
      this.follow(rs.room.id);
    }
  }

  /** The socket follows the room; a DM is named after the other person, so its members are
   * needed for the sidebar. */
  follow(roomId) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    this.socket.join(rs.room.id);
    if (rs.room.kind === "dm" && !rs.membersLoaded) this.loadMembers(rs.room.id).catch(() => {});
  }

  async loadMembers(roomId) {
    const asOf = this.store.generation;
    this.store.setMembers(roomId, await this.api.members(roomId), { asOf });
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
    this.forget(roomId);
  }

  async dm(userId) {
    await this.joined(await this.api.openDm(userId));
  }

  /** PATCH /api/rooms/{id}: a new name and/or topic (the others see room.updated). */
  async update(roomId, change) {
    this.store.refreshRoom(await this.api.updateRoom(roomId, change));
  }

  // ---- events ---------------------------------------------------------------------------------
  /** room.added: a DM someone opened with us, an invite, a room joined on another device. */
  added(room) {
    if (!room || !room.id) return;
    this.store.upsertRoom(room);
    this.follow(room.id);
  }

  /** We are no longer in the room (left here or elsewhere, or removed): it leaves the page. */
  forget(roomId) {
    if (!roomId) return;
    this.socket.leave(roomId);
    this.store.removeRoom(roomId);
  }

  onMember(f, present) {
    const roomId = Number(f.room_id);
    const data = f.data || {};
    this.store.memberEvent(roomId, Number(f.event_seq), data, present);
    if (!present && data.user?.id === this.store.me?.id) this.forget(roomId);
  }

  /** Too much was missed to replay: the messages, the count and the members are read again. */
  onReset(roomId, eventSeq) {
    const rs = this.store.room(roomId);
    if (!rs) return;
    this.history.reset(roomId, eventSeq);
    this.api.room(roomId).then((room) => this.store.refreshRoom(room), () => {});
    if (rs.membersLoaded) this.loadMembers(roomId).catch(() => {});
  }
}
