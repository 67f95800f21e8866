// One lead: details, calls, stage history, notes, appointments, callbacks; stage moves, notes,
// do-not-call and GDPR export / erase (each asked for first).

import { api } from "../api.js";
import { badge, bandBadge, card, confirmDialog, emptyState, errorBox, kv, outcomeBadge, pageHeader, scoreBadge, statusBadge, table, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { duration, fullDate, label, when, who } from "../format.js";
import { go, forget } from "../router.js";
import { scoreExplanation } from "./call_parts.js";
import { pipeline } from "./shared.js";

function callsCard(calls, bands) {
  const columns = [
    { title: "When", cell: (c) => h("span", { class: "nowrap" }, when(c.createdAt)) },
    { title: "Direction", cell: (c) => label(c.direction) },
    { title: "Duration", class: "right", cell: (c) => h("span", { class: "num" }, duration(c.durationSeconds)) },
    { title: "Outcome", cell: (c) => (c.endedAt ? outcomeBadge(c.outcome) : statusBadge(c.status)) },
    { title: "Score", class: "right", cell: (c) => scoreBadge(c.leadScore, bands) },
  ];
  return card({ title: "Calls", sub: calls.length >= 20 ? "the 20 most recent" : null, flush: true, id: "lead-calls" },
    calls.length ? table({ columns, rows: calls, rowHref: (c) => `#/calls/${c.id}` }) : emptyState("No calls", "This lead has not been called and has not called.", { small: true }));
}

function historyCard(changes) {
  return card({ title: "Stage history", id: "stage-history" }, changes.length
    ? h("ul", { class: "timeline" }, changes.slice().reverse().map((c) => h("li", null,
      h("div", null, c.fromStage ? [label(c.fromStage), " → "] : "Entered ", h("b", null, label(c.toStage))),
      h("div", { class: "faint" }, `${fullDate(c.createdAt)} · ${c.actor || "system"}${c.reason ? ` · ${c.reason}` : ""}`))))
    : emptyState("No stage changes", null, { small: true }));
}

function notesCard(lead, reload) {
  const text = h("textarea", { rows: 2, placeholder: "Add a note…", name: "note", "aria-label": "New note" });
  const form = h("form", { class: "stack", style: { gap: "8px", marginBottom: "12px" }, onsubmit: async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    await api(`/api/leads/${lead.id}/notes`, { method: "POST", body: { body: text.value.trim() } });
    toast("Note added");
    reload();
  } }, text, h("div", null, h("button", { class: "btn small", type: "submit" }, "Add note")));
  return card({ title: "Notes", id: "notes" }, form, lead.notes.length
    ? h("ul", { class: "list" }, lead.notes.map((n) => h("li", null, h("div", { style: { whiteSpace: "pre-wrap" } }, n.body), h("div", { class: "faint" }, `${when(n.createdAt)} · ${n.author || "—"}`))))
    : h("div", { class: "faint" }, "No notes yet."));
}

function followUps(lead, tasks) {
  const visits = lead.appointments;
  return card({ title: "Appointments and callbacks", id: "follow-ups" },
    visits.length || tasks.length ? h("ul", { class: "list" },
      visits.map((a) => h("li", null, badge("Appointment", "accent"), " ", h("b", null, fullDate(a.startsAt)), ` ${a.title || ""} `, statusBadge(a.status))),
      tasks.map((t) => h("li", null, badge(t.kind === "callback" ? "Callback" : "Task", t.kind === "callback" ? "blue" : ""), " ", h("b", null, fullDate(t.dueAt)), ` ${t.title || ""} `, statusBadge(t.status),
        t.reason ? h("div", { class: "faint" }, t.reason) : null)))
      : emptyState("Nothing scheduled", null, { small: true }));
}

function moveCard(lead, stages, reload) {
  const stage = h("select", { name: "stage", "aria-label": "Stage" }, stages.stages.map((s) => h("option", { value: s.name, selected: s.name === lead.stage }, label(s.name))));
  const reason = h("input", { name: "reason", placeholder: "Reason (optional)", "aria-label": "Reason", style: { flex: "1 1 100px", minWidth: "0" } });
  const error = h("div");
  return card({ title: "Stage" }, h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/api/leads/${lead.id}/stage`, { method: "POST", body: { stage: stage.value, reason: reason.value || null } });
      forget("pipeline");
      toast(`Moved to ${label(stage.value)}`);
      reload();
    } catch (err) {
      mount(error, errorBox(err));
    }
  } }, stage, reason, h("button", { class: "btn", type: "submit" }, "Move")), error);
}

async function toggleDoNotCall(lead, reload) {
  const on = !lead.doNotCall;
  const yes = await confirmDialog(on
    ? { title: "Add to the do-not-call list?", text: `${who(lead)} (${lead.phone}) will not be dialled by any campaign, and callbacks skip them.`, action: "Do not call", danger: true }
    : { title: "Remove from the do-not-call list?", text: `Campaigns may call ${lead.phone} again.`, action: "Allow calls" });
  if (!yes) return;
  await api(`/api/leads/${lead.id}`, { method: "PATCH", body: { doNotCall: on } });
  toast(on ? "On the do-not-call list" : "Removed from the do-not-call list");
  reload();
}

async function exportData(lead) {
  const yes = await confirmDialog({
    title: "Export everything about this lead?",
    text: `A JSON file with all we hold about ${who(lead)}: the lead, calls, transcripts, notes, follow-ups. The export is recorded in the audit log.`,
    action: "Download",
  });
  if (!yes) return;
  const link = h("a", { href: `/api/leads/${lead.id}/export`, download: `lead-${lead.id}.json` });
  document.body.append(link);
  link.click(); // a plain GET: the session cookie goes with it
  link.remove();
}

async function erase(lead) {
  const yes = await confirmDialog({
    title: "Erase this lead?",
    text: `Everything about ${who(lead)} is deleted: the lead, notes, follow-ups, and the transcripts, tool calls and recordings of their calls. Calls stay as anonymous rows; the do-not-call entry stays. This cannot be undone.`,
    action: "Erase", danger: true, typed: "erase",
  });
  if (!yes) return;
  await api(`/api/leads/${lead.id}/erase`, { method: "POST" });
  forget("pipeline");
  toast("Lead erased");
  go("/leads");
}

export async function leadPage({ root, params }) {
  const reload = () => leadPage({ root, params });
  const id = encodeURIComponent(params[0]);
  const [lead, tasks, stages] = await Promise.all([api(`/api/leads/${id}`), api("/api/tasks", { query: { leadId: params[0], limit: 50 } }), pipeline()]);
  const meta = [
    lead.name ? h("span", null, h("b", null, lead.phone)) : null,
    lead.company ? h("span", null, lead.company) : null,
    badge(label(lead.stage), "accent"),
    h("span", null, "Score ", scoreBadge(lead.score, stages.bands)),
    lead.doNotCall ? badge("Do not call", "red", { dot: true }) : null,
  ];
  const actions = [
    h("button", { class: "btn", id: "export", title: "GDPR: everything we hold about this lead, as JSON", onclick: () => exportData(lead) }, "Export data"),
    h("button", { class: "btn", id: "dnc", onclick: () => toggleDoNotCall(lead, reload) }, lead.doNotCall ? "Allow calls" : "Do not call"),
    h("button", { class: "btn danger", id: "erase", onclick: () => erase(lead) }, "Erase"),
  ];
  const details = kv([
    ["Email", lead.email || "—"], ["Company", lead.company || "—"], ["Source", lead.source || "—"],
    ["Time zone", lead.timezone || "—"], ["Owner", lead.owner || "—"],
    ["Tags", lead.tags.length ? h("div", { class: "chips" }, lead.tags.map((t) => badge(t))) : "—"],
    ["Consent", ["calls", "recording", "marketing"].filter((k) => lead[`consent${k[0].toUpperCase()}${k.slice(1)}`]).map(label).join(", ") || "—"],
    ["Created", fullDate(lead.createdAt)], ["Last contacted", fullDate(lead.lastContactedAt)],
  ]);
  const bant = h("div", { class: "bant" }, ["budget", "authority", "need", "timeline"].map((k) => h("div", null, h("div", { class: "k" }, label(k)), h("div", null, lead[k] || h("span", { class: "faint" }, "Unknown")))));
  mount(root,
    pageHeader({ title: who(lead), crumbs: [{ text: "Leads", href: "#/leads" }], meta, actions }),
    h("div", { class: "page-body" },
      h("div", { class: "grid main-side" },
        h("div", { class: "stack" }, callsCard(lead.calls, stages.bands), notesCard(lead, reload), historyCard(lead.stageHistory)),
        h("div", { class: "stack" },
          moveCard(lead, stages, reload),
          card({ title: "Score" }, lead.scoreExplanation ? scoreExplanation({ value: lead.score, band: lead.band, explanation: lead.scoreExplanation }, stages.bands) : h("div", null, bandBadge(lead.band, stages.bands), h("span", { class: "faint" }, ` ${lead.score}: not scored by a call yet`))),
          card({ title: "BANT" }, bant),
          followUps(lead, tasks.data),
          card({ title: "Details" }, details)))));
}
