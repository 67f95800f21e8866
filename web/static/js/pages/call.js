// One call: transcript, tool calls, analysis, score explained, rule runs and the latency waterfall.

import { api } from "../api.js";
import { card, emptyState, pageHeader, statusBadge } from "../components.js";
import { waterfall } from "../charts.js";
import { h, mount } from "../dom.js";
import { duration, fullDate, label, who } from "../format.js";
import { analysis, ruleRuns, scoreExplanation, transcript } from "./call_parts.js";
import { lineOffsets, recordingCard } from "./recording.js";
import { otherParty, pipeline } from "./shared.js";

/** The bot turns that carry a latency breakdown, labelled for the chart. */
function latencyTurns(call) {
  let n = 0;
  return call.transcript
    .filter((u) => u.role === "assistant" && u.latency)
    .map((u) => ({ label: u.latency.kind === "greeting" ? "Greeting" : `Turn ${++n}`, latency: u.latency }));
}

function latencyCard(call) {
  const turns = latencyTurns(call);
  const summary = call.latency || {};
  const sub = summary.voice_to_voice_p50_ms ? `p50 ${Math.round(summary.voice_to_voice_p50_ms)} ms · p95 ${Math.round(summary.voice_to_voice_p95_ms)} ms` : null;
  return card({ title: "Latency per turn", sub, id: "latency" },
    turns.length
      ? waterfall(turns)
      : emptyState("No latency recorded", call.provider === "vapi" ? "Calls run on VAPI report no per-turn latency." : "The assistant did not reply on this call.", { small: true }));
}

export async function callPage({ root, params }) {
  const [call, stages] = await Promise.all([api(`/api/calls/${encodeURIComponent(params[0])}`), pipeline()]);
  const lead = call.leadId ? await api(`/api/leads/${call.leadId}`).catch(() => null) : null;
  const party = lead ? who(lead) : otherParty(call) || "Unknown caller";
  const meta = [
    h("span", null, h("b", null, label(call.direction)), " · ", fullDate(call.createdAt)),
    h("span", null, "Assistant ", h("b", null, call.assistant || "—")),
    h("span", null, "Duration ", h("b", { class: "num" }, duration(call.durationSeconds))),
    call.endReason ? h("span", null, "Ended ", h("b", null, label(call.endReason))) : statusBadge(call.status),
    call.campaignId ? h("a", { href: `#/campaigns/${call.campaignId}` }, "Campaign") : null,
    h("span", { class: "faint" }, label(call.provider)),
  ];
  const actions = lead ? [h("a", { class: "btn", href: `#/leads/${lead.id}` }, "Open lead")] : [];
  const offsets = new Map(lineOffsets(call).map((span) => [span.seq, span.start]));
  const lines = transcript(call, offsets);
  if (offsets.size) lines.classList.add("follows");
  mount(root,
    pageHeader({ title: `Call with ${party}`, crumbs: [{ text: "Calls", href: "#/calls" }], meta, actions }),
    h("div", { class: "page-body" },
      h("div", { class: "grid main-side" },
        h("div", { class: "stack" },
          recordingCard(call, offsets.size ? lines : null),
          card({ title: "Transcript", sub: "Assistant lines are what the caller heard", flush: true }, lines),
          latencyCard(call)),
        h("div", { class: "stack" },
          card({ title: "Score" }, scoreExplanation(call.analysis && call.analysis.score, stages.bands)),
          card({ title: "Analysis" }, analysis(call)),
          card({ title: "Rule runs" }, ruleRuns(call.automationRuns || []))))));
}
