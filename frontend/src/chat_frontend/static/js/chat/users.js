// Who other people are: users the page meets by id (message authors, typists) are fetched
// once each and go into the store; user.updated on our stream renames them live.
import { EVENTS } from "../protocol.js";

export class UsersController {
  constructor({ store, api }) {
    this.store = store;
    this.api = api; // {user(id)}
    this.fetches = new Map(); // user id -> promise (asked once per page)
  }

  events() {
    return {
      // Someone sharing a room with us (or we) changed their display name.
      [EVENTS.USER_UPDATED]: (f) => f.data?.id && this.store.userUpdated(f.data),
      // Another session of ours was revoked. When it is this one the gateway closes the
      // socket 1008 "revoked: ...", and socket.js signs the page out.
      [EVENTS.SESSION_REVOKED]: () => {},
    };
  }

  /** Users the page found (a search) are remembered like any other. */
  found(users) {
    this.store.rememberUsers(users);
  }

  need(id) {
    if (id === undefined || id === null || this.store.users.has(id) || this.fetches.has(id)) return;
    const asOf = this.store.generation;
    const fetched = this.api.user(id).then(
      (u) => this.store.rememberUsers([u], { asOf }),
      () => {},
    );
    this.fetches.set(id, fetched);
  }
}
