// The agent console: presence, queues, transfers offered as they arrive (with the live transcript),
// accept / decline, the disposition after the call, and the live calls of your queues to listen to.

import { api, session } from "../api.js";
import { badge, card, emptyState, pageHeader, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { clock } from "../format.js";
import { listenPanel } from "../listen.js";
import { liveTranscript } from "../live_transcript.js";

const PRESENCES = [["available", "Available"], ["busy", "Busy"], ["away", "Away"], ["offline", "Offline"]];
const DISPOSITIONS = ["resolved", "sale", "follow-up", "callback", "not-interested", "wrong-number", "other"];
const STATUS_TONES = { ringing: "blue", answered: "blue", bridged: "green", "no-answer": "red", declined: "", busy: "red", failed: "red" };

function dispositionForm(offer) {
  const select = h("select", { name: "disposition", class: "input" }, DISPOSITIONS.map((d) => h("option", { value: d }, d)));
  const note = h("textarea", { name: "note", rows: 2, placeholder: "Note for the lead", class: "input" });
  const done = h("span", { class: "muted" });
  const form = h("form", { class: "stack disposition", style: { gap: "8px" },
    onsubmit: async (event) => {
      event.preventDefault();
      await api(`/api/transfers/${offer.transferId}/disposition`, { method: "POST", body: { disposition: select.value, note: note.value || null } });
      done.textContent = "Saved on the lead.";
      form.dataset.saved = "true";
    } },
  h("label", { class: "muted" }, "After the call: disposition and note"), select, note,
  h("div", null, h("button", { class: "btn primary small", type: "submit" }, "Save"), " ", done));
  return form;
}

function offerCard(offer, onCleanup) {
  const status = h("span");
  const actions = h("div", { class: "page-actions" });
  const after = h("div");
  const lead = offer.lead || {};
  const node = card({ title: lead.name || offer.phone || "Caller", sub: offer.queue, id: `offer-${offer.transferId}` },
    h("div", { class: "stack", style: { gap: "12px" } },
      h("div", { class: "meta-row" }, status, h("span", { class: "muted" }, offer.phone || ""),
        lead.score != null ? badge(`Score ${lead.score}`, "") : null, lead.band ? badge(lead.band, "amber") : null),
      h("div", null, h("strong", null, "Reason: "), h("span", { class: "offer-reason" }, offer.reason || "—")),
      h("div", null, h("strong", null, "Summary: "), h("span", { class: "offer-summary" }, offer.summary || "—")),
      liveTranscript(offer.callId, onCleanup), actions, after));
  node.classList.add("offer");
  const update = (next) => {
    Object.assign(offer, next);
    node.dataset.status = offer.status;
    mount(status, badge(offer.accepted ? `${offer.status} · accepted` : offer.status, STATUS_TONES[offer.status] || "", { dot: true }));
    const open = ["offered", "ringing", "answered"].includes(offer.status);
    mount(actions, open && !offer.accepted ? [
      h("button", { class: "btn primary", dataset: { act: "accept" }, onclick: () => answer("accept") }, "Accept"),
      h("button", { class: "btn", dataset: { act: "decline" }, onclick: () => answer("decline") }, "Decline"),
    ] : null);
    if (["bridged", "transferred"].includes(offer.status) && !after.firstChild) mount(after, dispositionForm(offer));
  };
  const answer = async (act) => {
    const transfer = await api(`/api/transfers/${offer.transferId}/${act}`, { method: "POST" });
    if (act === "accept") update({ accepted: Boolean(transfer.acceptedAt) });
    toast(act === "accept" ? "Accepted: answer your phone." : "Declined.");
  };
  node.update = update;
  update({ accepted: Boolean(offer.acceptedAt) });
  return node;
}

function presenceToggle(me) {
  const group = h("div", { class: "segmented", role: "group", "aria-label": "Presence", id: "presence" });
  const draw = (current) => mount(group, PRESENCES.map(([value, text]) =>
    h("button", { class: value === current ? "on" : null, dataset: { presence: value }, onclick: async () => {
      const agent = await api(`/api/agents/${me.id}/presence`, { method: "PUT", body: { presence: value } });
      draw(agent.presence);
    } }, text)));
  draw(me.presence);
  group.show = draw;
  return group;
}

async function queuesCard() {
  const { data } = await api("/api/queues");
  return card({ title: "Queues" }, data.length
    ? h("div", { class: "stack", style: { gap: "6px" } }, data.map((q) =>
      h("div", { class: "meta-row", dataset: { queue: q.name } }, h("strong", null, q.name), h("span", { class: "muted" }, `${q.available} of ${q.agents} available`))))
    : emptyState("No queues", "An admin adds you to queues.", { small: true }));
}

function liveCallsCard(onCleanup) {
  const list = h("div", { class: "stack", id: "live-calls", style: { gap: "10px" } });
  const listen = h("div");
  const refresh = async () => {
    const { data } = await api("/api/console/calls");
    mount(list, data.length ? data.map((call) => h("div", { class: "meta-row live-call", dataset: { callId: call.callId } },
      h("span", null, call.phone || "Unknown"), h("span", { class: "muted" }, `${call.assistant} · ${clock(call.startedAt)}`),
      h("button", { class: "btn small", dataset: { act: "listen" }, onclick: () => mount(listen, listenPanel(call, onCleanup)) }, "Listen")))
      : h("span", { class: "muted" }, "No live call in your queues."));
  };
  refresh();
  const timer = setInterval(refresh, 3000);
  onCleanup(() => clearInterval(timer));
  return card({ title: "Live calls" }, list, listen);
}

export async function consolePage({ root, onCleanup }) {
  const who = await session.current();
  const me = who.role === "agent" ? await api("/api/agents/me") : null;
  const presence = me ? presenceToggle(me) : null;
  const offers = h("div", { class: "stack", id: "offers" }, h("div", { class: "muted", id: "no-offers" }, "No transfer offered right now."));
  const cards = new Map();
  const events = new EventSource("/api/console/events");
  events.addEventListener("hello", () => { root.dataset.connected = "true"; });
  events.addEventListener("offer", (event) => {
    const offer = JSON.parse(event.data);
    root.querySelector("#no-offers")?.remove();
    if (me && offer.agentId === me.id && offer.status === "bridged") presence?.show("busy"); // on the call now
    const known = cards.get(offer.transferId);
    if (known) return known.update(offer);
    const node = offerCard(offer, onCleanup);
    cards.set(offer.transferId, node);
    offers.prepend(node);
  });
  onCleanup(() => events.close());
  mount(root,
    pageHeader({ title: me ? `Agent console · ${me.name}` : "Agent console (admin)", actions: presence ? [presence] : [] }),
    h("div", { class: "page-body" },
      h("div", { class: "grid main-side" },
        h("div", { class: "stack" }, h("h2", { class: "muted", style: { margin: 0, fontSize: "14px" } }, "Transfers offered to you"), offers),
        h("div", { class: "stack" }, await queuesCard(), liveCallsCard(onCleanup)))));
}
