// The open room's frame: header (name, kind, member count, leave), which panes show, the
// tab title and the #room= address. Renders store.activeRoomId and that room's record.
import { plural } from "../ui.js";
import { roomLabel } from "./sidebar-view.js";

const KIND = { public: "public room", private: "private room", dm: "direct message" };

export class RoomView {
  constructor({ store, nodes }) {
    this.store = store;
    this.n = nodes; // {app, empty, head, scroller, composer, title, meta, leave}
    this.shown = undefined; // the room id last rendered (undefined: nothing rendered yet)
    this.addressed = undefined; // the room id the address bar names (same)
  }

  /** The address names the open room (a reload opens it again); "#" once it is left. */
  renderAddress() {
    const id = this.store.activeRoomId;
    if (id === this.addressed) return;
    if (id !== null) window.history.replaceState(null, "", `#room=${id}`);
    else if (this.addressed !== undefined) window.history.replaceState(null, "", "#");
    this.addressed = id;
  }

  render() {
    const rs = this.store.room(this.store.activeRoomId);
    const id = rs ? rs.room.id : null;
    if (id !== this.shown) this.switched(rs);
    if (rs) this.header(rs);
  }

  switched(rs) {
    const has = Boolean(rs);
    this.n.empty.hidden = has;
    this.n.head.hidden = !has;
    this.n.scroller.hidden = !has;
    this.n.composer.hidden = !has;
    this.n.app.classList.remove("show-sidebar");
    if (!has) document.title = "Chat";
    this.shown = has ? rs.room.id : null;
  }

  header(rs) {
    const label = roomLabel(this.store, rs);
    this.n.title.textContent = label;
    // The tab names the open room: "#general · Chat", a DM by the other person's name.
    document.title = `${rs.room.kind === "dm" ? "" : "#"}${label} · Chat`;
    const kind = KIND[rs.room.kind] || rs.room.kind;
    this.n.meta.textContent = `${kind} · ${plural(rs.room.member_count ?? rs.members.size, "member")}`;
    this.n.leave.hidden = rs.room.kind === "dm";
  }
}
