// The open room's frame: header (name, kind, member count, topic, rename, leave), which
// panes show, the tab title and the #room= address. Renders store.activeRoomId and that
// room's record; whether the rename form is open is this view's own.
import { errorText, plural, showMessage } from "../ui.js";
import { roomLabel } from "./sidebar-view.js";

const KIND = { public: "public room", private: "private room", dm: "direct message" };

export class RoomView {
  constructor({ store, nodes, actions }) {
    this.store = store;
    // {app, empty, head, scroller, composer, title, meta, topic, leave,
    //  edit, editForm, editName, editTopic, editCancel, editError}
    this.n = nodes;
    this.actions = actions; // {update(roomId, {name?, topic?})}
    this.shown = undefined; // the room id last rendered (undefined: nothing rendered yet)
    this.addressed = undefined; // the room id the address bar names (same)
    this.editing = null; // the room id whose rename form is open
    this.n.edit.addEventListener("click", () => this.startEdit());
    this.n.editCancel.addEventListener("click", () => this.stopEdit());
    this.n.editForm.addEventListener("submit", (ev) => this.save(ev));
    this.n.editForm.addEventListener("keydown", (ev) => ev.key === "Escape" && this.stopEdit());
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
    this.editing = null;
  }

  header(rs) {
    const label = roomLabel(this.store, rs);
    this.n.title.textContent = label;
    // The tab names the open room: "#general · Chat", a DM by the other person's name.
    document.title = `${rs.room.kind === "dm" ? "" : "#"}${label} · Chat`;
    const kind = KIND[rs.room.kind] || rs.room.kind;
    this.n.meta.textContent = `${kind} · ${plural(rs.room.member_count ?? rs.members.size, "member")}`;
    const editing = this.editing === rs.room.id;
    const topic = rs.room.kind === "dm" ? "" : rs.room.topic || "";
    this.n.topic.textContent = topic;
    this.n.topic.hidden = !topic || editing; // the form shows it while open
    this.n.editForm.hidden = !editing;
    this.n.edit.hidden = rs.room.kind === "dm" || editing;
    this.n.leave.hidden = rs.room.kind === "dm";
  }

  startEdit() {
    const rs = this.store.room(this.store.activeRoomId);
    if (!rs || rs.room.kind === "dm") return;
    this.editing = rs.room.id;
    this.n.editName.value = rs.room.name;
    this.n.editTopic.value = rs.room.topic || "";
    showMessage(this.n.editError, "");
    this.render();
    this.n.editName.focus();
  }

  stopEdit() {
    this.editing = null;
    this.render();
  }

  async save(ev) {
    ev.preventDefault();
    const rs = this.store.room(this.editing);
    if (!rs) return this.stopEdit();
    const name = this.n.editName.value.trim();
    const topic = this.n.editTopic.value.trim();
    if (!name) return showMessage(this.n.editError, "Give the room a name.");
    const change = {};
    if (name !== rs.room.name) change.name = name;
    if (topic !== (rs.room.topic || "")) change.topic = topic;
    if (!Object.keys(change).length) return this.stopEdit();
    try {
      await this.actions.update(rs.room.id, change);
      if (this.editing === rs.room.id) this.stopEdit();
    } catch (err) {
      showMessage(this.n.editError, errorText(err));
    }
  }
}
