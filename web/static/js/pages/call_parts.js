// The parts of a call's page: transcript with tool calls, score explanation, analysis, rule runs.

import { badge, bandBadge, emptyState, kv, outcomeBadge } from "../components.js";
import { h } from "../dom.js";
import { clock, label, ms, signed, when } from "../format.js";

function json(value) {
  return h("pre", null, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function sentimentDot(value) {
  if (value === null || value === undefined) return null;
  const cls = value > 0.2 ? "pos" : value < -0.2 ? "neg" : "neu";
  return h("span", { class: ["sentiment", cls], title: `sentiment ${signed(value)}` });
}

function seekButton(at) {
  if (at === undefined || at === null || at < 0) return null;
  const text = `${Math.floor(at / 60)}:${String(Math.floor(at % 60)).padStart(2, "0")}`;
  return h("button", { class: "seek", type: "button", dataset: { at: at.toFixed(2) }, title: "Play the recording from here", "aria-label": `Play from ${text}` }, `▶ ${text}`);
}

function line(u, at) {
  const caller = u.role === "user";
  return h("div", { class: ["line", caller ? "user" : "assistant", u.interrupted && "interrupted"], dataset: { seq: u.seq, role: u.role } },
    h("div", { class: "who" },
      h("span", null, caller ? "Caller" : "Assistant"),
      h("span", { class: "faint" }, clock(u.startedAt)),
      seekButton(at),
      sentimentDot(u.sentiment),
      u.interrupted ? h("span", { class: "cut", title: "The caller spoke over this reply: the text is what they heard before it stopped" }, "✂ cut off") : null),
    h("div", { class: "bubble" }, u.text));
}

function toolCall(t) {
  return h("details", { class: "tool", dataset: { tool: t.name } },
    h("summary", null,
      h("span", { class: "mono" }, `${t.name}()`),
      t.ok ? badge("ok", "green") : badge("failed", "red"),
      h("span", { class: "faint" }, t.durationMs !== null && t.durationMs !== undefined ? ms(t.durationMs) : ""),
      h("span", { class: "faint", style: { marginLeft: "auto" } }, clock(t.createdAt))),
    h("div", { class: "label" }, "Arguments"), json(t.arguments ?? {}),
    h("div", { class: "label" }, t.ok ? "Result" : "Error"), json(t.ok ? t.result : t.error));
}

/** The transcript, with each tool call placed where it happened; `offsets` (seq → seconds into the recording) adds seek buttons. */
export function transcript(call, offsets = new Map()) {
  const items = [
    ...call.transcript.map((u) => ({ at: u.startedAt || "", order: 0, node: () => line(u, offsets.get(u.seq)) })),
    ...call.toolCalls.map((t) => ({ at: t.createdAt || "", order: 1, node: () => toolCall(t) })),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
  if (!items.length) return emptyState("Nothing was said", "No line was transcribed on this call.", { small: true });
  return h("div", { class: "transcript", id: "transcript" }, items.map((i) => i.node()));
}

/** The score, its band and every point explained. */
export function scoreExplanation(score, bands) {
  if (!score) return emptyState("Not scored yet", "The score appears once the call is analysed.", { small: true });
  const explanation = score.explanation || {};
  const components = Object.entries(explanation.components || {});
  const adjustments = Object.entries(explanation.adjustments || {});
  return h("div", { id: "score" },
    h("div", { class: "score-big" }, h("span", { class: "value num" }, String(score.value)), h("span", { class: "muted" }, "/ 100"), bandBadge(score.band, bands)),
    components.length ? h("div", { class: "components" }, components.map(([name, c]) =>
      h("div", { class: "component", dataset: { component: name } },
        h("div", { class: "row" }, h("span", null, label(name)), h("span", { class: "num" }, `${round(c.points)} / ${c.weight}`)),
        h("div", { class: "meter" }, h("span", { style: { width: `${Math.min(100, (c.points / (c.weight || 1)) * 100)}%` } })),
        c.detail ? h("div", { class: "faint", style: { fontSize: "12px" } }, c.detail) : null))) : null,
    h("ul", { class: "adjustments" },
      explanation.base !== undefined ? h("li", null, h("span", { class: "muted" }, "Components"), h("span", { class: "num" }, round(explanation.base))) : null,
      adjustments.map(([name, points]) => h("li", null, h("span", null, adjustmentLabel(name)),
        h("span", { class: ["num", points >= 0 ? "plus" : "minus"] }, `${points >= 0 ? "+" : ""}${round(points)}`))),
      h("li", null, h("b", null, "Total"), h("b", { class: "num" }, String(explanation.total ?? score.value)))));
}

function round(value) {
  return Math.round(Number(value) * 10) / 10;
}

function adjustmentLabel(name) {
  const [kind, rest] = name.split(/[.:](.*)/s);
  if (kind === "rule") return `Rule ${rest}`;
  if (kind === "bant") return `BANT: ${label(rest)}`;
  if (kind === "outcome") return `Outcome: ${label(rest)}`;
  return label(name);
}

function chips(values) {
  return values && values.length ? h("div", { class: "chips" }, values.map((v) => badge(String(v)))) : h("span", { class: "faint" }, "None");
}

/** Summary, sentiment, intent, outcome, objections, BANT and the assistant's own analysis. */
export function analysis(call) {
  const a = call.analysis || {};
  if (!a.status || a.status === "pending") return emptyState("Analysis pending", "The summary, sentiment and score appear a few seconds after the call ends.", { small: true });
  const bant = a.bant || {};
  return h("div", { class: "stack", id: "analysis", style: { gap: "14px" } },
    a.summary ? h("p", { style: { margin: 0 } }, a.summary) : null,
    kv([
      ["Outcome", outcomeBadge(a.outcome)],
      ["Intent", label(a.intent)],
      ["Sentiment", a.sentiment && a.sentiment.score !== null ? `${label(a.sentiment.label)} (${signed(a.sentiment.score)})` : "—"],
      ["Objections", chips(a.objections)],
      ["Competitors", chips(a.competitors)],
      ["Keywords", chips(a.keywords)],
      ["Success", a.successEvaluation ?? undefined],
      ["Analysed by", a.source === "fallback" ? h("span", { title: a.error || "" }, "Fallback rules (no LLM)") : a.source ? "LLM" : undefined],
    ]),
    h("div", null, h("h3", { style: { marginBottom: "8px" } }, "BANT"),
      h("div", { class: "bant" }, ["budget", "authority", "need", "timeline"].map((k) =>
        h("div", null, h("div", { class: "k" }, label(k)), h("div", null, bant[k] ?? h("span", { class: "faint" }, "Not said")))))),
    a.structuredData && Object.keys(a.structuredData).length ? h("div", null, h("h3", { style: { marginBottom: "8px" } }, "Structured data"), h("div", { class: "tool" }, json(a.structuredData))) : null);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function actionText(result) {
  const { action, ...rest } = result;
  const details = Object.entries(rest)
    .filter(([k]) => !k.endsWith("Id")) // row ids say nothing to a reader
    .map(([k, v]) => `${k}: ${typeof v === "string" && ISO_TIME.test(v) ? when(v) : typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(", ");
  return h("li", null, h("span", { class: "mono" }, action), details ? h("span", { class: "muted" }, ` — ${details}`) : null);
}

/** The automation rules this call triggered, with their checks and actions. */
export function ruleRuns(runs) {
  if (!runs.length) return emptyState("No rules ran", "No automation rule matched this call's events.", { small: true });
  const tone = { ok: "green", skipped: "", error: "red" };
  return h("ul", { class: "list", id: "rule-runs" }, runs.map((run) => {
    const result = run.result || {};
    return h("li", { dataset: { rule: run.ruleId } },
      h("div", { style: { display: "flex", gap: "8px", alignItems: "center" } },
        h("b", null, run.ruleId), badge(label(run.status), tone[run.status] ?? ""), h("span", { class: "faint" }, `on ${label(run.trigger)}`)),
      (result.conditions || []).length ? h("div", { class: "muted", style: { fontSize: "12.5px", marginTop: "4px" } },
        result.conditions.map((c) => `${c.ok ? "✓" : "✗"} ${c.field} ${c.operator} ${JSON.stringify(c.value)} (was ${JSON.stringify(c.actual)})`).join(" · ")) : null,
      (result.actions || []).length ? h("ul", { style: { margin: "6px 0 0", paddingLeft: "18px", fontSize: "13px" } }, result.actions.map(actionText)) : null,
      run.error ? h("div", { class: "error-box", style: { marginTop: "6px" } }, run.error) : null);
  }));
}
