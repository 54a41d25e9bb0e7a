// Views subscribe to the store's changes by kind and render at most once per animation
// frame, however many changes arrived in between. A cheap output that other code reads at
// once (the address bar: tests and reloads read location.hash right after a click) can ask
// to render synchronously instead.

export class Renderer {
  constructor(store) {
    this.subscribers = []; // {kinds: Set, render}, in the order registered
    this.immediate = []; // the same, rendered on the change itself
    this.dirty = new Set();
    this.scheduled = false;
    store.addEventListener("change", (ev) => this.mark(ev.detail.kind));
  }

  /** `render` runs now and after any change of one of `kinds`. */
  on(kinds, render, { sync = false } = {}) {
    (sync ? this.immediate : this.subscribers).push({ kinds: new Set(kinds), render });
    render();
  }

  mark(kind) {
    for (const { kinds, render } of this.immediate) if (kinds.has(kind)) render();
    this.dirty.add(kind);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.scheduled = false;
    const kinds = new Set(this.dirty);
    this.dirty.clear();
    for (const { kinds: wanted, render } of this.subscribers) {
      if ([...wanted].some((k) => kinds.has(k))) render();
    }
  }
}
