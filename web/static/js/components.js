// The pieces every page is made of: page header, cards, tables with paging, badges, dialogs.

import { h, icon } from "./dom.js";
import { count, label } from "./format.js";

const OUTCOME_TONES = {
  converted: "green", interested: "green", callback: "blue", transferred: "purple",
  not_interested: "red", wrong_number: "red", no_answer: "", voicemail: "",
};
const STATUS_TONES = {
  "in-progress": "blue", ringing: "blue", completed: "", active: "green", paused: "amber",
  scheduled: "blue", draft: "", archived: "", failed: "red", busy: "amber", "no-answer": "",
};

/** The title bar of a page: breadcrumbs, title, optional subtitle and actions. */
export function pageHeader({ title, crumbs = [], meta, actions = [] }) {
  return h("header", { class: "page-header" },
    h("div", null,
      crumbs.length ? h("div", { class: "crumbs" }, crumbs.flatMap((c, i) => [i ? " / " : "", h("a", { href: c.href }, c.text)])) : null,
      h("h1", null, title),
      meta ? h("div", { class: "meta-row", style: { marginTop: "4px" } }, meta) : null),
    h("div", { class: "page-actions" }, actions));
}

/** A card with a heading, optional sub-heading and actions. */
export function card({ title, sub, actions, flush = false, id }, ...body) {
  return h("section", { class: "card", id },
    title ? h("div", { class: "card-head" },
      h("h2", null, title, sub ? h("span", { class: "sub" }, "  ", sub) : null),
      actions ? h("div", { class: "page-actions" }, actions) : null) : null,
    h("div", { class: flush ? "card-body flush" : "card-body" }, body));
}

export function badge(text, tone = "", { dot = false, title } = {}) {
  return h("span", { class: ["badge", tone, dot && "dot"], title }, text);
}

export function outcomeBadge(outcome) {
  return outcome ? badge(label(outcome), OUTCOME_TONES[outcome] ?? "") : h("span", { class: "faint" }, "—");
}

export function statusBadge(status) {
  return badge(label(status), STATUS_TONES[status] ?? "", { dot: true });
}

/** The band a score falls in, from the pipeline's bands: {band, index}. */
export function bandOf(score, bands) {
  if (score === null || score === undefined || !bands) return null;
  const index = bands.findIndex((b) => score >= b.min && score <= b.max);
  return index < 0 ? null : { band: bands[index], index };
}

/** A score with its band's colour (cold → very hot). */
export function scoreBadge(score, bands) {
  if (score === null || score === undefined) return h("span", { class: "faint" }, "—");
  const found = bandOf(score, bands);
  const tone = found ? `band-${Math.round((found.index * 4) / Math.max(1, bands.length - 1))}` : "band-0";
  return h("span", { class: ["score", tone], title: found ? label(found.band.name) : "" }, String(score));
}

export function bandBadge(name, bands) {
  const index = (bands || []).findIndex((b) => b.name === name);
  if (index < 0) return name ? badge(label(name)) : h("span", { class: "faint" }, "—");
  const tone = `band-${Math.round((index * 4) / Math.max(1, bands.length - 1))}`;
  return h("span", { class: ["badge", tone] }, label(name));
}

/** What a list shows when it has nothing: a title and what to do about it. */
export function emptyState(title, text, { small = false } = {}) {
  return h("div", { class: ["empty", small && "small"] }, small ? null : icon("empty"), h("h3", null, title), text ? h("p", null, text) : null);
}

export function errorBox(error) {
  const fields = (error.body && error.body.fields) || [];
  return h("div", { class: "error-box", role: "alert" }, error.message,
    fields.length ? h("ul", null, fields.map((f) => h("li", null, `${f.field}: ${f.message}`))) : null);
}

export function loading(text = "Loading…") {
  return h("div", { class: "loading" }, text);
}

/** A table: columns [{title, cell(row), class}], rows, optional onRow(row) for clickable rows. */
export function table({ columns, rows, onRow, rowHref }) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "table" },
      h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.class }, c.title)))),
      h("tbody", null, rows.map((row) => h("tr", {
        class: onRow || rowHref ? "link" : null,
        dataset: rowHref ? { href: rowHref(row) } : undefined,
        onclick: onRow ? () => onRow(row) : rowHref ? (e) => { if (!e.target.closest("a")) location.hash = rowHref(row); } : null,
      }, columns.map((c, i) => h("td", { class: c.class },
        // The first cell is also a link, so a row can be reached with the keyboard.
        i === 0 && rowHref ? h("a", { class: "row-link", href: rowHref(row) }, c.cell(row)) : c.cell(row))))))));
}

/** "51–100 of 10,000" with previous / next. */
export function pager({ total, limit, offset, onPage }) {
  const last = Math.min(offset + limit, total);
  return h("div", { class: "pager" },
    h("span", { class: "num" }, total ? `${count(offset + 1)}–${count(last)} of ${count(total)}` : "0 results"),
    h("div", { class: "btns" },
      h("button", { class: "btn small", disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, "Previous"),
      h("button", { class: "btn small", disabled: last >= total, onclick: () => onPage(offset + limit) }, "Next")));
}

/** Key-value pairs as a definition list; pairs with an undefined value are left out. */
export function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "—")]));
}

/**
 * Ask before doing something that cannot be undone. With `typed`, the button stays
 * disabled until that word is typed. Resolves to true when confirmed.
 */
export function confirmDialog({ title, text, action, danger = false, typed }) {
  return new Promise((resolve) => {
    const input = typed ? h("input", { placeholder: typed, "aria-label": `Type ${typed} to confirm`, autocomplete: "off" }) : null;
    const ok = h("button", { class: ["btn", danger ? "danger solid" : "primary"], disabled: Boolean(typed), value: "ok" }, action);
    const dialog = h("dialog", { class: "confirm" },
      h("form", { method: "dialog" },
        h("div", { class: "body" }, h("h2", null, title), h("p", { class: "muted", style: { margin: 0 } }, text),
          typed ? h("label", { class: "muted" }, "Type ", h("b", null, typed), " to confirm") : null, input),
        h("div", { class: "foot" }, h("button", { class: "btn", value: "cancel" }, "Cancel"), ok)));
    if (input) input.addEventListener("input", () => { ok.disabled = input.value.trim() !== typed; });
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "ok"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

let toastTimer = null;
/** A short message in the corner. */
export function toast(message) {
  document.querySelector(".toast")?.remove();
  const node = h("div", { class: "toast", role: "status" }, message);
  document.body.append(node);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.remove(), 3500);
}
