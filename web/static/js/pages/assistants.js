// Assistants: the files in use, unavailable ones and why, refused files by JSON path, reload.

import { api } from "../api.js";
import { badge, card, emptyState, errorBox, kv, pageHeader, toast } from "../components.js";
import { h, icon, mount } from "../dom.js";
import { fullDate, label, when } from "../format.js";
import { forget } from "../router.js";
import { talkPanel } from "./talk.js";

function problems(reload) {
  if (!reload || reload.ok) return null;
  return card({ title: "The last reload was refused", sub: "the assistants below stay in use", id: "reload-problems" },
    h("div", { class: "stack", style: { gap: "10px" } }, reload.problems.map((p) =>
      h("div", { class: "problem" },
        h("span", { class: "muted" }, "File"), h("span", { class: "mono" }, p.file || "—"),
        h("span", { class: "muted" }, "Where"), h("span", null, p.path ? h("span", { class: "path" }, p.path) : "—"),
        h("span", { class: "muted" }, "Problem"), h("span", null, p.message)))));
}

function availability(a) {
  return a.available ? badge("Available", "green", { dot: true }) : badge("Unavailable", "red", { dot: true, title: a.unavailableReason });
}

function numbers(a) {
  return a.phoneNumbers.map((n) => (typeof n === "string" ? n : n.number)).join(", ") || "no numbers";
}

/** One assistant: name, state, what it runs on, its tools; why it cannot take calls, if it cannot. */
function assistantRow(a) {
  return h("section", { class: "card assistant", dataset: { assistant: a.name } },
    h("div", { class: "card-body stack", style: { gap: "10px" } },
      h("div", { class: "assistant-head" },
        h("a", { href: `#/assistants/${encodeURIComponent(a.name)}` }, h("b", null, a.name)),
        a.default ? badge("default", "accent") : null,
        availability(a),
        h("span", { class: "meta-row", style: { marginLeft: "auto" } },
          h("span", null, a.language), h("span", null, numbers(a)), h("span", { class: "mono" }, a.file))),
      a.available ? null : h("div", { class: "error-box" }, a.unavailableReason),
      h("div", { class: "chips" }, a.tools.length
        ? a.tools.map((t) => badge(t.name, t.kind === "webhook" ? "blue" : "", { title: t.kind }))
        : h("span", { class: "faint" }, "No tools")),
      a.warnings.length ? h("details", { class: "warnings" }, h("summary", null, badge(`${a.warnings.length} warnings`, "amber")),
        h("ul", { class: "list", style: { marginTop: "8px" } }, a.warnings.map((w) => h("li", { class: "mono" }, w)))) : null));
}

export async function assistantsPage({ root }) {
  const book = await api("/api/assistants");
  const error = h("div");
  const reload = h("button", { class: "btn primary", id: "reload", onclick: async () => {
    reload.disabled = true;
    mount(error);
    try {
      const result = await api("/api/assistants/reload", { method: "POST" });
      const changes = ["added", "removed", "changed"].flatMap((k) => result.reload[k].map((n) => `${n} ${k}`));
      toast(changes.length ? `Reloaded: ${changes.join(", ")}` : "Reloaded: no changes");
    } catch (e) {
      if (e.status !== 422) mount(error, errorBox(e));
    }
    forget("assistants");
    await assistantsPage({ root });
  } }, "Reload files");
  mount(root,
    pageHeader({ title: "Assistants", meta: [h("span", null, "Folder ", h("b", { class: "mono" }, book.folder)), h("span", null, "Loaded ", h("b", null, when(book.loadedAt)))], actions: [reload] }),
    h("div", { class: "page-body" }, error, problems(book.lastReload),
      book.data.length
        ? h("div", { class: "stack", id: "assistant-list", style: { gap: "12px" } }, book.data.map(assistantRow))
        : card({}, emptyState("No assistants", "Add a JSON file to the assistants folder."))));
}

export async function assistantPage({ root, params, onCleanup }) {
  const a = await api(`/api/assistants/${encodeURIComponent(params[0])}`);
  const slot = h("div");
  const talk = h("button", {
    class: "btn primary", id: "talk-button", disabled: !a.available,
    title: a.available ? "Hold a call with this assistant from your microphone" : a.unavailableReason,
    onclick: () => {
      talk.disabled = true;
      mount(slot, talkPanel(a.name, { onCleanup, onEnded: () => { talk.disabled = false; } }));
    },
  }, icon("assistants"), "Talk");
  mount(root,
    pageHeader({ title: a.name, crumbs: [{ text: "Assistants", href: "#/assistants" }], meta: [availability(a), h("span", { class: "mono" }, a.file)], actions: [talk] }),
    h("div", { class: "page-body" },
      a.available ? null : h("div", { class: "error-box" }, a.unavailableReason),
      slot,
      h("div", { class: "grid main-side" },
        card({ title: "As the server reads it", sub: "defaults filled in, secrets hidden" }, h("pre", { class: "mono json" }, JSON.stringify(a.assistant, null, 2))),
        h("div", { class: "stack" },
          card({ title: "Runs on" }, kv([
            ["Provider", label(a.provider)], ["LLM", a.model.model || a.model.url || (a.model.provider || "server default")], ["Voice", a.voice], ["Transcriber", a.transcriber], ["Language", a.language],
            ["VAPI copy", a.vapi ? `${a.vapi.assistantId}${a.vapi.current === false ? " (file changed since the push)" : ""}` : "—"],
            ["Pushed", a.vapi && a.vapi.pushedAt ? fullDate(a.vapi.pushedAt) : undefined],
          ])),
          card({ title: "Warnings" }, a.warnings.length ? h("ul", { class: "list" }, a.warnings.map((w) => h("li", { class: "mono" }, w))) : h("div", { class: "faint" }, "None"))))));
}
