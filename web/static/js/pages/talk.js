// The Talk panel of an assistant's page: a live call from the browser, its transcript as it is said.

import { badge, card } from "../components.js";
import { h, mount } from "../dom.js";
import { ms } from "../format.js";
import { TalkSession } from "../talk/session.js";

const STATES = {
  connecting: ["Connecting…", "blue"],
  live: ["Live", "green"],
  ended: ["Ended", ""],
};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
}

function lineNode(message) {
  const caller = message.role === "user";
  return h("div", { class: ["line", caller ? "user" : "assistant", message.interrupted && "interrupted"], dataset: { seq: message.seq, role: message.role } },
    h("div", { class: "who" }, h("span", null, caller ? "You" : "Assistant"),
      message.interrupted ? h("span", { class: "cut", title: "You spoke over this reply: the text is what you heard" }, "✂ cut off") : null),
    h("div", { class: "bubble" }, message.text));
}

/** Start a call with `assistant` in a panel; returns the panel. `onCleanup` registers the page's cleanup (the call ends with the page), `onEnded` is called when it ends. */
export function talkPanel(assistant, { onCleanup, onEnded = () => {} }) {
  const session = new TalkSession(assistant);
  const status = h("span", { id: "talk-state" });
  const level = h("span");
  const speaking = h("span", { class: "talk-speaking", hidden: true }, "Assistant speaking");
  const lines = h("div", { class: "transcript talk-lines", id: "talk-transcript" },
    h("div", { class: "faint talk-hint" }, "Say something once the assistant has greeted you."));
  const metrics = h("div", { class: "meta-row", id: "talk-metrics" });
  const after = h("div");
  const end = h("button", { class: "btn danger", id: "talk-end", onclick: () => session.hangUp() }, "End call");
  const panel = card({ title: `Talking to ${assistant}`, id: "talk", actions: [end] },
    h("div", { class: "stack", style: { gap: "12px" } },
      h("div", { class: "talk-bar" }, status, h("span", { class: "meter talk-level", title: "Your microphone" }, level), speaking),
      lines, metrics, after));
  panel.dataset.state = "connecting";
  const setStatus = (state) => {
    const [text, tone] = STATES[state] || [state, ""];
    mount(status, badge(text, tone, { dot: true }));
    panel.dataset.state = state;
  };
  setStatus("connecting");

  session.addEventListener("state", ({ detail }) => {
    setStatus(detail.state);
    if (detail.callId) panel.dataset.callId = detail.callId;
    if (detail.state === "ended") {
      end.disabled = true;
      onEnded();
      speaking.hidden = true;
      mount(after, session.callId
        ? h("p", { style: { margin: 0 } }, "The call is in the calls list, with its recording: ", h("a", { id: "talk-call", href: `#/calls/${session.callId}` }, "open it"), ".")
        : h("div", { class: "error-box" }, "The call could not be connected."));
    }
  });
  session.addEventListener("transcript", ({ detail }) => {
    lines.querySelector(".talk-hint")?.remove();
    const node = lineNode(detail);
    const old = lines.querySelector(`.line[data-seq="${detail.seq}"]`);
    if (old) old.replaceWith(node);
    else lines.append(node);
    lines.scrollTop = lines.scrollHeight;
  });
  session.addEventListener("level", ({ detail }) => {
    level.style.width = `${Math.min(100, Math.round(detail.rms * 400))}%`;
  });
  session.addEventListener("speaking", ({ detail }) => { speaking.hidden = !detail.speaking; });
  session.addEventListener("metrics", ({ detail }) => {
    panel.dataset.greetingMs = detail.greetingMs ?? "";
    panel.dataset.replies = detail.replies.join(",");
    mount(metrics,
      detail.greetingMs !== null ? h("span", null, "Greeting after ", h("b", { class: "num" }, ms(detail.greetingMs))) : null,
      detail.replies.length ? h("span", null, "Last reply after ", h("b", { class: "num" }, ms(detail.replies[detail.replies.length - 1]))) : null,
      detail.replies.length > 1 ? h("span", null, "median ", h("b", { class: "num" }, ms(median(detail.replies)))) : null,
      h("span", { class: "faint" }, "from the end of your speech to the first sound of the reply"));
  });
  session.addEventListener("error", ({ detail }) => mount(after, h("div", { class: "error-box", role: "alert" }, detail.message)));
  onCleanup(() => session.close());
  session.start().catch((error) => {
    session.close();
    setStatus("ended");
    end.disabled = true;
    onEnded();
    const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    mount(after, h("div", { class: "error-box", role: "alert" }, denied
      ? `The browser refused the microphone (${String(error.message).replace(/\.$/, "")}). Allow it for this site (served over https, or on localhost), then try again.`
      : `Could not start the call: ${error.message || error}`));
  });
  return panel;
}
