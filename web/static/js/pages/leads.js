// Leads and the pipeline: a board of stages or a table, over GET /api/leads and /api/pipeline.

import { api, queryString } from "../api.js";
import { badge, bandBadge, card, emptyState, errorBox, pageHeader, pager, scoreBadge, table } from "../components.js";
import { h, icon, mount } from "../dom.js";
import { label, when, who } from "../format.js";
import { forget } from "../router.js";
import { pipeline } from "./shared.js";

const PER_COLUMN = 25;
const LIMIT = 50;

function leadCard(lead, bands) {
  return h("a", { class: "lead-card", href: `#/leads/${lead.id}`, dataset: { lead: lead.id } },
    h("div", { class: "top" }, h("span", { class: "name" }, who(lead)), scoreBadge(lead.score, bands)),
    [lead.company, lead.name ? lead.phone : null].some(Boolean) ? h("div", { class: "sub" }, [lead.company, lead.name ? lead.phone : null].filter(Boolean).join(" · ")) : null,
    lead.doNotCall ? h("div", null, badge("Do not call", "red")) : null);
}

async function board(container, stages, filters) {
  const columns = await Promise.all(stages.stages.map(async (stage) => {
    const page = await api("/api/leads", { query: { ...filters, stage: stage.name, sort: "-score", limit: PER_COLUMN } });
    return h("div", { class: "column", dataset: { stage: stage.name } },
      h("div", { class: "column-head" }, h("span", null, label(stage.name)), h("span", { class: "count num" }, String(page.total))),
      h("div", { class: "column-body" },
        page.data.map((lead) => leadCard(lead, stages.bands)),
        page.total > page.data.length ? h("a", { class: "more", href: "#/leads" + queryString({ ...filters, view: "table", stage: stage.name }) }, `${page.total - page.data.length} more`) : null,
        page.total ? null : h("div", { class: "more faint" }, "No leads")));
  }));
  mount(container, h("div", { class: "board", id: "board" }, columns));
}

async function leadTable(container, stages, filters, offset, onPage) {
  const page = await api("/api/leads", { query: { ...filters, limit: LIMIT, offset } });
  if (!page.data.length) {
    mount(container, card({ flush: true }, emptyState("No leads match", "Leads are created by calls, imports (POST /api/leads/import) and the API.")));
    return;
  }
  const columns = [
    { title: "Name", cell: (l) => h("b", null, who(l)) },
    { title: "Phone", cell: (l) => h("span", { class: "nowrap" }, l.phone) },
    { title: "Company", cell: (l) => l.company || "—" },
    { title: "Stage", cell: (l) => badge(label(l.stage)) },
    { title: "Score", class: "right", cell: (l) => scoreBadge(l.score, stages.bands) },
    { title: "Band", cell: (l) => bandBadge(l.band, stages.bands) },
    { title: "Last contacted", cell: (l) => h("span", { class: "nowrap" }, when(l.lastContactedAt)) },
    { title: "", cell: (l) => (l.doNotCall ? badge("Do not call", "red") : "") },
  ];
  mount(container, card({ flush: true },
    table({ columns, rows: page.data, rowHref: (l) => `#/leads/${l.id}` }),
    pager({ total: page.total, limit: page.limit, offset: page.offset, onPage })));
}

export async function leadsPage({ root, query }) {
  forget("pipeline"); // the counts of each stage, as of now
  const stages = await pipeline();
  const state = { view: query.view || "board", q: query.q || "", band: query.band || "", stage: query.stage || "", offset: Number(query.offset || 0) };
  const results = h("div", { id: "leads-results" });
  const sync = () => history.replaceState(null, "", "#/leads" + queryString({ ...state, offset: state.offset || "" }));
  let timer = null;

  async function load() {
    sync();
    mount(results, h("div", { class: "loading" }, "Loading leads…"));
    const filters = { q: state.q, band: state.band };
    try {
      if (state.view === "board") await board(results, stages, filters);
      else await leadTable(results, stages, { ...filters, stage: state.stage }, state.offset, (offset) => { state.offset = offset; load(); });
    } catch (error) {
      mount(results, errorBox(error));
    }
  }
  const set = (name, value) => { state[name] = value; state.offset = 0; load(); };
  const views = h("div", { class: "segmented", role: "group", "aria-label": "View" }, [["board", "Board"], ["table", "Table"]].map(([v, text]) =>
    h("button", { class: state.view === v ? "on" : null, dataset: { view: v }, onclick: (e) => {
      for (const b of views.children) b.classList.toggle("on", b === e.currentTarget);
      stageSelect.classList.toggle("hidden", v === "board");
      set("view", v);
    } }, text)));
  const stageSelect = h("select", { name: "stage", "aria-label": "Stage", class: state.view === "board" ? "hidden" : null, onchange: (e) => set("stage", e.target.value) },
    h("option", { value: "" }, "Any stage"), stages.stages.map((s) => h("option", { value: s.name, selected: s.name === state.stage }, label(s.name))));
  const filters = h("div", { class: "filters" },
    h("div", { class: "search-wrap" }, icon("search"), h("input", { class: "search", type: "search", placeholder: "Name, phone, email or company", value: state.q, "aria-label": "Search leads",
      oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => set("q", e.target.value.trim()), 250); } })),
    stageSelect,
    h("select", { name: "band", "aria-label": "Band", onchange: (e) => set("band", e.target.value) },
      h("option", { value: "" }, "Any band"), stages.bands.map((b) => h("option", { value: b.name, selected: b.name === state.band }, label(b.name)))));
  const total = stages.stages.reduce((sum, s) => sum + s.leads, 0);
  mount(root,
    pageHeader({ title: "Leads", meta: `${total.toLocaleString()} leads in ${stages.stages.length} stages`, actions: [views, h("a", { class: "btn", href: "/api/leads.csv", download: "leads.csv" }, "Export CSV")] }),
    h("div", { class: "page-body" }, filters, results));
  await load();
}
