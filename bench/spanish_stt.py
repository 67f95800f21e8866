"""Benchmark: Spanish STT word error rate and latency of the packaged multilingual Whisper base.

    python bench/spanish_stt.py [--windows 30 10] [--repeat 1] [--voice es]

Each sentence is spoken by espeak-ng, taken to 8 kHz mu-law (a phone line) and
back up to 16 kHz (what our pipeline feeds Whisper), then transcribed:

faster-whisper's own ``transcribe`` (the call path before ``voice.whisper_windows``) pads
every utterance to Whisper's 30 s window (``--windows 30``); a shorter window pads the
encoder input only to N seconds (patched here, outside the call code), everything else
unchanged. The last row, ``call path``, is ``WhisperEngine.transcribe`` as calls use it.

WER is over words lower-cased, without punctuation and accents (so "cuánto" and
"cuanto" count as one word). Prints one row per window and, with ``--show``, each
sentence's transcription.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from faster_whisper import transcribe as transcribe_module
from faster_whisper.audio import pad_or_trim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stt_scoring import RATE, phone, score  # noqa: E402
from telephony.simulator.caller_audio import speech_ulaw  # noqa: E402
from voice.engines import SpeechConfig, WhisperEngine, _load_whisper  # noqa: E402
from voice.packaged_whisper import default_cache_dir, multilingual_whisper_dir  # noqa: E402
from voice.stt import NO_SPEECH_THRESHOLD  # noqa: E402

SENTENCES = [
    "Hola, buenos días, llamo por el anuncio del apartamento.",
    "Quisiera saber cuánto cuesta el plan de internet.",
    "Me interesa una villa cerca de la playa.",
    "Estamos buscando algo para comprar este año.",
    "Mi presupuesto es de unos trescientos mil dólares.",
    "Prefiero una zona tranquila, lejos del centro.",
    "La decisión la tomo con mi esposa.",
    "¿Tienen apartamentos con vista al mar?",
    "Sí, me parece bien el jueves por la mañana.",
    "Ahora mismo pago demasiado por la fibra.",
    "¿La instalación es gratis?",
    "Me gustaría agendar una visita la próxima semana.",
    "No me interesa, gracias.",
    "Llámeme más tarde, por favor, ahora estoy ocupado.",
    "¿Cuál es la velocidad del plan más barato?",
    "Tengo tres hijos y necesitamos cuatro habitaciones.",
    "El precio me parece un poco caro.",
    "Vivo en Madrid, pero busco casa en la costa.",
    "Perfecto, muchas gracias por la información.",
    "¿Puedo hablar con un asesor, por favor?",
]


def phone_audio(text: str, voice: str, wpm: int) -> np.ndarray:
    """espeak-ng speech as a call delivers it: 8 kHz mu-law, resampled to 16 kHz float32."""
    return phone(speech_ulaw(text, voice=voice, words_per_minute=wpm))


@contextmanager
def encoder_window(seconds: float) -> Iterator[None]:
    """Pad faster-whisper's encoder input to ``seconds`` instead of 30 (the rest of its decoding,
    temperature fallback included, stays as it is)."""
    padded = transcribe_module.pad_or_trim
    frames = int(seconds * 100)
    transcribe_module.pad_or_trim = lambda array: pad_or_trim(array, length=frames)
    try:
        yield
    finally:
        transcribe_module.pad_or_trim = padded


def heard(engine: WhisperEngine, audio: np.ndarray, window: float) -> str:
    """faster-whisper's own transcription (the call path before voice.whisper_windows), with
    its encoder input padded to ``window`` seconds."""
    with encoder_window(window):
        segments, _ = engine.model.transcribe(
            audio,
            language="es",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        kept = [s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH_THRESHOLD]
    return " ".join(kept).strip()


def heard_now(engine: WhisperEngine, audio: np.ndarray) -> str:
    """What the call path passes on now (``WhisperEngine.transcribe``: 10 s windows)."""
    segments = engine.transcribe(audio, "es")
    return " ".join(t for t, _ in segments if t)  # "" where not speech, as in voice.stt


def _show(sentence: str, text: str) -> None:
    print(f"    {sentence!r} -> {text!r}")


def measure(label: str, transcribe, audios: list[np.ndarray], repeat: int, show: bool) -> None:
    items = list(zip(SENTENCES, audios, strict=True))
    result = score(transcribe, items, repeat=repeat, show=_show if show else None)
    print(
        f"{label:>16} | WER {result.wer:5.1f}% ({result.errors}/{result.words} words) | "
        f"latency p50 {result.p50:6.0f} ms, p95 {result.p95:6.0f} ms, "
        f"max {result.latencies[-1]:6.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=float, nargs="*", default=[30.0, 10.0])
    parser.add_argument("--repeat", type=int, default=1, help="transcriptions per sentence")
    parser.add_argument("--voice", default="es", help="espeak-ng voice (es, es-419)")
    parser.add_argument("--wpm", type=int, default=165, help="espeak-ng words per minute")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: as the server)")
    parser.add_argument("--show", action="store_true", help="print each transcription")
    args = parser.parse_args()

    folder = multilingual_whisper_dir(Path(os.environ.get("CACHE_DIR") or default_cache_dir()))
    started = time.perf_counter()
    engine = _load_whisper(
        folder, SpeechConfig(models_dir=Path("models"), stt_threads=args.threads)
    )
    print(
        f"Whisper base (multilingual) from {folder}, loaded in {time.perf_counter() - started:.2f}s"
    )
    audios = [phone_audio(s, args.voice, args.wpm) for s in SENTENCES]
    seconds = [len(a) / RATE for a in audios]
    print(
        f"{len(SENTENCES)} sentences, espeak-ng '{args.voice}' at {args.wpm} wpm, "
        f"{min(seconds):.1f}-{max(seconds):.1f} s of speech each; "
        f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    engine.transcribe(audios[0], "es")  # warm up
    for window in args.windows:
        label = f"{window:g} s window"
        measure(label, lambda a, w=window: heard(engine, a, w), audios, args.repeat, args.show)
    measure("call path", lambda a: heard_now(engine, a), audios, args.repeat, args.show)


if __name__ == "__main__":
    main()
