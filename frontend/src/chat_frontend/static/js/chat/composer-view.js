// The composer: shows the open room's draft (one per room, in the store), reports what is
// typed, and sends on Enter (Shift+Enter is a newline).
import { draft } from "../selectors.js";

export class ComposerView {
  constructor({ store, form, input, actions }) {
    this.store = store;
    this.input = input;
    this.actions = actions; // {draft(text), typing(), send()}
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.actions.send();
      input.focus();
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      this.actions.draft(input.value);
      this.actions.typing();
    });
  }

  render() {
    const text = draft(this.store, this.store.activeRoomId);
    // Typing already put this text in the store; only a room switch or a send changes it.
    if (this.input.value !== text) this.input.value = text;
  }
}
