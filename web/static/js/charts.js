// Charts drawn as SVG from the API's numbers: bars, horizontal bars, a stacked bar, a latency waterfall.

import { h, s } from "./dom.js";
import { count, ms } from "./format.js";

/**
 * A chart drawn at the width its box is given (and redrawn when that changes), so its text
 * stays at its real size on a wide screen and a laptop alike.
 */
function fitted(draw, name) {
  const box = h("div", { class: "chart-box", dataset: { chart: name } });
  let drawn = 0;
  new ResizeObserver(([entry]) => {
    const width = Math.max(240, Math.floor(entry.contentRect.width));
    if (width !== drawn) {
      drawn = width;
      box.replaceChildren(draw(width));
    }
  }).observe(box);
  return box;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * power >= value) * power;
  return step;
}

/** Vertical bars: [{label, value, title}], e.g. calls by hour or a score histogram. */
export function barChart(data, { height = 190, format = count, every = 1, name = "bar chart" } = {}) {
  return fitted((width) => bars(width, data, { height, format, every, name }), name);
}

function bars(width, data, { height, format, every, name }) {
  const left = 36, bottom = 22, top = 10, right = 6;
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  const plotH = height - top - bottom, plotW = width - left - right;
  const slot = plotW / Math.max(1, data.length);
  const y = (v) => top + plotH - (v / max) * plotH;
  const ticks = Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max];
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": name },
    ticks.map((t) => [
      s("line", { class: "grid-line", x1: left, x2: width - right, y1: y(t), y2: y(t) }),
      s("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end" }, format(t)),
    ]),
    data.map((d, i) => {
      const barH = Math.max(d.value ? 2 : 0, (d.value / max) * plotH);
      const x = left + i * slot + slot * 0.15;
      return [
        s("rect", { class: "bar", x, y: top + plotH - barH, width: slot * 0.7, height: barH, rx: 2, dataset: { value: d.value } },
          s("title", null, d.title || `${d.label}: ${format(d.value)}`)),
        i % every === 0 ? s("text", { x: x + slot * 0.35, y: height - 6, "text-anchor": "middle" }, d.label) : null,
      ];
    }),
    s("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
}

/** Horizontal bars with their values: [{label, value, cls, note}]; `max` fixes the scale. */
export function hbarChart(data, { max, format = count, labelWidth = 140, name = "bar chart" } = {}) {
  return fitted((width) => hbars(width, data, { max, format, labelWidth, name }), name);
}

function hbars(width, data, { max, format, labelWidth, name }) {
  const row = 30, valueW = 90;
  const height = data.length * row + 4;
  const top = Math.max(1, max ?? Math.max(0, ...data.map((d) => d.value)));
  const plotW = width - labelWidth - valueW;
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": name },
    data.map((d, i) => {
      const y = i * row + 4;
      const w = d.value ? Math.max(3, (d.value / top) * plotW) : 0;
      return s("g", { dataset: { label: d.label, value: d.value } },
        s("text", { x: 0, y: y + 15 }, d.label),
        s("rect", { x: labelWidth, y: y + 2, width: plotW, height: 18, rx: 4, fill: "#f1f2f4" }),
        s("rect", { class: d.cls || "bar", x: labelWidth, y: y + 2, width: w, height: 18, rx: 4 },
          s("title", null, `${d.label}: ${format(d.value)}`)),
        s("text", { class: "value-label", x: labelWidth + plotW + 10, y: y + 15 }, format(d.value), d.note ? s("tspan", { dx: 6 }, d.note) : null));
    }));
}

/** One bar split into parts: [{key, label, value, cls}], with a legend of counts. */
export function stackedBar(parts, { name = "stacked bar" } = {}) {
  const legend = h("div", { class: "legend" }, parts.map((p) =>
    h("span", { dataset: { state: p.key } }, h("i", { class: p.cls }), `${p.label} `, h("b", { class: "num" }, count(p.value)))));
  return h("div", null, fitted((width) => stack(width, parts, name), name), legend);
}

function stack(width, parts, name) {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  let x = 0;
  return s("svg", { class: "chart", viewBox: `0 0 ${width} 26`, role: "img", "aria-label": name },
    s("rect", { x: 0, y: 0, width: width, height: 26, rx: 6, fill: "#f1f2f4" }),
    parts.filter((p) => p.value).map((p) => {
      const w = (p.value / total) * width;
      const rect = s("rect", { class: p.cls, x, y: 0, width: w, height: 26 }, s("title", null, `${p.label}: ${count(p.value)}`));
      x += w;
      return rect;
    }));
}

export const LATENCY_STAGES = [
  { key: "end_of_speech_ms", label: "End of speech", cls: "s-eos" },
  { key: "stt_ms", label: "STT", cls: "s-stt" },
  { key: "llm_ttft_ms", label: "LLM first token", cls: "s-llm" },
  { key: "tools_ms", label: "Tools", cls: "s-tools" },
  { key: "sentence_ms", label: "First sentence", cls: "s-sentence" },
  { key: "tts_first_audio_ms", label: "TTS first audio", cls: "s-tts" },
];

/**
 * The latency waterfall: one row per bot turn, its stages laid end to end from the moment
 * the caller stopped, and a mark at the voice-to-voice total the server measured.
 * `turns` are [{label, latency}] with the per-turn latency the call stored.
 */
export function waterfall(turns) {
  const used = LATENCY_STAGES.filter((st) => turns.some((t) => t.latency[st.key] > 0));
  const legend = h("div", { class: "legend" },
    used.map((st) => h("span", null, h("i", { class: st.cls }), st.label)),
    h("span", null, "│ voice to voice (server side)"));
  return h("div", null, fitted((width) => falls(width, turns, used), "latency"), legend);
}

function falls(width, turns, used) {
  const labelW = 80, valueW = 70, row = 28, axis = 22;
  const plotW = width - labelW - valueW;
  const end = (t) => Math.max(t.latency.voice_to_voice_ms || 0, LATENCY_STAGES.reduce((sum, st) => sum + (t.latency[st.key] || 0), 0));
  const max = niceMax(Math.max(1, ...turns.map(end)));
  const x = (v) => labelW + (v / max) * plotW;
  const height = turns.length * row + axis;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  return s("svg", { class: "chart waterfall", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "latency waterfall" },
    ticks.map((t) => [
      s("line", { class: "grid-line", x1: x(t), x2: x(t), y1: 0, y2: height - axis }),
      s("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, ms(t)),
    ]),
    turns.map((t, i) => {
      const y = i * row + 5;
      let at = 0;
      const parts = used.map((st) => {
        const value = t.latency[st.key] || 0;
        const rect = value > 0 ? s("rect", { class: st.cls, x: x(at), y, width: Math.max(1, x(at + value) - x(at)), height: row - 10, rx: 2, dataset: { stage: st.key } },
          s("title", null, `${t.label} · ${st.label}: ${ms(value)}`)) : null;
        at += value;
        return rect;
      });
      const total = t.latency.voice_to_voice_ms;
      return s("g", { class: "turn" },
        s("text", { x: 0, y: y + 13 }, t.label),
        parts,
        total ? s("line", { class: "total-mark", x1: x(total), x2: x(total), y1: y - 2, y2: y + row - 8 }, s("title", null, `voice to voice: ${ms(total)}`)) : null,
        s("text", { class: "value-label", x: width - valueW + 8, y: y + 13 }, total ? ms(total) : "—"));
    }));
}
