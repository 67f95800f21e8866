// KPIs from GET /api/analytics/summary: rates, averages, calls by local hour, score distribution.

import { api, queryString } from "../api.js";
import { card, emptyState, pageHeader } from "../components.js";
import { barChart, hbarChart } from "../charts.js";
import { h, mount } from "../dom.js";
import { count, duration, label, percent, signed } from "../format.js";
import { assistants } from "./shared.js";

const RANGES = [["7", "7 days"], ["30", "30 days"], ["90", "90 days"]];

function kpi(name, value, hint) {
  return card({}, h("div", { class: "kpi", style: { padding: 0 }, dataset: { kpi: name } }, h("div", { class: "label" }, name), h("div", { class: "value num" }, value), hint ? h("div", { class: "hint" }, hint) : null));
}

export async function kpisPage({ root, query }) {
  const days = query.days || "30";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const book = await assistants();
  const to = new Date();
  const from = new Date(to.getTime() - Number(days) * 86400000);
  const summary = await api("/api/analytics/summary", { query: { from: from.toISOString(), to: to.toISOString(), tz: zone, assistant: query.assistant } });
  const set = (change) => { location.hash = "#/kpis" + queryString({ days, assistant: query.assistant, ...change }); };
  const controls = [
    h("select", { "aria-label": "Assistant", onchange: (e) => set({ assistant: e.target.value }) }, h("option", { value: "" }, "All assistants"),
      book.data.map((a) => h("option", { value: a.name, selected: a.name === query.assistant }, a.name))),
    h("div", { class: "segmented", role: "group", "aria-label": "Range" }, RANGES.map(([d, text]) => h("button", { class: d === days ? "on" : null, onclick: () => set({ days: d }) }, text))),
  ];
  const hours = summary.callsByHour.map((x) => ({ label: String(x.hour).padStart(2, "0"), value: x.calls, title: `${String(x.hour).padStart(2, "0")}:00 – ${x.calls} calls` }));
  const histogram = summary.scoreDistribution.histogram.map((b) => ({ label: `${b.from}`, value: b.leads, title: `${b.from}–${b.to}: ${b.leads} leads` }));
  const outcomes = Object.entries(summary.outcomes).map(([o, n]) => ({ label: label(o), value: n }));
  const bands = summary.scoreDistribution.bands.map((b) => ({ label: label(b.band), value: b.leads, note: `${b.min}–${b.max}` }));
  const empty = !summary.calls.inRange;
  mount(root,
    pageHeader({ title: "KPIs", meta: `Calls created in the last ${days} days, hours in ${zone}`, actions: controls }),
    h("div", { class: "page-body" },
      h("div", { class: "grid cols-4", id: "kpis" },
        kpi("Calls", count(summary.calls.inRange), `${count(summary.calls.today)} today · ${count(summary.calls.week)} this week`),
        kpi("Answer rate", percent(summary.answerRate), `${count(summary.answered)} answered`),
        kpi("Conversion", percent(summary.conversionRate, 1), `${count(summary.conversions)} converted`),
        kpi("Average score", summary.averageScore ?? "—", `sentiment ${signed(summary.averageSentiment)} · ${duration(summary.averageDurationSeconds)} a call`)),
      empty ? card({}, emptyState("No calls in this range", "The charts fill in as calls are made.")) : null,
      h("div", { class: "grid cols-2" },
        card({ title: "Calls by local hour", id: "by-hour" }, barChart(hours, { every: 3, name: "calls by hour" })),
        card({ title: "Lead score histogram", sub: "all leads", id: "histogram" }, barChart(histogram, { name: "score histogram" }))),
      h("div", { class: "grid cols-2" },
        card({ title: "Outcomes", id: "outcomes" }, hbarChart(outcomes, { name: "outcomes" })),
        card({ title: "Leads by band", id: "bands" }, hbarChart(bands, { name: "bands" })))));
}
