// Hash routes (#/calls/abc?q=word): the server serves one shell, the page is chosen here.

import { queryString } from "./api.js";

/** The current route: {path, query}. */
export function currentRoute(fallback) {
  const raw = location.hash.replace(/^#/, "") || fallback;
  const [path, search] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(search || "")) };
}

/** Go to a path with a query (empty values left out). */
export function go(path, query) {
  location.hash = path + queryString(query);
}

/** The first route whose pattern matches: {page, params} or null. */
export function match(routes, path) {
  for (const route of routes) {
    const found = route.pattern.exec(path);
    if (found) return { route, params: found.slice(1).map(decodeURIComponent) };
  }
  return null;
}

const cache = new Map();
/** A value loaded once and kept for `seconds` (lists every page needs: stages, bands, assistants). */
export function cached(key, load, seconds = 30) {
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.value;
  const value = load();
  cache.set(key, { value, until: Date.now() + seconds * 1000 });
  value.catch(() => cache.delete(key));
  return value;
}

/** Forget cached lists (after a change that alters them). */
export function forget(key) {
  if (key) cache.delete(key);
  else cache.clear();
}
