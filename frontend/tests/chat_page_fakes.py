"""The chat page's wiring (chat/app.js) over a fake socket and a fake API, for the protocol
tests in Chromium: `SETUP` imports the modules and puts the fakes and frame builders on
`window` (the `js` fixture evaluates a test module's `SETUP`)."""

SETUP = """
window.__t = (async () => {
  const { Store } = await import('/static/js/store.js');
  const sel = await import('/static/js/selectors.js');
  const { startChat } = await import('/static/js/chat/app.js');
  const { eventTable, frameTable, routeFrames } = await import('/static/js/chat/frame-router.js');
  const { ChatSocket } = await import('/static/js/socket.js');
  const room = (id, extra = {}) => ({
    id, name: 'r' + id, kind: 'public', topic: '', created_at: '2024-05-01T10:00:00Z',
    last_seq: 0, last_read_seq: 0, unread: 0, event_seq: 0, member_count: 2, ...extra,
  });
  const msg = (seq, extra = {}) => ({
    id: 100 + seq, room_id: 7, seq, version: seq, sender_id: 2, content: 'm' + seq,
    client_msg_id: null, created_at: '2024-05-01T10:00:00Z', edited_at: null, deleted: false,
    ...extra,
  });
  const user = (id, name) => ({ id, username: 'u' + id, display_name: name });
  // Frames as the gateway builds them (chat_contracts.server_frames).
  const f = {
    joined: (room_id, event_seq) => ({ type: 'joined', room_id, event_seq, last_seq: 0 }),
    fetched: (room_id, event_seq) => ({ type: 'fetched', room_id, event_seq }),
    message: (event, m, extra = {}) => ({
      type: 'event', event, room_id: m.room_id, event_seq: m.version, seq: m.seq, message: m,
      ...extra,
    }),
    room: (event, room_id, event_seq, data, extra = {}) => ({
      type: 'event', event, room_id, event_seq, data, ...extra,
    }),
    // member.* of user `id` in room 7, `n` members after it.
    member: (event, event_seq, id, n) => f.room(event, 7, event_seq,
      { user: user(id, 'U' + id), actor_id: id, member_count: n }),
    renamed: (event_seq, name, topic = '') => f.room('room.updated', 7, event_seq,
      { id: 7, name, topic, actor_id: 2 }),
    replay: (event, m) => f.message(event, m, { replay: true }),
    user: (event, user_seq, data) => ({ type: 'user_event', event, user_seq, data }),
    // read.moved's data (and the PUT answer) for room 7, counted at room head `head`.
    read: (last_read_seq, unread, head) =>
      ({ room_id: 7, last_read_seq, unread, last_seq: head, event_seq: head }),
  };
  class Socket extends EventTarget {
    constructor() { super(); this.sent = []; this.up = true; this.rooms = new Set(); }
    send(frame) { if (this.up) this.sent.push(frame); return this.up; }
    join(id) { this.rooms.add(Number(id)); }
    leave(id) { this.rooms.delete(Number(id)); }
    frame(frame) { this.dispatchEvent(new CustomEvent('frame', { detail: frame })); }
    ready(authOk) { this.dispatchEvent(new CustomEvent('ready', { detail: authOk })); }
  }
  // The API as recorded calls; `answers[name]` queues what a method answers next.
  const fakeApi = (defaults) => {
    const calls = [];
    const answers = {};
    const api = new Proxy({}, { get: (_, name) => (...args) => {
      calls.push([name, ...args]);
      const queue = answers[name];
      const v = queue && queue.length ? queue.shift() : defaults[name];
      return Promise.resolve(typeof v === 'function' ? v(...args) : v);
    } });
    return { api, calls, answers };
  };
  // The chat page's controllers over the fakes: me = user 1, in the rooms given.
  const chat = (rooms = [room(7)]) => {
    const store = new Store();
    store.setMe(user(1, 'Me'));
    store.setRooms(rooms);
    const socket = new Socket();
    for (const r of rooms) socket.join(r.id);
    const { api, calls, answers } = fakeApi({
      rooms: () => rooms, room: (id) => rooms.find((r) => r.id === id), members: [],
      messages: { messages: [], has_more: false }, markRead: null, updateRoom: null,
      roomEvents: { events: [], head: 0, has_more: false }, user: (id) => user(id, 'User ' + id),
    });
    const c = startChat({ store, socket, api });
    return { store, socket, api, calls, answers, c, rs: () => store.room(7) };
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));
  Object.assign(window, {
    Store, sel, startChat, eventTable, frameTable, routeFrames, ChatSocket,
    room, msg, user, f, Socket, fakeApi, chat, tick,
  });
})();
"""
