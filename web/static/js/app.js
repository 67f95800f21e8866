// The app: checks the session, shows sign-in or the shell (sidebar and page), and routes.

import { ApiError, session, useSession, whenSignedOut } from "./api.js";
import { errorBox, pageHeader } from "./components.js";
import { h, icon, mount } from "./dom.js";
import { currentRoute, forget, match } from "./router.js";
import { signInPage } from "./pages/signin.js";
import { DASHBOARD, CONSOLE } from "./pages/index.js";

const app = document.getElementById("app");
const area = location.pathname.startsWith("/console") ? CONSOLE : DASHBOARD;
let cleanups = [];
let main = null;

function runCleanups() {
  for (const fn of cleanups.splice(0)) {
    try { fn(); } catch (e) { console.error(e); }
  }
}

function sidebar(me) {
  const links = area.nav.map((item) => item.divider
    ? h("div", { class: "nav-label" }, item.divider)
    : h("a", { href: item.href || `#${item.path}`, dataset: { path: item.path || "" } },
      icon(item.icon), item.label, item.soon ? h("span", { class: "badge soon" }, "Soon") : null));
  return h("aside", { class: "sidebar" },
    h("div", { class: "brand" }, h("img", { src: "/static/icon.svg", alt: "" }), h("div", null, "phoneagent", h("small", null, area.subtitle))),
    h("nav", { class: "nav", "aria-label": "Sections" }, links),
    h("div", { class: "sidebar-foot" },
      h("span", { class: "muted who-am-i", title: me.actor }, me.role === "admin" ? "Admin" : "Agent"),
      h("button", { class: "btn small ghost", id: "sign-out", onclick: signOut }, icon("out"), "Sign out")));
}

function markActive(path) {
  for (const link of document.querySelectorAll(".nav a")) {
    const own = link.dataset.path;
    link.classList.toggle("active", Boolean(own) && (path === own || path.startsWith(own + "/")));
  }
}

async function render() {
  if (!main) return;
  runCleanups();
  const { path, query } = currentRoute(area.home);
  markActive(path);
  const page = h("div", { class: "page" });
  main.replaceChildren(page);
  const found = match(area.routes, path);
  if (!found) {
    mount(page, pageHeader({ title: "Not found" }), h("div", { class: "page-body" }, h("p", null, "There is no page here. ", h("a", { href: `#${area.home}` }, "Back"))));
    return;
  }
  const started = performance.now();
  try {
    await found.route.page({ root: page, params: found.params, query, onCleanup: (fn) => cleanups.push(fn) });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    mount(page, pageHeader({ title: "Something went wrong" }), h("div", { class: "page-body" }, errorBox(error)));
  } finally {
    page.dataset.ready = "true";
    page.dataset.renderMs = String(Math.round(performance.now() - started));
  }
}

function showShell(me) {
  main = h("main", { class: "main" });
  mount(app, h("div", { class: "shell" }, sidebar(me), main));
  app.classList.remove("booting");
  app.removeAttribute("aria-busy");
  render();
}

function showSignIn(error) {
  runCleanups();
  main = null;
  forget();
  useSession(null);
  app.classList.remove("booting");
  app.removeAttribute("aria-busy");
  mount(app, signInPage({ area, error, onSignedIn: (me) => { useSession(me); showShell(me); } }));
}

async function signOut() {
  try {
    await session.signOut();
  } finally {
    showSignIn();
  }
}

async function boot() {
  whenSignedOut(() => showSignIn("Your session ended. Sign in again."));
  window.addEventListener("hashchange", render);
  try {
    const me = await session.current();
    useSession(me);
    showShell(me);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignIn();
    else mount(app, h("div", { class: "page-body" }, errorBox(error)));
  }
}

boot();
