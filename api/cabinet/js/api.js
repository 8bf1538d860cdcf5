// The JSON API under /v1. Errors arrive as RFC 9457 problems with a stable `code`.
//
// Read-your-writes: every write answers with `Kvit-Position`; the page keeps the highest one it
// has seen and sends it as `min_position` on every read, so a read never shows the world from
// before the page's own write.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (status >= 500 ? "server" : "http_error");
    this.problem = problem;
  }
}

export const session = {
  token: sessionStorage.getItem("kvit.token") || null,
  // Signed in through the identity provider: the browser sends the HttpOnly session cookie by
  // itself, and every write carries this CSRF token (the page never sees a token of the provider).
  csrf: null,
  position: 0,
  onUnauthorized: () => {},
};

export function signedIn() {
  return Boolean(session.token || session.csrf);
}

export function setCookieSession(csrf) {
  session.csrf = csrf;
  session.position = 0;
}

export function setToken(token) {
  session.token = token;
  session.position = 0;
  if (token) sessionStorage.setItem("kvit.token", token);
  else sessionStorage.removeItem("kvit.token");
}

// The payer id the token names (display only: the server checks the signature).
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function newKey() {
  return crypto.randomUUID();
}

async function call(method, path, { body, key, params, auth = true } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }
  const headers = { Accept: "application/json" };
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  if (key) headers["Idempotency-Key"] = key;
  if (session.csrf && method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  const position = Number(response.headers.get("Kvit-Position") || 0);
  if (position > session.position) session.position = position;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data && typeof data === "object" ? data : {});
    if (response.status === 401 && auth) session.onUnauthorized(error);
    throw error;
  }
  return { body: data, position, replayed: response.headers.get("Idempotent-Replayed") === "true" };
}

export function get(path, params = {}, { fresh = true } = {}) {
  const withPosition = fresh && session.position ? { ...params, min_position: session.position } : params;
  return call("GET", path, { params: withPosition }).then((r) => r.body);
}

// An image the API serves behind the bearer token (an <img> cannot send it): as a blob: URL.
export async function imageUrl(path) {
  const headers = session.token ? { Authorization: `Bearer ${session.token}` } : {};
  let response;
  try {
    response = await fetch(new URL(path, location.origin), { headers });
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  if (!response.ok) throw new ApiError(response.status, {});
  return URL.createObjectURL(await response.blob());
}

export function remove(path) {
  return call("DELETE", path);
}

export function post(path, body, key, opts = {}) {
  return call("POST", path, { body, key, ...opts });
}

// One intent, one Idempotency-Key: the same request retried (a double click, a lost answer)
// reuses the key, so the server does it once; a changed request gets a new key.
export class Intent {
  constructor() {
    this.signature = null;
    this.key = null;
    this.pending = null;
  }

  send(path, body) {
    if (this.pending) return this.pending; // a second click while the first is on its way
    const signature = JSON.stringify([path, body]);
    if (signature !== this.signature) {
      this.signature = signature;
      this.key = newKey();
    }
    this.pending = post(path, body, this.key).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }
}
