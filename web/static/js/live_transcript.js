// A live call's transcript in the console: what was said so far, then each line as it is written
// (server-sent events from the call's journal). Each line keeps when it arrived (data-received-at).

import { h } from "./dom.js";

function lineNode(line) {
  const caller = line.role === "user";
  return h("div", { class: ["line", caller ? "user" : "assistant", line.interrupted && "interrupted"], dataset: { seq: line.seq, receivedAt: String(Date.now()) } },
    h("div", { class: "who" }, h("span", null, caller ? "Caller" : "Assistant")),
    h("div", { class: "bubble" }, line.text));
}

/** A call's transcript, following it live (server-sent events) until it ends. */
export function liveTranscript(callId, onCleanup) {
  const box = h("div", { class: "transcript follows console-transcript", dataset: { callId } });
  const source = new EventSource(`/api/calls/${encodeURIComponent(callId)}/live`);
  source.addEventListener("line", (event) => {
    const line = JSON.parse(event.data);
    const node = lineNode(line);
    const old = box.querySelector(`.line[data-seq="${line.seq}"]`);
    if (old) old.replaceWith(node); else box.append(node);
    box.scrollTop = box.scrollHeight;
  });
  source.addEventListener("end", (event) => {
    box.dataset.ended = JSON.parse(event.data).reason;
    source.close();
  });
  onCleanup(() => source.close());
  return box;
}

