// Live calls: every call in progress on this server, and the one you pick with its transcript
// streaming as it is spoken (the console's server push) and a Listen button.

import { api } from "../api.js";
import { card, emptyState, pageHeader } from "../components.js";
import { h, mount } from "../dom.js";
import { clock } from "../format.js";
import { listenPanel } from "../listen.js";
import { liveTranscript } from "../live_transcript.js";

const REFRESH_MS = 2000;

function callRow(call, selected, pick) {
  return h("button", {
    class: ["live-call", "meta-row", call.callId === selected && "active"],
    dataset: { callId: call.callId },
    onclick: () => pick(call),
  },
  h("strong", null, call.phone || "Unknown caller"),
  h("span", { class: "muted" }, `${call.assistant || "—"} · ${call.direction} · ${call.provider} · since ${clock(call.startedAt)}`));
}

export async function livePage({ root, onCleanup }) {
  const list = h("div", { class: "stack", id: "live-calls", style: { gap: "8px" } });
  const detail = h("div", { id: "live-detail" });
  let selected = null;
  let following = [];
  const stopFollowing = () => { following.forEach((fn) => fn()); following = []; };
  onCleanup(stopFollowing);

  const pick = (call) => {
    stopFollowing();
    selected = call.callId;
    const cleanup = (fn) => following.push(fn);
    const listen = h("div");
    mount(detail, card({ title: call.phone || "Unknown caller", sub: call.assistant },
      h("div", { class: "stack", style: { gap: "12px" } },
        h("div", { class: "page-actions" },
          h("a", { class: "btn small", href: `#/calls/${encodeURIComponent(call.callId)}` }, "Call page"),
          h("button", { class: "btn small", dataset: { act: "listen" }, onclick: () => mount(listen, listenPanel(call, cleanup)) }, "Listen")),
        listen,
        liveTranscript(call.callId, cleanup))));
    refresh();
  };

  const refresh = async () => {
    const { data } = await api("/api/console/calls");
    root.dataset.liveCalls = String(data.length);
    mount(list, data.length
      ? data.map((call) => callRow(call, selected, pick))
      : emptyState("No call in progress", "Calls appear here as they start; pick one to follow its transcript.", { small: true }));
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  onCleanup(() => clearInterval(timer));

  mount(root,
    pageHeader({ title: "Live calls" }),
    h("div", { class: "page-body" },
      h("div", { class: "grid main-side" },
        detail,
        card({ title: "In progress" }, list))));
  mount(detail, card({}, emptyState("Pick a call", "Its transcript streams here as it is spoken.", { small: true })));
}
