// Left column: my rooms and DMs with unread badges, the public room browser, user search.
import { LIMITS } from "../protocol.js";
import { displayName, unread as unreadCount } from "../selectors.js";
import { el, errorText, plural, showMessage } from "../ui.js";

export function roomLabel(store, rs) {
  if (rs.room.kind !== "dm") return rs.room.name;
  // A DM is named after the other person (by their name now) once we know the members.
  for (const id of rs.members.keys()) if (id !== store.me?.id) return displayName(store, id);
  return rs.room.name || "Direct message";
}

export class SidebarView {
  constructor({ store, api, nodes, actions }) {
    this.store = store;
    this.api = api;
    this.n = nodes; // {roomList, dmList, browser, publicList, createForm, createName, createKind, createError, searchForm, searchInput, searchResults}
    this.actions = actions; // {open(roomId), joined(room), leave(roomId), dm(userId), found(users)}
    this.searchTimer = null;

    this.n.createForm.addEventListener("submit", (ev) => this.createRoom(ev));
    this.n.searchInput.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(), 250);
    });
    this.n.searchForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.search();
    });
  }

  render() {
    const rooms = [];
    const dms = [];
    for (const rs of this.store.rooms.values()) (rs.room.kind === "dm" ? dms : rooms).push(rs);
    const byName = (a, b) => roomLabel(this.store, a).localeCompare(roomLabel(this.store, b));
    this.n.roomList.replaceChildren(...rooms.sort(byName).map((rs) => this.item(rs)));
    this.n.dmList.replaceChildren(...dms.sort(byName).map((rs) => this.item(rs)));
    if (!rooms.length) this.n.roomList.append(el("li", { class: "muted small empty", text: "No rooms yet — browse or create one." }));
  }

  item(rs) {
    const active = this.store.activeRoomId === rs.room.id;
    const unread = active ? 0 : unreadCount(this.store, rs.room.id);
    const count = rs.room.member_count ?? rs.members.size;
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: `room-item${active ? " active" : ""}${unread ? " has-unread" : ""}`,
          testid: "room-item",
          title: `${roomLabel(this.store, rs)} · ${plural(count, "member")}`,
          dataset: { roomId: String(rs.room.id), kind: rs.room.kind, unread: String(unread), memberCount: String(count) },
          "aria-current": active ? "true" : null,
          onclick: () => this.actions.open(rs.room.id),
        },
        el("span", { class: "room-kind", text: rs.room.kind === "private" ? "🔒" : rs.room.kind === "dm" ? "@" : "#" }),
        el("span", { class: "room-name", testid: "room-name", text: roomLabel(this.store, rs) }),
        unread ? el("span", { class: "badge", testid: "room-unread", text: unread > 99 ? "99+" : String(unread) }) : null,
      ),
    );
  }

  // ---- public room browser ----------------------------------------------------
  async openBrowser() {
    this.n.browser.hidden = false;
    showMessage(this.n.createError, "");
    this.n.createName.focus();
    await this.refreshPublic();
  }

  closeBrowser() {
    this.n.browser.hidden = true;
  }

  async refreshPublic() {
    try {
      const rooms = await this.api.publicRooms();
      this.n.publicList.replaceChildren(...rooms.map((room) => this.publicItem(room)));
      if (!rooms.length) this.n.publicList.append(el("li", { class: "muted", text: "No public rooms yet." }));
    } catch (err) {
      showMessage(this.n.createError, errorText(err));
    }
  }

  publicItem(room) {
    const member = this.store.rooms.has(room.id);
    const button = member
      ? el("button", { type: "button", class: "small secondary", testid: "public-room-leave", text: "Leave", onclick: () => this.leave(room) })
      : el("button", { type: "button", class: "small", testid: "public-room-join", text: "Join", onclick: () => this.join(room) });
    return el(
      "li",
      { class: "public-room", testid: "public-room-item", dataset: { roomId: String(room.id), member: String(member) } },
      el("span", { class: "room-name", testid: "public-room-name", text: room.name }),
      el("span", { class: "muted small", testid: "public-room-members", text: plural(room.member_count ?? 0, "member") }),
      member ? el("button", { type: "button", class: "small", testid: "public-room-open", text: "Open", onclick: () => this.open(room) }) : null,
      button,
    );
  }

  open(room) {
    this.closeBrowser();
    this.actions.open(room.id);
  }

  async join(room) {
    try {
      const joined = await this.api.joinRoom(room.id);
      this.actions.joined(joined || room);
      this.closeBrowser();
    } catch (err) {
      showMessage(this.n.createError, errorText(err));
    }
  }

  async leave(room) {
    try {
      await this.actions.leave(room.id);
      await this.refreshPublic();
    } catch (err) {
      showMessage(this.n.createError, errorText(err));
    }
  }

  async createRoom(ev) {
    ev.preventDefault();
    const name = this.n.createName.value.trim();
    if (!name) return showMessage(this.n.createError, "Give the room a name.");
    if (name.length > LIMITS.NAME_MAX) return showMessage(this.n.createError, `Room names are at most ${LIMITS.NAME_MAX} characters.`);
    showMessage(this.n.createError, "");
    try {
      const room = await this.api.createRoom(name, this.n.createKind.value);
      this.n.createName.value = "";
      this.actions.joined(room);
      this.closeBrowser();
    } catch (err) {
      showMessage(this.n.createError, errorText(err));
    }
  }

  // ---- user search -> DM ------------------------------------------------------------
  async search() {
    const q = this.n.searchInput.value.trim().toLowerCase();
    if (!q) return this.n.searchResults.replaceChildren();
    try {
      const users = await this.api.searchUsers(q);
      this.actions.found(users);
      const others = users.filter((u) => u.id !== this.store.me?.id);
      this.n.searchResults.replaceChildren(
        ...others.map((u) =>
          el(
            "li",
            {},
            el(
              "button",
              { type: "button", class: "link", testid: "dm-search-result", dataset: { userId: String(u.id) }, onclick: () => this.actions.dm(u.id) },
              el("span", { text: u.display_name || u.username }),
              el("span", { class: "muted small", text: ` @${u.username}` }),
            ),
          ),
        ),
      );
      if (!others.length) this.n.searchResults.append(el("li", { class: "muted small", text: "Nobody found." }));
    } catch (err) {
      this.n.searchResults.replaceChildren(el("li", { class: "form-error", text: errorText(err) }));
    }
  }

  clearSearch() {
    this.n.searchInput.value = "";
    this.n.searchResults.replaceChildren();
  }
}
