// One Talk call: the microphone to the server, the assistant's audio to the speakers, over one websocket.
//
// Binary messages are 16-bit PCM (mic: 16 kHz up; assistant: the rate the server's "start" says, down);
// text messages are JSON: start, transcript, tool, mark, clear, end (down); mark, hangup (up).
// The page measures what the person experiences: from the end of their speech (the last loud
// microphone frame) to the first loud sample of the reply played, on the audio clock.

const WORKLETS = "/static/js/talk/worklets.js";

export class TalkSession extends EventTarget {
  constructor(assistant) {
    super();
    this.assistant = assistant;
    this.callId = null;
    this.state = "idle"; // idle, connecting, live, ended
    this.lines = new Map(); // seq → {role, text, interrupted}
    this.metrics = { greetingMs: null, replies: [] }; // replies: voice-to-voice ms
    this.speech = []; // the person's speech: [{start, end}] on the audio clock
    this.replyStarts = []; // when the assistant started to be heard, on the audio clock
    this.openedAt = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, detail) {
    this.state = state;
    this.emit("state", { state, ...detail });
  }

  /** Ask for the microphone, then open the call. Rejects when the microphone is refused. */
  async start() {
    this.setState("connecting");
    if (!navigator.mediaDevices || !window.AudioWorkletNode) {
      const error = new Error("This browser offers the microphone only to https:// or localhost pages (and needs AudioWorklet).");
      error.name = "SecurityError";
      throw error;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    this.context = new AudioContext({ latencyHint: "interactive" });
    await this.context.audioWorklet.addModule(WORKLETS);
    await this.context.resume();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/api/assistants/${encodeURIComponent(this.assistant)}/talk`);
    this.socket.binaryType = "arraybuffer";
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onclose = (event) => this.closed(event);
    this.socket.onerror = () => this.emit("error", { message: "The call could not be connected." });
  }

  /** The server is ready: wire the microphone and the speaker at the rates it gave. */
  begin(start) {
    this.callId = start.callId;
    this.openedAt = this.context.currentTime;
    this.speaker = new AudioWorkletNode(this.context, "speaker", {
      numberOfInputs: 0, outputChannelCount: [1], processorOptions: { sourceRate: start.outputRate },
    });
    this.speaker.port.onmessage = (event) => this.played(event.data);
    this.speaker.connect(this.context.destination);
    this.mic = new AudioWorkletNode(this.context, "mic-capture", {
      numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { targetRate: start.inputRate },
    });
    this.mic.port.onmessage = (event) => this.captured(event.data);
    const silent = this.context.createGain(); // pulls the capture node without playing the microphone
    silent.gain.value = 0;
    this.source = this.context.createMediaStreamSource(this.stream);
    this.source.connect(this.mic).connect(silent).connect(this.context.destination);
    this.setState("live", { callId: this.callId });
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      if (this.speaker) this.speaker.port.postMessage({ type: "audio", pcm: data }, [data]);
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "start") this.begin(message);
    else if (message.type === "mark" || message.type === "clear") {
      if (this.speaker) this.speaker.port.postMessage(message);
      if (message.type === "clear") this.emit("speaking", { speaking: false, cut: true });
    } else if (message.type === "transcript") {
      this.lines.set(message.seq, message);
      this.emit("transcript", message);
    } else if (message.type === "tool") this.emit("tool", message);
    else if (message.type === "end") this.endReason = message.reason;
    else if (message.type === "error") this.endReason = message.detail; // e.g. every line busy
  }

  captured(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(frame.pcm);
    if (frame.loud) {
      const last = this.speech[this.speech.length - 1];
      if (last && frame.at - last.end < 0.5) last.end = frame.at;
      else this.speech.push({ start: frame.at, end: frame.at });
      if (frame.at < this.replyStarts[this.replyStarts.length - 1]) this.measure(); // arrived late
    }
    this.emit("level", { rms: frame.rms });
  }

  /**
   * Greeting and voice-to-voice times from the two clocks' events. Worklets post on
   * separate ports, so events are matched by their audio-clock times, not by arrival.
   */
  measure() {
    const replies = [];
    let greetingMs = null;
    this.replyStarts.forEach((at, i) => {
      const before = this.replyStarts[i - 1] ?? -Infinity;
      const spoke = this.speech.filter((s) => s.end > before && s.end < at);
      if (spoke.length) replies.push(Math.round((at - spoke[spoke.length - 1].end) * 1000));
      else if (i === 0) greetingMs = Math.round((at - this.openedAt) * 1000);
    });
    this.metrics = { greetingMs, replies };
    this.emit("metrics", this.metrics);
  }

  played(event) {
    if (event.type === "mark") {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "mark", name: event.name }));
    } else if (event.type === "speaking") {
      this.replyStarts.push(event.at);
      this.emit("speaking", { speaking: true });
      this.measure();
    } else if (event.type === "drained") {
      this.emit("speaking", { speaking: false });
    }
  }

  /** End the call from the page; the server closes the socket once it is finalized. */
  hangUp() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hangup" }));
    else this.close();
  }

  closed(event) {
    this.close();
    this.setState("ended", { code: event.code, reason: this.endReason || event.reason });
  }

  /** Release the microphone and the audio (also when the page is left mid-call). */
  close() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close();
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    if (this.context && this.context.state !== "closed") this.context.close();
    this.stream = null;
  }
}
