// The connection banner: the socket's state (store.connection), or an error notice that
// came after it.

const STATE_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline — waiting for the network",
  closed: "Disconnected",
};

export class StatusView {
  constructor({ store, node }) {
    this.store = store;
    this.node = node;
  }

  render() {
    const { state, detail } = this.store.connection;
    const notice = this.store.notice;
    const text = detail && state !== "open" ? `${STATE_TEXT[state]} (${detail})` : STATE_TEXT[state];
    this.node.textContent = notice || text;
    this.node.dataset.state = notice ? "error" : state;
  }
}
