// "Bob is typing…" for the open room.
import { displayName, typingUsers } from "../selectors.js";

export class TypingView {
  constructor({ store, node }) {
    this.store = store;
    this.node = node;
  }

  render() {
    const names = typingUsers(this.store, this.store.activeRoomId).map((id) => displayName(this.store, id));
    if (!names.length) this.node.textContent = "";
    else if (names.length === 1) this.node.textContent = `${names[0]} is typing…`;
    else if (names.length === 2) this.node.textContent = `${names[0]} and ${names[1]} are typing…`;
    else this.node.textContent = "Several people are typing…";
  }
}
