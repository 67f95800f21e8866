// A call's recording: the player, and the transcript following the playhead (click a line to seek).

import { card, emptyState } from "../components.js";
import { h } from "../dom.js";
import { duration } from "../format.js";

/** Each transcript line's span in the recording, in seconds: [{seq, start, end}]. */
export function lineOffsets(call) {
  const rec = call.recording;
  if (!rec || !rec.path || !rec.startedAt) return [];
  const origin = Date.parse(rec.startedAt);
  return call.transcript.filter((u) => u.startedAt).map((u) => ({
    seq: u.seq,
    start: (Date.parse(u.startedAt) - origin) / 1000,
    end: (Date.parse(u.endedAt || u.startedAt) - origin) / 1000,
  }));
}

function size(bytes) {
  if (!bytes) return null;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} KB`;
}

/** The line playing at `t`: the last one started by then, while it lasts (and a moment after). */
function lineAt(spans, t) {
  let found = null;
  for (const span of spans) {
    if (span.start <= t + 0.05 && t <= Math.max(span.end, span.start + 1) + 0.5) found = span;
  }
  return found;
}

/** Keep the playing line marked and in view inside the transcript's own scroll box. */
function follow(audio, box, spans) {
  let current = null;
  const update = () => {
    const span = lineAt(spans, audio.currentTime);
    const seq = span ? String(span.seq) : null;
    if (seq === current) return;
    current = seq;
    box.querySelector(".line.playing")?.classList.remove("playing");
    const node = seq && box.querySelector(`.line[data-seq="${seq}"]`);
    if (!node) return;
    node.classList.add("playing");
    const top = node.offsetTop - box.scrollTop;
    if (top < 0 || top + node.offsetHeight > box.clientHeight) box.scrollTop = node.offsetTop - box.clientHeight / 3;
  };
  audio.addEventListener("timeupdate", update);
  audio.addEventListener("seeked", update);
  box.addEventListener("click", (event) => {
    const button = event.target.closest("button.seek");
    if (!button) return;
    audio.currentTime = Number(button.dataset.at);
    audio.play().catch(() => {});
  });
}

/**
 * The recording card. `box` is the transcript's element: it scrolls on its own, and its
 * lines light up as the recording plays.
 */
export function recordingCard(call, box) {
  const rec = call.recording;
  if (rec && rec.path) {
    const audio = h("audio", { id: "recording-audio", controls: true, preload: "metadata", src: rec.path });
    if (box) follow(audio, box, lineOffsets(call));
    const meta = [
      h("span", null, "Stereo: ", h("b", null, "caller"), " left, ", h("b", null, "assistant"), " right (as the caller heard it)"),
      rec.durationSeconds !== null ? h("span", null, "Length ", h("b", { class: "num" }, duration(rec.durationSeconds))) : h("span", null, "Recording…"),
      size(rec.bytes) ? h("span", null, h("b", { class: "num" }, size(rec.bytes))) : null,
      h("a", { href: rec.path, download: `call-${call.id}.ogg` }, "Download"),
    ];
    return card({ title: "Recording", id: "recording", sub: "the transcript follows the playhead" },
      h("div", { class: "player" }, audio, h("div", { class: "meta-row" }, meta)));
  }
  if (rec && rec.url) {
    return card({ title: "Recording", id: "recording" },
      h("p", { style: { margin: 0 } }, "The provider that carried this call keeps its recording: ",
        h("a", { href: rec.url, target: "_blank", rel: "noopener noreferrer" }, "open it there"), "."));
  }
  const why = call.provider === "vapi"
    ? "VAPI sent no recording for this call."
    : "Recording was off for this call's assistant (artifactPlan.recordingEnabled) or its lead refused consent, or the recording was purged.";
  return card({ title: "Recording", id: "recording" }, emptyState("Not recorded", why, { small: true }));
}
