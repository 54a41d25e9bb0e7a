// Chat page bootstrap: restore the session, wire store + socket + views.
import { api, getToken, logout, onAuthChange, refresh, restoreSession, tokenValidFor } from "../api.js";
import { ChatController } from "../chat/controller.js";
import { MembersView } from "../chat/members-view.js";
import { MessagesView } from "../chat/messages-view.js";
import { roomLabel, SidebarView } from "../chat/sidebar-view.js";
import { config } from "../config.js";
import { ChatSocket } from "../socket.js";
import { Store } from "../store.js";
import { $, errorText, plural } from "../ui.js";

const STATE_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline — waiting for the network",
  closed: "Disconnected",
};
const ROOM_POLL_MS = 30_000;

function goLogin(reason) {
  const next = reason ? `?reason=${encodeURIComponent(reason)}` : "";
  window.location.assign(`/login${next}`);
}

async function main() {
  const app = $("app");
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
  store.me = user;
  store.rememberUsers([user]);
  $("current-user").textContent = user.display_name || user.username;

  const socket = new ChatSocket({
    url: config.wsUrl,
    getToken,
    tokenValidFor,
    refresh,
    resumePoints: () => store.resumePoints(),
  });

  const status = $("connection-status");
  const banner = (text, state) => {
    status.textContent = text;
    status.dataset.state = state;
  };
  socket.addEventListener("state", (ev) => {
    const { state, detail } = ev.detail;
    banner(detail && state !== "open" ? `${STATE_TEXT[state]} (${detail})` : STATE_TEXT[state], state);
  });

  const roomView = {
    show(rs) {
      const has = Boolean(rs);
      $("no-room-selected").hidden = has;
      $("room-head").hidden = !has;
      $("message-scroller").hidden = !has;
      $("composer-form").hidden = !has;
      $("typing-indicator").textContent = "";
      if (has) this.title(rs);
      else document.title = "Chat";
      app.classList.remove("show-sidebar");
    },
    title(rs) {
      const label = roomLabel(store, rs);
      $("room-title").textContent = label;
      // The tab names the open room: "#general · Chat", a DM by the other person's name.
      document.title = `${rs.room.kind === "dm" ? "" : "#"}${label} · Chat`;
      const kind = { public: "public room", private: "private room", dm: "direct message" }[rs.room.kind] || rs.room.kind;
      $("room-meta").textContent = `${kind} · ${plural(rs.room.member_count ?? rs.members.size, "member")}`;
      $("leave-room-button").hidden = rs.room.kind === "dm";
    },
  };

  // Controller actions are bound lazily: the views are built before the controller.
  let ctl;
  const messages = new MessagesView({
    store,
    scroller: $("message-scroller"),
    list: $("message-list"),
    loadingNote: $("history-loading"),
    startNote: $("history-start"),
    actions: {
      edit: (m, c) => ctl.edit(m, c),
      remove: (m) => ctl.remove(m),
      retry: (p) => ctl.retry(p),
      loadOlder: () => ctl.loadOlder(),
      userNeeded: (id) => ctl.userNeeded(id),
    },
  });
  const report = (err) => banner(errorText(err), "error");
  const sidebar = new SidebarView({
    store,
    api,
    nodes: {
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
    },
    actions: {
      open: (id) => ctl.open(id).catch(report),
      joined: (room) => ctl.joined(room).catch(report),
      leave: (id) => ctl.leave(id),
      dm: (userId) => ctl.dm(userId).catch(report),
    },
  });
  const members = new MembersView({
    store,
    list: $("member-list"),
    count: $("online-count"),
    actions: { dm: (userId) => ctl.dm(userId).catch(report) },
  });
  ctl = new ChatController({ store, socket, views: { messages, sidebar, members, room: roomView }, banner });

  // One render pass per animation frame, however many store changes arrived.
  const dirty = new Set();
  let scheduled = false;
  store.addEventListener("change", (ev) => {
    dirty.add(ev.detail.kind);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        const kinds = new Set(dirty);
        dirty.clear();
        const rs = store.room(store.activeRoomId);
        // Badges derive from the messages held (store.unread), so messages re-render them.
        if (kinds.has("rooms") || kinds.has("members") || kinds.has("messages")) {
          sidebar.render();
          if (rs) roomView.title(rs);
        }
        if (kinds.has("messages") || kinds.has("users")) messages.render();
        if (kinds.has("members") || kinds.has("presence") || kinds.has("users")) members.render();
        if (kinds.has("typing") || kinds.has("users")) renderTyping();
      });
    }
  });

  const typingNode = $("typing-indicator");
  function renderTyping() {
    const ids = store.typingUsers(store.activeRoomId);
    const names = ids.map((id) => store.displayName(id));
    typingNode.textContent = !names.length
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
  }
  setInterval(renderTyping, 1000); // expire indicators

  // Composer: Enter sends, Shift+Enter is a newline.
  const input = $("composer-input");
  $("composer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (ctl.send(input.value)) input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("composer-form").requestSubmit();
    }
  });
  input.addEventListener("input", () => ctl.typing());

  $("open-room-browser").addEventListener("click", () => sidebar.openBrowser());
  $("close-room-browser").addEventListener("click", () => sidebar.closeBrowser());
  $("room-browser").addEventListener("click", (ev) => ev.target === ev.currentTarget && sidebar.closeBrowser());
  document.addEventListener("keydown", (ev) => ev.key === "Escape" && sidebar.closeBrowser());
  $("leave-room-button").addEventListener("click", () => store.activeRoomId && ctl.leave(store.activeRoomId).catch(report));
  for (const [button, cls] of [["toggle-sidebar", "show-sidebar"], ["toggle-members", "show-members"]]) {
    $(button).addEventListener("click", () => {
      const on = app.classList.toggle(cls);
      $(button).setAttribute("aria-expanded", String(on));
    });
  }
  // A marker is never lost: hidden or closed tabs send what they showed, the network coming
  // back sends what failed.
  document.addEventListener("visibilitychange", () => (document.visibilityState === "visible" ? ctl.showRead() : ctl.reads.flush()));
  window.addEventListener("pagehide", () => ctl.reads.flush({ keepalive: true }));
  window.addEventListener("online", () => ctl.reads.flush());

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

  try {
    await ctl.loadRooms();
  } catch (err) {
    report(err);
  }
  socket.start();
  setInterval(() => ctl.loadRooms().catch(() => {}), ROOM_POLL_MS);
  const fromHash = Number(new URLSearchParams(window.location.hash.slice(1)).get("room"));
  if (fromHash && store.room(fromHash)) await ctl.open(fromHash);
  else roomView.show(null);
  app.dataset.ready = "true";
}

main();
