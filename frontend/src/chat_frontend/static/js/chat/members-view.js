// Right column: the active room's members, online ones first, each with a DM button.
import { members as memberList } from "../selectors.js";
import { el } from "../ui.js";

export class MembersView {
  constructor({ store, list, count, actions }) {
    this.store = store;
    this.list = list;
    this.count = count;
    this.actions = actions; // {dm(userId)}
  }

  render() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs) {
      this.list.replaceChildren();
      this.count.textContent = "";
      return;
    }
    const members = memberList(this.store, rs.room.id);
    const online = (u) => rs.online.has(u.id);
    members.sort((a, b) => Number(online(b)) - Number(online(a)) || (a.display_name || a.username).localeCompare(b.display_name || b.username));
    this.count.textContent = `${members.filter(online).length} online`;
    this.list.replaceChildren(
      ...members.map((u) => {
        const me = u.id === this.store.me?.id;
        return el(
          "li",
          { class: `member${online(u) ? " online" : ""}`, testid: "member-item", dataset: { userId: String(u.id), online: String(online(u)) } },
          el("span", { class: "dot", testid: "member-online", "aria-label": online(u) ? "online" : "offline", title: online(u) ? "online" : "offline" }),
          el("span", { class: "member-name", testid: "member-name", text: u.display_name || u.username }),
          me
            ? el("span", { class: "muted small", text: "(you)" })
            : el("button", { type: "button", class: "link small", testid: "member-dm", title: "Direct message", text: "Message", onclick: () => this.actions.dm(u.id) }),
        );
      }),
    );
  }
}
