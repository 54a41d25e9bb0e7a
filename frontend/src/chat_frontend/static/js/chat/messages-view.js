// The message list of the open room: keyed rendering (no full rebuilds, so scroll position
// and an open edit box survive live updates), infinite scroll up, stick-to-bottom for new
// messages. Which message is being edited or confirmed is this view's own; the rest it reads.
import { LIMITS } from "../protocol.js";
import { displayName, timeline } from "../selectors.js";
import { el, formatTimestamp } from "../ui.js";

export class MessagesView {
  constructor({ store, scroller, list, loadingNote, startNote, actions }) {
    this.store = store;
    this.scroller = scroller;
    this.list = list;
    this.loadingNote = loadingNote;
    this.startNote = startNote;
    this.actions = actions; // {edit(msg, content), remove(msg), retry(pending), loadOlder(), userNeeded(id)}
    this.nodes = new Map(); // key -> {node, version}
    this.roomId = null; // the room the list shows; follows store.activeRoomId
    this.editing = null; // message id being edited
    this.confirming = null; // message id awaiting delete confirmation
    this.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
  }

  /** Another room opened: a fresh list, scrolled to its newest message. */
  switchTo(roomId) {
    this.roomId = roomId;
    this.editing = null;
    this.confirming = null;
    this.nodes.clear();
    this.list.replaceChildren();
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  onScroll() {
    if (this.scroller.scrollTop < 120) this.actions.loadOlder();
  }

  render() {
    const switched = this.roomId !== this.store.activeRoomId;
    if (switched) this.switchTo(this.store.activeRoomId);
    const rs = this.store.room(this.roomId);
    this.loadingNote.hidden = !rs?.loading;
    if (!rs) return;
    const stick = switched || this.atBottom();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    this.renderItems(timeline(this.store, this.roomId));
    this.startNote.hidden = !(rs.loaded && !rs.hasMoreBefore);
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
    else this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom; // keep view on prepend
  }

  /** Reuse the node of every item whose version is unchanged; move, add, drop the rest. */
  renderItems(items) {
    const keep = new Set();
    let cursor = this.list.firstElementChild;
    for (const item of items) {
      const key = item.id !== undefined ? `m${item.id}` : `p${item.client_msg_id}`;
      keep.add(key);
      const version = versionOf(item, this.editing, this.confirming, this.store);
      let entry = this.nodes.get(key);
      if (!entry || entry.version !== version) {
        const node = this.renderItem(item);
        if (entry) {
          // Keep the cursor attached: it may be the very node being replaced.
          if (entry.node === cursor) cursor = cursor.nextElementSibling;
          entry.node.remove();
        }
        entry = { node, version };
        this.nodes.set(key, entry);
      }
      if (entry.node !== cursor) this.list.insertBefore(entry.node, cursor);
      else cursor = cursor.nextElementSibling;
    }
    for (const [key, entry] of this.nodes) {
      if (!keep.has(key)) {
        entry.node.remove();
        this.nodes.delete(key);
      }
    }
  }

  renderItem(item) {
    const me = this.store.me;
    const pending = item.id === undefined;
    const own = item.sender_id === me?.id;
    const status = pending ? item.status : item.deleted ? "deleted" : "sent";
    const when = formatTimestamp(item.created_at);
    if (!this.store.users.has(item.sender_id)) this.actions.userNeeded(item.sender_id);

    const head = el(
      "div",
      { class: "message-head" },
      el("span", { class: "author", testid: "message-author", text: displayName(this.store, item.sender_id) }),
      el("time", { testid: "message-time", datetime: item.created_at, title: when.full, text: when.short }),
      item.edited_at && !item.deleted ? el("span", { class: "edited", testid: "message-edited", text: "(edited)" }) : null,
    );

    let body;
    if (!pending && this.editing === item.id) {
      body = this.editForm(item);
    } else if (item.deleted) {
      body = el("div", { class: "content deleted", testid: "message-content", text: "message deleted" });
    } else {
      body = el("div", { class: "content", testid: "message-content", text: item.content });
    }

    const tail = [];
    if (pending && item.status === "pending") {
      tail.push(el("span", { class: "status", testid: "message-status", text: "sending…" }));
    } else if (pending && item.status === "failed") {
      tail.push(
        el("span", { class: "status failed", testid: "message-status", title: item.error || "", text: "failed — " }),
        el("button", { type: "button", class: "link", testid: "message-retry", text: "retry", onclick: () => this.actions.retry(item) }),
      );
    } else if (!pending && own && !item.deleted && this.editing !== item.id && this.confirming !== item.id) {
      tail.push(
        el("button", { type: "button", class: "link", testid: "message-edit", text: "Edit", onclick: () => this.startEdit(item) }),
        el("button", { type: "button", class: "link danger", testid: "message-delete", text: "Delete", onclick: () => this.askDelete(item) }),
      );
    } else if (!pending && own && !item.deleted && this.confirming === item.id) {
      // Inline confirmation instead of window.confirm (blocking, and auto-dismissed in tests).
      tail.push(
        el("span", { class: "status", text: "Delete this message?" }),
        el("button", { type: "button", class: "link danger", testid: "message-delete-confirm", text: "Delete", onclick: () => this.confirmDelete(item) }),
        el("button", { type: "button", class: "link", testid: "message-delete-cancel", text: "Cancel", onclick: () => this.askDelete(null) }),
      );
    }

    return el(
      "li",
      {
        class: `message${own ? " own" : ""} status-${status}`,
        testid: "message",
        dataset: {
          seq: pending ? "" : String(item.seq),
          messageId: pending ? "" : String(item.id),
          clientMsgId: item.client_msg_id || "",
          status,
          senderId: String(item.sender_id ?? ""),
        },
      },
      head,
      body,
      tail.length ? el("div", { class: "message-actions" }, tail) : null,
    );
  }

  askDelete(item) {
    this.confirming = item ? item.id : null;
    this.render();
  }

  confirmDelete(item) {
    this.confirming = null;
    this.actions.remove(item);
    this.render();
  }

  startEdit(item) {
    this.editing = item.id;
    this.render();
    const input = this.list.querySelector('[data-testid="message-edit-input"]');
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  stopEdit() {
    this.editing = null;
    this.render();
  }

  editForm(item) {
    const input = el("textarea", { class: "edit-input", testid: "message-edit-input", maxlength: String(LIMITS.CONTENT_MAX), rows: "2" });
    input.value = item.content;
    const error = el("p", { class: "form-error", role: "alert", testid: "message-edit-error", hidden: true });
    const save = async (ev) => {
      ev.preventDefault();
      const content = input.value.trim();
      if (!content || content === item.content) return this.stopEdit();
      try {
        await this.actions.edit(item, content);
        this.stopEdit();
      } catch (err) {
        error.textContent = err.message || "Could not save";
        error.hidden = false;
      }
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.stopEdit();
      else if (ev.key === "Enter" && !ev.shiftKey) save(ev);
    });
    return el(
      "form",
      { class: "edit-form", testid: "message-edit-form", onsubmit: save },
      input,
      error,
      el("button", { type: "submit", class: "small", testid: "message-edit-save", text: "Save" }),
      el("button", { type: "button", class: "small secondary", testid: "message-edit-cancel", text: "Cancel", onclick: () => this.stopEdit() }),
    );
  }
}

function versionOf(item, editing, confirming, store) {
  return [
    item.content,
    item.edited_at || "",
    item.deleted ? 1 : 0,
    item.status || "",
    editing === item.id ? "e" : "",
    confirming === item.id ? "c" : "",
    displayName(store, item.sender_id),
  ].join("\u0000");
}
