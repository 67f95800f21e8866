// The Talk page's audio worklets: the microphone as 16 kHz PCM frames, and the assistant's PCM played
// back with its marks (a mark is reported once everything before it has played; "clear" drops the rest).

const LOUD = 0.02; // RMS (full scale 1) above which a frame counts as speech

/** A windowed-sinc low-pass FIR: `cutoff` is a fraction of the sample rate. */
function lowPass(cutoff, taps) {
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1));
    h[i] = sinc * window;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}

/** The microphone, low-passed and resampled to `targetRate`, posted as 20 ms Int16 frames with their loudness. */
class MicCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, frameMs = 20 } = (options && options.processorOptions) || {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.taps = lowPass(Math.min(0.5, (0.45 * targetRate) / sampleRate), 31);
    this.history = new Float32Array(this.taps.length - 1); // the last inputs, for the filter
    this.previous = 0; // the last filtered sample of the previous block
    this.position = 0; // where the next output sample falls, in filtered samples after `previous`
    this.frame = new Int16Array((targetRate * frameMs) / 1000);
    this.filled = 0;
    this.energy = 0;
    this.muted = false;
    this.port.onmessage = (event) => { if (event.data && event.data.type === "mute") this.muted = event.data.muted; };
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    const taps = this.taps, n = input.length, t = taps.length;
    const buffer = new Float32Array(t - 1 + n);
    buffer.set(this.history, 0);
    buffer.set(input, t - 1);
    const filtered = new Float32Array(n + 1);
    filtered[0] = this.previous;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let k = 0; k < t; k++) acc += taps[k] * buffer[i + k];
      filtered[i + 1] = acc;
    }
    this.history = buffer.slice(n);
    this.previous = filtered[n];
    // Linear interpolation between filtered samples: filtered[0] is the last of the block before.
    while (this.position < n) {
      const i = Math.floor(this.position);
      const frac = this.position - i;
      const value = this.muted ? 0 : filtered[i] + (filtered[i + 1] - filtered[i]) * frac;
      this.energy += value * value;
      this.frame[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(value * 32767)));
      if (this.filled === this.frame.length) this.flush();
      this.position += this.step;
    }
    this.position -= n;
    return true;
  }

  flush() {
    const rms = Math.sqrt(this.energy / this.frame.length);
    const pcm = this.frame.slice().buffer;
    this.port.postMessage({ pcm, rms, loud: rms > LOUD, at: currentTime }, [pcm]);
    this.filled = 0;
    this.energy = 0;
  }
}

/** Plays PCM at `sourceRate` (linear interpolation up to the context's rate); reports marks and when speech starts. */
class Speaker extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { sourceRate = 8000 } = (options && options.processorOptions) || {};
    this.step = sourceRate / sampleRate; // source samples per output sample
    this.queue = []; // {samples: Float32Array} or {mark: name}
    this.position = 0; // in the head chunk
    this.quietFor = Infinity; // output samples since the last loud one
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    if (message.type === "audio") {
      const pcm = new Int16Array(message.pcm);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
      this.queue.push({ samples });
    } else if (message.type === "mark") {
      this.queue.push({ mark: message.name });
    } else if (message.type === "clear") {
      this.queue = []; // a barge-in: what was not played is never heard, nor are its marks
      this.position = 0;
    }
  }

  /** The head chunk's sample `index` (past its end: the next chunk's first, so chunks join smoothly). */
  sample(index) {
    const head = this.queue[0].samples;
    if (index < head.length) return head[index];
    const next = this.queue[1];
    return next && next.samples ? next.samples[0] : head[head.length - 1];
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const channel = out[0];
    for (let i = 0; i < channel.length; i++) {
      while (this.queue.length && this.queue[0].mark !== undefined) {
        this.port.postMessage({ type: "mark", name: this.queue.shift().mark });
      }
      if (!this.queue.length) {
        channel[i] = 0;
        this.quietFor++;
        continue;
      }
      const index = Math.floor(this.position);
      const frac = this.position - index;
      const a = this.sample(index), b = this.sample(index + 1);
      const value = a + (b - a) * frac;
      channel[i] = value;
      if (Math.abs(value) > LOUD) {
        if (this.quietFor > sampleRate * 0.3) this.port.postMessage({ type: "speaking", at: currentTime + i / sampleRate });
        this.quietFor = 0;
      } else {
        this.quietFor++;
      }
      this.position += this.step;
      if (this.position >= this.queue[0].samples.length) {
        this.position -= this.queue[0].samples.length;
        this.queue.shift();
        if (!this.queue.length) this.port.postMessage({ type: "drained", at: currentTime + i / sampleRate });
      }
    }
    for (let c = 1; c < out.length; c++) out[c].set(channel);
    return true;
  }
}

registerProcessor("mic-capture", MicCapture);
registerProcessor("speaker", Speaker);
