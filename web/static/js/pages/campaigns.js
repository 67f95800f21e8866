// Campaigns: their state with start / pause / resume / stop, and a funnel that refreshes while one runs.

import { api } from "../api.js";
import { card, emptyState, errorBox, kv, pageHeader, pager, statusBadge, table, toast } from "../components.js";
import { hbarChart, stackedBar } from "../charts.js";
import { h, mount } from "../dom.js";
import { count, fullDate, label, percent, when } from "../format.js";
import { forget } from "../router.js";

const REFRESH_MS = 2000;
// Which actions apply in which state (crm/outbound/campaigns.py TRANSITIONS); the server has the last word.
const ACTIONS = {
  start: ["draft", "scheduled"], resume: ["paused"], pause: ["active", "scheduled"], stop: ["draft", "scheduled", "active", "paused"],
};
const STATES = [
  { key: "pending", label: "Pending", cls: "s-pending" },
  { key: "calling", label: "Calling", cls: "s-calling" },
  { key: "completed", label: "Completed", cls: "s-completed" },
  { key: "failed", label: "Failed", cls: "s-failed" },
  { key: "skipped", label: "Skipped", cls: "s-skipped" },
];

export async function campaignsPage({ root }) {
  const list = await api("/api/campaigns");
  const progress = await Promise.all(list.data.map((c) => api(`/api/campaigns/${c.id}/progress`).catch(() => null)));
  const columns = [
    { title: "Name", cell: (c) => h("b", null, c.name) },
    { title: "State", cell: (c) => statusBadge(c.status) },
    { title: "Type", cell: (c) => label(c.type) },
    { title: "Assistant", cell: (c) => c.assistant || "default" },
    { title: "Contacts", class: "right", cell: (c) => h("span", { class: "num" }, count(total(progress[list.data.indexOf(c)]))) },
    { title: "Answered", class: "right", cell: (c) => h("span", { class: "num" }, count(progress[list.data.indexOf(c)]?.answered)) },
    { title: "Converted", class: "right", cell: (c) => h("span", { class: "num" }, count(progress[list.data.indexOf(c)]?.conversions)) },
    { title: "Created", cell: (c) => h("span", { class: "nowrap" }, when(c.createdAt)) },
  ];
  mount(root,
    pageHeader({ title: "Campaigns", meta: "Outbound calling: files in campaigns/ or POST /api/campaigns." }),
    h("div", { class: "page-body" }, card({ flush: true }, list.data.length
      ? table({ columns, rows: list.data, rowHref: (c) => `#/campaigns/${c.id}` })
      : emptyState("No campaigns yet", "Define one as a JSON file in campaigns/ (see campaigns/examples) or through the API; it appears here with its funnel."))));
}

function total(progress) {
  return progress ? Object.values(progress.contacts).reduce((a, b) => a + b, 0) : null;
}

/** Enrolled → called → answered → converted, and the contacts by state with their reasons. */
function funnel(progress) {
  const all = total(progress);
  const c = progress.contacts;
  const called = c.calling + c.completed + c.failed;
  const steps = [
    { label: "Enrolled", value: all },
    { label: "Called", value: called },
    { label: "Answered", value: progress.answered },
    { label: "Converted", value: progress.conversions },
  ].map((s) => ({ ...s, note: all ? percent(s.value / all) : "" }));
  const reasons = [...Object.entries(progress.skippedReasons).map(([r, n]) => ["Skipped", r, n]), ...Object.entries(progress.failedReasons).map(([r, n]) => ["Failed", r, n])];
  return h("div", { class: "stack", id: "funnel", dataset: { answered: progress.answered, pending: c.pending, completed: c.completed, failed: c.failed } },
    hbarChart(steps, { max: all || 1, name: "campaign funnel" }),
    h("div", null, h("h3", { style: { marginBottom: "8px" } }, "Contacts by state"), stackedBar(STATES.map((s) => ({ ...s, value: c[s.key] || 0 })), { name: "contacts by state" })),
    reasons.length ? h("div", null, h("h3", { style: { marginBottom: "6px" } }, "Why not called"), kv(reasons.map(([kind, r, n]) => [`${kind}: ${label(r)}`, count(n)]))) : null);
}

function contactsTable(page, onPage) {
  const columns = [
    { title: "Phone", cell: (c) => h("a", { href: `#/leads/${c.leadId}` }, c.phone) },
    { title: "State", cell: (c) => statusBadge(c.status) },
    { title: "Attempts", class: "right", cell: (c) => h("span", { class: "num" }, String(c.attempts)) },
    { title: "Last outcome", cell: (c) => label(c.lastOutcome || c.reason) },
    { title: "Next attempt", cell: (c) => h("span", { class: "nowrap" }, when(c.nextAttemptAt)) },
    { title: "Last call", cell: (c) => (c.lastCallId ? h("a", { href: `#/calls/${c.lastCallId}` }, "Open") : "—") },
  ];
  return page.data.length
    ? [table({ columns, rows: page.data }), pager({ total: page.total, limit: page.limit, offset: page.offset, onPage })]
    : emptyState("No contacts", "Enroll leads with POST /api/campaigns/{id}/contacts (lead ids or a CSV), or give the campaign an audience.", { small: true });
}

export async function campaignPage({ root, params, onCleanup }) {
  const id = encodeURIComponent(params[0]);
  let campaign = await api(`/api/campaigns/${id}`);
  let offset = 0;
  const stats = h("div"), funnelBox = h("div"), contacts = h("div", { id: "contacts" }), actions = h("div", { class: "page-actions" }), error = h("div");
  const status = h("span", { id: "campaign-status" });

  async function act(action) {
    mount(error);
    try {
      campaign = await api(`/api/campaigns/${id}/${action}`, { method: "POST" });
      forget("campaigns");
      toast(`Campaign ${campaign.status}`);
      await refresh();
    } catch (e) {
      mount(error, errorBox(e));
    }
  }

  function drawActions() {
    mount(actions, Object.entries(ACTIONS).filter(([, states]) => states.includes(campaign.status)).map(([action]) =>
      h("button", { class: ["btn", action === "start" || action === "resume" ? "primary" : action === "stop" ? "danger" : null], dataset: { action }, onclick: () => act(action) }, label(action))));
    const why = campaign.pauseReason
      ? h("span", { class: "muted", id: "pause-reason" }, ` ${campaign.pauseReason}${campaign.resumeAt ? `; resumes ${fullDate(campaign.resumeAt)}` : "; resume by hand"}`)
      : null;
    mount(status, statusBadge(campaign.status), why);
  }

  async function refresh() {
    const [fresh, progress, page] = await Promise.all([api(`/api/campaigns/${id}`), api(`/api/campaigns/${id}/progress`), api(`/api/campaigns/${id}/contacts`, { query: { limit: 25, offset } })]);
    campaign = fresh;
    drawActions();
    mount(funnelBox, funnel(progress));
    mount(stats, h("div", { class: "grid cols-4" }, [
      ["Calls made", count(progress.callsMade)], ["Answered", count(progress.answered)],
      ["Conversion", percent(progress.conversionRate, 1)], ["Cost", progress.cost ? `$${progress.cost.toFixed(2)}` : "—"],
    ].map(([k, v]) => card({}, h("div", { class: "kpi", style: { padding: 0 } }, h("div", { class: "label" }, k), h("div", { class: "value num" }, v))))));
    mount(contacts, contactsTable(page, (o) => { offset = o; refresh(); }));
  }

  const timer = setInterval(() => {
    if (["active", "scheduled"].includes(campaign.status)) refresh().catch(() => {});
  }, REFRESH_MS);
  onCleanup(() => clearInterval(timer));
  await refresh();
  const window_ = campaign.window || {};
  mount(root,
    pageHeader({ title: campaign.name, crumbs: [{ text: "Campaigns", href: "#/campaigns" }], meta: [status, h("span", null, label(campaign.type)), h("span", null, "Assistant ", h("b", null, campaign.assistant || "default")), h("a", { href: `#/calls?campaign=${campaign.id}` }, "Its calls")], actions: [actions] }),
    h("div", { class: "page-body" }, error, stats,
      h("div", { class: "grid main-side" },
        card({ title: "Funnel", sub: "refreshes every 2 s while the campaign runs" }, funnelBox),
        card({ title: "Definition" }, kv([
          ["Provider", label(campaign.provider)], ["From", (campaign.fromNumbers || []).length ? campaign.fromNumbers.join(", ") : campaign.fromNumber || "server default"], ["Time zone", campaign.timezone],
          ["Window", window_.start ? `${window_.start}–${window_.end}, days ${(window_.days || []).join(" ")}` : "—"],
          ["Max attempts", String(campaign.limits?.maxAttempts ?? "—")], ["Started", fullDate(campaign.startedAt)], ["Completed", fullDate(campaign.completedAt)],
        ]))),
      card({ title: "Contacts", flush: true }, contacts)));
}
