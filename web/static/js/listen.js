// Listen-in: a live call's audio, both sides, over a websocket, played a few hundred ms behind.
// Each binary message is one side's audio: a byte (0 the caller, 1 the assistant), its sample rate
// (uint32, little-endian), then 16-bit PCM.

import { api } from "./api.js";
import { badge, card, toast } from "./components.js";
import { h, mount } from "./dom.js";
import { liveTranscript } from "./live_transcript.js";

const LEAD_SECS = 0.25; // how far behind real time playback runs, to absorb jitter

function player() {
  let context = null;
  try { context = new AudioContext(); } catch { return () => {}; }
  const ends = [0, 0];
  return (side, rate, samples) => {
    const buffer = context.createBuffer(1, samples.length, rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const start = Math.max(ends[side], context.currentTime + LEAD_SECS);
    source.start(start);
    ends[side] = start + buffer.duration;
  };
}

/** A panel that listens to `call` until closed; the agent may take the call over from it. */
export function listenPanel(call, onCleanup) {
  const state = h("span");
  const counter = h("span", { class: "muted", id: "listen-frames" }, "0 frames");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/calls/${encodeURIComponent(call.callId)}/listen`);
  socket.binaryType = "arraybuffer";
  let play = () => {};
  let frames = 0;
  const panel = card({ title: `Listening to ${call.phone || "a call"}`, id: "listen" },
    h("div", { class: "stack", style: { gap: "10px" } },
      h("div", { class: "meta-row" }, state, counter),
      liveTranscript(call.callId, onCleanup),
      h("div", { class: "page-actions" },
        h("button", { class: "btn danger", id: "take-over", onclick: async () => {
          const transfer = await api(`/api/calls/${encodeURIComponent(call.callId)}/takeover`, { method: "POST" });
          panel.dataset.takeover = transfer.status;
          toast("Taking over: answer your phone.");
        } }, "Take over"),
        h("button", { class: "btn", onclick: () => socket.close() }, "Stop listening"))));
  const setState = (text, tone) => { mount(state, badge(text, tone, { dot: true })); panel.dataset.state = text; };
  setState("connecting", "blue");
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "start") { play = player(); setState("listening", "green"); }
      if (message.type === "end") setState("ended", "");
      return;
    }
    const view = new DataView(event.data);
    play(view.getUint8(0), view.getUint32(1, true), new Int16Array(event.data.slice(5)));
    frames += 1;
    panel.dataset.frames = String(frames);
    counter.textContent = `${frames} frames`;
  });
  socket.addEventListener("close", (event) => { if (panel.dataset.state !== "ended") setState(event.code === 1000 ? "closed" : `closed (${event.reason || event.code})`, ""); });
  onCleanup(() => socket.close());
  return panel;
}
