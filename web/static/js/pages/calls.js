// Calls: filters, transcript search and pages over GET /api/calls.

import { api, queryString } from "../api.js";
import { card, emptyState, errorBox, outcomeBadge, pageHeader, pager, scoreBadge, statusBadge, table } from "../components.js";
import { h, icon, mount } from "../dom.js";
import { duration, label, when } from "../format.js";
import { OUTCOMES, assistants, campaigns, dayStart, otherParty, pipeline } from "./shared.js";

const LIMIT = 50;
const FILTERS = ["q", "from", "to", "assistant", "direction", "outcome", "band", "campaign", "live"];

function select(name, title, options, value, onChange) {
  return h("select", { name, "aria-label": title, onchange: (e) => onChange(name, e.target.value) },
    h("option", { value: "" }, title),
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

/** The API's query for the page's filters (dates are the viewer's local days). */
function apiQuery(state) {
  return {
    q: state.q, assistant: state.assistant, direction: state.direction, outcome: state.outcome,
    band: state.band, campaign: state.campaign, status: state.live ? "in-progress" : "",
    from: state.from ? dayStart(state.from) : "", to: state.to ? dayStart(state.to, 1) : "",
    limit: LIMIT, offset: state.offset || 0,
  };
}

function sentiment(call) {
  if (!call.sentimentLabel) return h("span", { class: "faint" }, "—");
  const cls = { positive: "pos", neutral: "neu", negative: "neg" }[call.sentimentLabel];
  return h("span", { class: "nowrap" }, h("span", { class: ["sentiment", cls] }), " ", label(call.sentimentLabel));
}

function columns(bands) {
  return [
    { title: "When", cell: (c) => h("span", { class: "nowrap" }, when(c.createdAt)) },
    { title: "Caller", cell: (c) => h("span", { class: "nowrap" }, h("span", { class: "faint", title: label(c.direction) }, c.direction === "outbound" ? "↗ " : "↙ "), otherParty(c) || "Unknown") },
    { title: "Assistant", cell: (c) => c.assistant || "—" },
    { title: "Duration", class: "right", cell: (c) => h("span", { class: "num" }, duration(c.durationSeconds)) },
    { title: "Outcome", cell: (c) => (c.endedAt ? outcomeBadge(c.outcome) : statusBadge(c.status)) },
    { title: "Score", class: "right", cell: (c) => scoreBadge(c.leadScore, bands) },
    { title: "Sentiment", cell: sentiment },
    { title: "Summary", class: "clip", cell: (c) => h("span", { title: c.summary || "" }, c.summary || h("span", { class: "faint" }, c.analysisStatus === "pending" ? "Analysing…" : "—")) },
  ];
}

export async function callsPage({ root, query }) {
  const state = Object.fromEntries(FILTERS.map((k) => [k, query[k] || ""]));
  state.offset = Number(query.offset || 0);
  const first = api("/api/calls", { query: apiQuery(state) }); // asked for beside the lists below
  first.catch(() => {}); // its error is shown by load()
  const [stages, book, campaignList] = await Promise.all([pipeline(), assistants(), campaigns()]);
  const results = h("div", { id: "calls-results" });
  let timer = null;

  const update = (name, value) => {
    state[name] = value;
    state.offset = 0;
    history.replaceState(null, "", "#/calls" + queryString({ ...state, offset: state.offset || "" }));
    load();
  };
  const search = h("input", {
    class: "search", type: "search", name: "q", placeholder: "Search transcripts…", value: state.q, "aria-label": "Search transcripts",
    oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => update("q", e.target.value.trim()), 250); },
  });
  const dates = ["from", "to"].map((name) => h("input", { type: "date", name, value: state[name], "aria-label": name === "from" ? "From date" : "To date", title: name === "from" ? "From" : "To", onchange: (e) => update(name, e.target.value) }));
  const filters = h("div", { class: "filter-rows" },
    h("div", { class: "filters" },
      h("div", { class: "search-wrap" }, icon("search"), search),
      dates[0], h("span", { class: "faint" }, "–"), dates[1]),
    h("div", { class: "filters" },
      select("assistant", "All assistants", book.data.map((a) => [a.name, a.name]), state.assistant, update),
      select("direction", "Both directions", [["inbound", "Inbound"], ["outbound", "Outbound"]], state.direction, update),
      select("outcome", "Any outcome", OUTCOMES.map((o) => [o, label(o)]), state.outcome, update),
      select("band", "Any band", stages.bands.map((b) => [b.name, label(b.name)]), state.band, update),
      select("campaign", "Any campaign", campaignList.data.map((c) => [c.id, c.name]), state.campaign, update),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "live", checked: Boolean(state.live), onchange: (e) => update("live", e.target.checked ? "1" : "") }), "Live only")));

  async function load(pending) {
    mount(results, h("div", { class: "loading" }, "Loading calls…"));
    let page;
    try {
      page = await (pending || api("/api/calls", { query: apiQuery(state) }));
    } catch (error) {
      mount(results, errorBox(error));
      return;
    }
    const filtered = FILTERS.some((k) => state[k]);
    if (!page.data.length) {
      mount(results, filtered
        ? emptyState("No calls match", state.q ? `Nothing said in a call matches “${state.q}” with these filters.` : "Try fewer filters or a wider date range.")
        : emptyState("No calls yet", "Calls appear here as soon as they start. Place a test call with phoneagent-call, or point a Twilio number at this server."));
      return;
    }
    mount(results,
      table({ columns: columns(stages.bands), rows: page.data, rowHref: (c) => `#/calls/${c.id}` }),
      pager({ total: page.total, limit: page.limit, offset: page.offset, onPage: (offset) => { state.offset = offset; history.replaceState(null, "", "#/calls" + queryString(state)); load(); } }));
    results.dataset.total = page.total;
  }

  mount(root,
    pageHeader({ title: "Calls", meta: "Every call, newest first. Search finds words said by either side." }),
    h("div", { class: "page-body" }, filters, card({ flush: true }, results)));
  await load(first);
}
