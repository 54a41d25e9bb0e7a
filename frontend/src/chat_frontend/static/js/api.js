// HTTP client for the API. The access token lives in this module's memory only;
// the refresh token is the HttpOnly `chat_refresh` cookie the API sets (JS never sees it).
import { config } from "./config.js";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

let accessToken = null;
let tokenExpiresAt = 0; // ms epoch
let currentUser = null;
let refreshing = null; // the in-flight refresh promise (one at a time)
let refreshTimer = null;
const listeners = new Set();

/** Called with ({token, user}) after each login/refresh, and ({token: null}) on logout. */
export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) {
    try {
      fn({ token: accessToken, user: currentUser });
    } catch (err) {
      console.warn("auth listener failed", err);
    }
  }
}

export const getToken = () => accessToken;
export const tokenValidFor = () => Math.max(0, tokenExpiresAt - Date.now());

function setSession(body) {
  accessToken = body.access_token;
  tokenExpiresAt = Date.now() + (Number(body.expires_in) || 900) * 1000;
  if (body.user) currentUser = body.user;
  clearTimeout(refreshTimer);
  // Refresh a minute before expiry (or at 80% of a short lifetime) so sockets never lapse.
  const lifetime = tokenExpiresAt - Date.now();
  const lead = Math.min(60_000, lifetime * 0.2);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(5_000, lifetime - lead));
  emit();
}

function clearSession() {
  const had = accessToken !== null;
  accessToken = null;
  tokenExpiresAt = 0;
  currentUser = null;
  clearTimeout(refreshTimer);
  if (had) emit();
}

async function rawFetch(method, path, body, { auth = true, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const resp = await fetch(`${config.apiBase}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    // The refresh cookie must travel even when the API is on another port (make run).
    credentials: "include",
    cache: "no-store",
    // Outlives the page (a read marker sent while the tab closes).
    keepalive,
  });
  let data = null;
  if (resp.status !== 204) {
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { detail: text.slice(0, 200) };
      }
    }
  }
  if (!resp.ok) {
    const retryAfter = resp.headers.get("Retry-After");
    throw new ApiError(resp.status, data && data.detail !== undefined ? data.detail : `HTTP ${resp.status}`, retryAfter);
  }
  return data;
}

/**
 * Trade the refresh cookie for a new access token. Rotation makes a refresh token
 * single-use and replay revokes the session, so tabs take turns via a Web Lock.
 * `optional` (the page-load probe): no refresh cookie is a 204 and resolves to null,
 * so a signed-out visit logs no failed request; a bad or revoked cookie is still a 401.
 */
export function refresh({ optional = false } = {}) {
  if (!refreshing) {
    const run = async () => {
      try {
        const body = await rawFetch("POST", optional ? "/refresh?optional=true" : "/refresh", {}, { auth: false });
        if (!body) {
          clearSession();
          return null;
        }
        setSession(body);
        return body.user;
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) clearSession();
        throw err;
      }
    };
    const locked = navigator.locks ? navigator.locks.request("chat-refresh", run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Restore the session on page load; resolves to the user or null when signed out. */
export async function restoreSession() {
  try {
    return await refresh({ optional: true });
  } catch (err) {
    if (err instanceof ApiError && err.status < 500) return null;
    throw err;
  }
}

/** Authenticated request; one transparent refresh + retry when the token expired. */
async function request(method, path, body, options = {}) {
  if (!accessToken || tokenValidFor() < 5_000) {
    await refresh();
  }
  try {
    return await rawFetch(method, path, body, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await refresh();
      return rawFetch(method, path, body, options);
    }
    throw err;
  }
}

export async function login(username, password) {
  const body = await rawFetch("POST", "/login", { username, password }, { auth: false });
  // The body also carries refresh_token; we deliberately drop it (the cookie is enough).
  setSession(body);
  return body.user;
}

export async function register(username, password, displayName) {
  const payload = { username, password };
  if (displayName) payload.display_name = displayName;
  return rawFetch("POST", "/register", payload, { auth: false });
}

export async function logout() {
  try {
    if (accessToken) await rawFetch("POST", "/logout", {});
  } finally {
    clearSession();
  }
}

const q = (params) => {
  const usp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) usp.set(k, String(v));
  return usp.toString();
};

export const api = {
  updateMe: (patch) => request("PUT", "/users/me", patch),
  user: (id) => request("GET", `/users/${encodeURIComponent(id)}`),
  searchUsers: (prefix) => request("GET", `/users?${q({ q: prefix })}`),
  rooms: () => request("GET", "/rooms"),
  publicRooms: () => request("GET", "/rooms/public"),
  room: (id) => request("GET", `/rooms/${id}`),
  members: (id) => request("GET", `/rooms/${id}/members`),
  updateRoom: (id, change) => request("PATCH", `/rooms/${id}`, change),
  roomEvents: (id, { after, limit } = {}) => request("GET", `/rooms/${id}/events?${q({ after, limit })}`),
  createRoom: (name, kind) => request("POST", "/rooms", { name, kind }),
  joinRoom: (id) => request("POST", `/rooms/${id}/join`),
  leaveRoom: (id) => request("POST", `/rooms/${id}/leave`),
  openDm: (userId) => request("POST", "/dms", { user_id: userId }),
  markRead: (id, seq, { keepalive = false } = {}) => request("PUT", `/rooms/${id}/read`, { seq }, { keepalive }),
  messages: (roomId, { before, after, limit } = {}) =>
    request("GET", `/messages?${q({ room_id: roomId, before, after, limit })}`),
  editMessage: (id, content) => request("PATCH", `/messages/${id}`, { content }),
  deleteMessage: (id) => request("DELETE", `/messages/${id}`),
};
