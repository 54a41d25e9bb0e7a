// Who other people are: users the page meets by id (message authors, typists) are fetched
// once each and go into the store.

export class UsersController {
  constructor({ store, api }) {
    this.store = store;
    this.api = api; // {user(id)}
    this.fetches = new Map(); // user id -> promise (asked once per page)
  }

  /** Users the page found (a search) are remembered like any other. */
  found(users) {
    this.store.rememberUsers(users);
  }

  need(id) {
    if (id === undefined || id === null || this.store.users.has(id) || this.fetches.has(id)) return;
    const fetched = this.api.user(id).then(
      (u) => this.store.rememberUsers([u]),
      () => {},
    );
    this.fetches.set(id, fetched);
  }
}
