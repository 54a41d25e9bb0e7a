// Chat page bootstrap: restore the session, build the store, socket, controllers and views,
// and bind the page's buttons. State changes only in store.js; views render what it emits.
import { api, getToken, logout, onAuthChange, refresh, restoreSession, tokenValidFor } from "../api.js";
import { startChat } from "../chat/app.js";
import { ComposerView } from "../chat/composer-view.js";
import { MembersView } from "../chat/members-view.js";
import { MessagesView } from "../chat/messages-view.js";
import { Renderer } from "../chat/render.js";
import { RoomView } from "../chat/room-view.js";
import { SidebarView } from "../chat/sidebar-view.js";
import { StatusView } from "../chat/status-view.js";
import { TypingView } from "../chat/typing-view.js";
import { config } from "../config.js";
import { displayName, resumePoints } from "../selectors.js";
import { ChatSocket } from "../socket.js";
import { Store } from "../store.js";
import { $, errorText } from "../ui.js";

const ROOM_POLL_MS = 30_000;

function goLogin(reason) {
  const next = reason ? `?reason=${encodeURIComponent(reason)}` : "";
  window.location.assign(`/login${next}`);
}

async function main() {
  let user;
  try {
    user = await restoreSession();
  } catch {
    $("connection-status").textContent = "Cannot reach the server. Retrying…";
    setTimeout(main, 3000);
    return;
  }
  if (!user) return goLogin();

  const store = new Store();
  store.setMe(user);
  const socket = new ChatSocket({
    url: config.wsUrl,
    getToken,
    tokenValidFor,
    refresh,
    resumePoints: () => resumePoints(store),
  });
  const chat = startChat({ store, socket, api });
  const report = (err) => store.setNotice(errorText(err));
  const views = buildViews(store, chat, report);
  subscribe(new Renderer(store), store, views);
  bindPage(store, socket, chat, views, report);

  try {
    await chat.rooms.loadRooms();
  } catch (err) {
    report(err);
  }
  socket.start();
  setInterval(() => chat.rooms.loadRooms().catch(() => {}), ROOM_POLL_MS);
  const fromHash = Number(new URLSearchParams(window.location.hash.slice(1)).get("room"));
  if (fromHash && store.room(fromHash)) await chat.rooms.open(fromHash);
  $("app").dataset.ready = "true";
}

/** Every view gets the store to read and actions that go to a controller. */
function buildViews(store, chat, report) {
  const { messages, presence } = chat;
  // A DM opened from anywhere (search result, member list) ends the search.
  const dm = (userId) => chat.rooms.dm(userId).then(() => sidebar.clearSearch(), report);
  const sidebar = sidebarView(store, chat, report, dm);
  return {
    sidebar,
    room: roomView(store, chat),
    messages: messagesView(store, chat),
    members: new MembersView({ store, list: $("member-list"), count: $("online-count"), actions: { dm } }),
    typing: new TypingView({ store, node: $("typing-indicator") }),
    composer: new ComposerView({
      store,
      form: $("composer-form"),
      input: $("composer-input"),
      actions: { draft: (text) => messages.setDraft(text), typing: () => presence.typing(), send: () => messages.send() },
    }),
    status: new StatusView({ store, node: $("connection-status") }),
  };
}

function sidebarView(store, { rooms, users }, report, dm) {
  const nodes = {
    roomList: $("room-list"),
    dmList: $("dm-list"),
    browser: $("room-browser"),
    publicList: $("public-room-list"),
    createForm: $("create-room-form"),
    createName: $("create-room-name"),
    createKind: $("create-room-kind"),
    createError: $("create-room-error"),
    searchForm: $("dm-search-form"),
    searchInput: $("dm-search-input"),
    searchResults: $("dm-search-results"),
  };
  const actions = {
    open: (id) => rooms.open(id).catch(report),
    joined: (room) => rooms.joined(room).catch(report),
    leave: (id) => rooms.leave(id),
    dm,
    found: (list) => users.found(list),
  };
  return new SidebarView({ store, api, nodes, actions });
}

function roomView(store, { rooms }) {
  const nodes = {
    app: $("app"),
    empty: $("no-room-selected"),
    head: $("room-head"),
    scroller: $("message-scroller"),
    composer: $("composer-form"),
    title: $("room-title"),
    meta: $("room-meta"),
    topic: $("room-topic"),
    leave: $("leave-room-button"),
    edit: $("room-edit-button"),
    editForm: $("room-edit-form"),
    editName: $("room-edit-name"),
    editTopic: $("room-edit-topic"),
    editCancel: $("room-edit-cancel"),
    editError: $("room-edit-error"),
  };
  return new RoomView({ store, nodes, actions: { update: (id, change) => rooms.update(id, change) } });
}

function messagesView(store, { messages, history, users }) {
  return new MessagesView({
    store,
    scroller: $("message-scroller"),
    list: $("message-list"),
    loadingNote: $("history-loading"),
    startNote: $("history-start"),
    actions: {
      edit: (m, c) => messages.edit(m, c),
      remove: (m) => messages.remove(m),
      retry: (p) => messages.retry(p),
      loadOlder: () => history.loadOlder(),
      userNeeded: (id) => users.need(id),
    },
  });
}

/** Which store changes each view renders. The room view first: it unhides the list. */
function subscribe(renderer, store, v) {
  renderer.on(["active"], () => v.room.renderAddress(), { sync: true });
  // A DM is named after the other person: their name changes with "users".
  renderer.on(["active", "rooms", "members", "users"], () => v.room.render());
  // Badges derive from the messages held (unread), so messages re-render the sidebar.
  renderer.on(["active", "rooms", "members", "messages", "users"], () => v.sidebar.render());
  renderer.on(["users"], () => {
    $("current-user").textContent = displayName(store, store.me.id);
  });
  renderer.on(["active", "messages", "users"], () => v.messages.render());
  renderer.on(["active", "members", "presence", "users"], () => v.members.render());
  renderer.on(["active", "typing", "users"], () => v.typing.render());
  renderer.on(["active", "draft"], () => v.composer.render());
  renderer.on(["connection"], () => v.status.render());
}

function bindPage(store, socket, chat, views, report) {
  const { sidebar } = views;
  $("open-room-browser").addEventListener("click", () => sidebar.openBrowser());
  $("close-room-browser").addEventListener("click", () => sidebar.closeBrowser());
  $("room-browser").addEventListener("click", (ev) => ev.target === ev.currentTarget && sidebar.closeBrowser());
  document.addEventListener("keydown", (ev) => ev.key === "Escape" && sidebar.closeBrowser());
  $("leave-room-button").addEventListener("click", () => store.activeRoomId && chat.rooms.leave(store.activeRoomId).catch(report));
  for (const [button, cls] of [["toggle-sidebar", "show-sidebar"], ["toggle-members", "show-members"]]) {
    $(button).addEventListener("click", () => {
      const on = $("app").classList.toggle(cls);
      $(button).setAttribute("aria-expanded", String(on));
    });
  }
  // A marker is never lost: hidden or closed tabs send what they showed, the network coming
  // back sends what failed.
  const { reads } = chat;
  document.addEventListener("visibilitychange", () => (document.visibilityState === "visible" ? reads.showActive() : reads.flush()));
  window.addEventListener("pagehide", () => reads.flush({ keepalive: true }));
  window.addEventListener("online", () => reads.flush());
  bindSignOut(socket);
}

function bindSignOut(socket) {
  let leaving = false;
  $("logout-button").addEventListener("click", async () => {
    leaving = true;
    socket.stop("logout");
    try {
      await logout();
    } finally {
      goLogin();
    }
  });
  socket.addEventListener("loggedout", () => !leaving && goLogin("signed-out"));
  onAuthChange(({ token }) => {
    if (!token && !leaving) {
      leaving = true;
      socket.stop("signed out");
      goLogin("signed-out");
    }
  });
}

main();
