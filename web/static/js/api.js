// The JSON API as a signed-in browser: the session cookie rides along, writes carry the CSRF token.

let csrfToken = null;
let onSignedOut = () => {};

/** An answer that was not 2xx: the API's {error, detail, fields}. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** Remember the session's CSRF token (from sign-in or GET /api/session). */
export function useSession(session) {
  csrfToken = session ? session.csrfToken : null;
}

/** Called when the server says the session is gone (expired, signed out elsewhere, key changed). */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

/** A query string of the non-empty values. */
export function queryString(params) {
  const entries = Object.entries(params || {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}

/** Call the API; resolves to the JSON body (null for 204), rejects with an ApiError. */
export async function api(path, { method = "GET", body, query } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path + queryString(query), {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && path !== "/api/session") onSignedOut();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const session = {
  current: () => api("/api/session"),
  signIn: (apiKey) => api("/api/session", { method: "POST", body: { apiKey } }),
  signInAgent: (agentToken) => api("/api/session", { method: "POST", body: { agentToken } }),
  signOut: () => api("/api/session", { method: "DELETE" }),
};
