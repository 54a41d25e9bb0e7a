// Runtime config: a JSON data block rendered by the server (CSP allows no inline script).
const block = document.getElementById("config");
const raw = block ? JSON.parse(block.textContent || "{}") : {};

export const config = Object.freeze({
  apiBase: String(raw.apiBase || "/api").replace(/\/+$/, ""),
  wsUrl: String(raw.wsUrl || "/ws"),
  page: String(raw.page || ""),
});

/** The absolute WebSocket URL; a relative one means the page's own host. */
export function resolveWsUrl(url = config.wsUrl, loc = window.location) {
  if (/^wss?:\/\//i.test(url)) return url;
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${url.startsWith("/") ? "" : "/"}${url}`;
}
