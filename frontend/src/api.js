// The CityTwin REST API: token (or session) auth, errors in words, server-sent events over fetch.

import { set } from "./state.js";

// The page's credential is an HttpOnly session cookie (set when signing in from the page, with
// CSRF): no script can read it and nothing is kept in localStorage. The API token lives in this
// tab's memory only; after a reload the session gives it back (POST /api/auth/session/).
const OLD_TOKEN_KEY = "citytwin.token"; // where earlier versions kept the token
let memoryToken = "";

export function token() {
  return memoryToken;
}

export function setToken(value) {
  memoryToken = value || "";
  localStorage.removeItem(OLD_TOKEN_KEY);
  if (!value) {
    // signing out ends the session too
    fetch("/api/auth/session/", { method: "DELETE", headers: authHeaders(), credentials: "same-origin" }).catch(() => {});
  }
}

/** This tab's token from the page's session (if any): awaited once before the page starts. */
async function restoreSession() {
  localStorage.removeItem(OLD_TOKEN_KEY);
  if (!csrf()) return;
  try {
    const response = await fetch("/api/auth/session/", { method: "POST", headers: authHeaders({ Accept: "application/json" }), credentials: "same-origin" });
    const body = response.ok ? await response.json() : null;
    memoryToken = (body && body.token) || "";
    if (!memoryToken) localStorage.removeItem("citytwin.user");
  } catch {
    /* the server cannot be reached: the page starts signed out */
  }
}
await restoreSession();

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (token()) headers.Authorization = `Token ${token()}`;
  const c = csrf();
  if (c) headers["X-CSRFToken"] = c;
  return headers;
}

/** An API error with a sentence a person can read. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

export function describeError(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error;
    if (body.error && typeof body.error === "object") {
      return body.error.message || body.error.detail || JSON.stringify(body.error);
    }
    if (typeof body.detail === "string") return body.detail;
    const parts = Object.entries(body).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : v}`);
    if (parts.length) return parts.join("; ");
  }
  if (typeof body === "string" && body && body.length < 300) return body;
  if (status === 401 || status === 403) return "please sign in first (the server said: not allowed)";
  if (status === 404) return "not found on the server (the API may not offer this yet)";
  if (status >= 500) return `the server failed (HTTP ${status})`;
  return `request failed (HTTP ${status})`;
}

export async function request(method, path, body, { form = false, retried = false } = {}) {
  const sentToken = token();
  const init = { method, headers: authHeaders({ Accept: "application/json" }), credentials: "same-origin" };
  if (body !== undefined) {
    if (form) init.body = body;
    else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `the server cannot be reached (${err.message})`);
  }
  if (response.status === 401 && sentToken && !retried) {
    // a stale or revoked token: DRF refuses it even where no sign-in is needed; forget it and
    // ask again without it (the sign-in form shows once the page sees no token)
    if (token() === sentToken) {
      setToken("");
      localStorage.removeItem("citytwin.user");
      set({ user: "" }, { reason: "expired" });
    }
    return request(method, path, body, { form, retried: true });
  }
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const put = (path, body) => request("PUT", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

/** All pages of a paginated list (plain `results` or GeoJSON `features`). */
export async function getAll(path) {
  let next = path;
  const out = [];
  while (next) {
    const page = await get(next);
    if (Array.isArray(page)) return page;
    out.push(...(page.results || page.features || []));
    next = page.next ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search : null;
  }
  return out;
}

/**
 * Follow a server-sent event stream with fetch (so the auth header goes along); `onData` gets
 * the parsed `data:` JSON of each event named `eventName` (or unnamed: SSE's default "message"
 * is not ours, so only named events count). Resolves when the stream ends; rejects when it
 * cannot be read.
 */
export async function followEvents(path, onData, signal, eventName = "run") {
  // JSON accepted too: the API's content negotiation answers 406 to text/event-stream alone
  const response = await fetch(path, { headers: authHeaders({ Accept: "text/event-stream, application/json;q=0.5" }), credentials: "same-origin", signal });
  if (!response.ok || !response.body) throw new ApiError(response.status, null);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      const lines = block.split(/\r?\n/);
      const name = lines.filter((l) => l.startsWith("event:")).map((l) => l.slice(6).trim()).pop() || "message";
      const data = lines
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data && name === eventName) {
        try {
          onData(JSON.parse(data));
        } catch {
          /* a keep-alive or a non-JSON line */
        }
      }
    }
  }
}

/** Absolute URL for a same-origin path (the map's workers need absolute tile URLs). */
export const abs = (path) => (/^https?:/.test(path) ? path : location.origin + (path.startsWith("/") ? path : `/${path}`));
