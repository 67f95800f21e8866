"""Benchmark: how well and how fast a bilingual call tells English from Spanish on a first line.

    python bench/language_detection.py [--show]

Each line is spoken by espeak-ng (en-us or es), taken through a phone line's 8 kHz
mu-law and back to 16 kHz, and given to ``voice.languages.LanguageDetector`` (Whisper
base's language detection among en and es, on a window sized to the speech, 10 s at
least) and, for comparison, to faster-whisper's own ``detect_language`` (a 30 s
window). Prints accuracy for full sentences and for one- or two-word answers, the
latency of each, and a transcription's for scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.spanish_stt import SENTENCES, phone_audio  # noqa: E402
from voice.engines import SpeechConfig, _load_whisper  # noqa: E402
from voice.languages import LanguageDetector  # noqa: E402
from voice.packaged_whisper import default_cache_dir, multilingual_whisper_dir  # noqa: E402

ENGLISH = [
    "Hi, I'm calling about the apartment in the ad.",
    "I'd like to know how much the internet plan costs.",
    "We are looking to buy something this year.",
    "My budget is about three hundred thousand dollars.",
    "Do you have apartments with a sea view?",
    "Yes, Thursday morning works for me.",
    "I'm not interested, thank you.",
    "Call me later please, I'm busy right now.",
    "What is the speed of the cheapest plan?",
    "Can I talk to an advisor, please?",
]
SHORT = [("Hello?", "en"), ("Yes.", "en"), ("Who is this?", "en"), ("Speaking.", "en")]
SHORT += [("¿Bueno?", "es"), ("Sí.", "es"), ("¿Quién habla?", "es"), ("Hola, diga.", "es")]
VOICES = {"en": "en-us", "es": "es"}


def run(label: str, detect, lines: list[tuple[str, str]], audios, show: bool) -> None:
    right, latencies = 0, []
    for (text, language), audio in zip(lines, audios, strict=True):
        started = time.perf_counter()
        guess = detect(audio)
        latencies.append((time.perf_counter() - started) * 1000)
        right += guess == language
        if show and guess != language:
            print(f"    {text!r} ({language}) heard as {guess}")
    print(
        f"{label:>34} | {right}/{len(lines)} right | "
        f"latency p50 {statistics.median(latencies):5.0f} ms, max {max(latencies):5.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", action="store_true", help="print each line heard wrong")
    args = parser.parse_args()
    folder = multilingual_whisper_dir(Path(os.environ.get("CACHE_DIR") or default_cache_dir()))
    engine = _load_whisper(folder, SpeechConfig(models_dir=Path("models")))
    ours = LanguageDetector(engine.model, ["en", "es"])

    def whispers(audio) -> str:  # faster-whisper's 30 s window, among en and es
        _, _, found = engine.model.detect_language(audio)
        scores = dict(found)
        return max(("en", "es"), key=lambda code: scores.get(code, 0.0))

    sentences = [(s, "es") for s in SENTENCES] + [(s, "en") for s in ENGLISH]
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, lines in (("sentences", sentences), ("short answers", SHORT)):
        audios = [phone_audio(text, VOICES[language], 165) for text, language in lines]
        ours(audios[0])  # warm up
        run(f"{name}, ours (10 s+ window)", lambda a: ours(a).code, lines, audios, args.show)
        run(f"{name}, faster-whisper (30 s)", whispers, lines, audios, args.show)
    audio = phone_audio(SENTENCES[0], "es", 165)
    started = time.perf_counter()
    engine.transcribe(audio, "es")
    elapsed_ms = 1000 * (time.perf_counter() - started)
    print(f"for scale: one transcription (30 s window) {elapsed_ms:.0f} ms")


if __name__ == "__main__":
    main()
