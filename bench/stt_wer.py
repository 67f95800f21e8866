"""Benchmark: English STT word error rate and latency, Whisper's 30 s window against our 10 s one.

    python bench/stt_wer.py [--voices espeak piper] [--show] [--threads 2]

Each sentence is spoken by one of our voices (espeak-ng, the simulated callers' voice,
and Piper joe-medium, the bot's own), taken to 8 kHz mu-law (a phone line) and back up
to 16 kHz (what the pipeline feeds Whisper), then transcribed two ways on the default
model (tiny.en):

- ``full``: faster-whisper's own ``transcribe`` as the call path ran it before windows
  (every utterance padded to 30 s, its trailing silence appended, temperature fallback);
- ``window``: ``WhisperEngine.transcribe``, the call path now (10 s windows, greedy, capped).

Besides single sentences, passages of several sentences (15-25 s, over one window)
check that long speech is transcribed whole. WER is over lower-cased words without
punctuation; numbers count as Whisper writes them, so the references spell them out
where Whisper does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stt_scoring import RATE, phone, score  # noqa: E402
from telephony.simulator.caller_audio import _to_ulaw, speech_ulaw  # noqa: E402
from voice.engines import SpeechConfig, WhisperEngine, _load_whisper  # noqa: E402
from voice.model_files import piper_voice, whisper_dir  # noqa: E402
from voice.stt import NO_SPEECH_THRESHOLD  # noqa: E402

SENTENCES = [
    "Hello, I am calling about the invoice you sent last week.",
    "Can you tell me when the technician will arrive?",
    "I would like to cancel my subscription.",
    "Yes, that works for me.",
    "No, I don't think so.",
    "My account number is in the email you sent me.",
    "Could you please repeat that?",
    "I need to change the delivery address for my order.",
    "What time do you close on Fridays?",
    "The package arrived damaged and I want a refund.",
    "Please call me back tomorrow afternoon.",
    "I have been waiting on hold for a long time.",
    "Is there a discount for existing customers?",
    "I live on the corner of Maple Street and Second Avenue.",
    "Thank you so much for your help today.",
    "Can I speak to a manager, please?",
    "We are moving to a new house next month.",
    "The internet has been very slow since Monday.",
    "I would prefer an appointment in the morning.",
    "That sounds great, let's do it.",
    "How much does the premium plan cost per month?",
    "I forgot my password and cannot log in.",
    "Sorry, I did not catch your name.",
    "Do you deliver on weekends?",
]
# Passages over one 10 s window: the sentences above, read one after another with short pauses.
PASSAGES = [SENTENCES[i : i + n] for i, n in ((0, 4), (5, 5), (11, 4), (16, 6))]
PAUSE = b"\xff" * 2400  # 0.3 s of mu-law silence between a passage's sentences


def speakers(names: list[str]) -> dict[str, object]:
    """Each voice: a function from text to 8 kHz mu-law."""
    found: dict[str, object] = {}
    for name in names:
        if name == "espeak":
            found[name] = speech_ulaw
        elif name == "piper":
            from piper import PiperVoice

            voice = PiperVoice.load(str(piper_voice("", Path("models"))))
            rate = voice.config.sample_rate

            def piper(text: str, voice=voice, rate=rate) -> bytes:
                pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text))
                return _to_ulaw(np.frombuffer(pcm, dtype=np.int16) / 32768.0, rate)

            found[name] = piper
    return found


def full_window(engine: WhisperEngine, audio: np.ndarray) -> str:
    """The call path before windows: faster-whisper's transcribe, 30 s window, trailing silence."""
    silence = np.zeros(RATE, dtype=np.float32)  # pipecat's segmented STT appends 1 s
    segments, _ = engine.model.transcribe(
        np.concatenate([audio, silence]),
        language="en",
        beam_size=1,
        condition_on_previous_text=False,
        without_timestamps=True,
        vad_filter=False,
    )
    return " ".join(s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH_THRESHOLD)


def windowed(engine: WhisperEngine, audio: np.ndarray) -> str:
    """The call path now."""
    segments = engine.transcribe(audio, "en")
    return " ".join(t for t, _ in segments if t)  # "" where not speech, as in voice.stt


def _show(reference: str, text: str) -> None:
    print(f"      {reference!r}\n   -> {text!r}")


def measure(label: str, transcribe, items: list[tuple[str, np.ndarray]], show: bool) -> None:
    result = score(transcribe, items, show=_show if show else None)
    print(
        f"  {label:<28} WER {result.wer:5.1f}% ({result.errors:>3}/{result.words} words)  "
        f"p50 {result.p50:5.0f} ms  p95 {result.p95:5.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", nargs="*", default=["espeak", "piper"])
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: as the server)")
    parser.add_argument("--show", action="store_true", help="print each transcription")
    args = parser.parse_args()
    config = SpeechConfig(models_dir=Path("models"), stt_threads=args.threads)
    engine = _load_whisper(whisper_dir("", config.models_dir), config, "tiny.en")
    print(f"Whisper {engine.name}; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, speak in speakers(args.voices).items():
        lines = [(s, phone(speak(s))) for s in SENTENCES]
        passages = [(" ".join(p), phone(PAUSE.join(speak(s) for s in p))) for p in PASSAGES]
        secs = [len(a) / RATE for _, a in passages]
        print(
            f"{name}: {len(lines)} sentences, {len(passages)} passages "
            f"({min(secs):.1f}-{max(secs):.1f} s)"
        )
        windowed(engine, lines[0][1])  # warm up
        for label, transcribe in (("full 30 s", full_window), ("window 10 s", windowed)):
            run = lambda audio, t=transcribe: t(engine, audio)  # noqa: E731
            measure(f"{label}, sentences", run, lines, args.show)
            measure(f"{label}, passages", run, passages, args.show)


if __name__ == "__main__":
    main()
